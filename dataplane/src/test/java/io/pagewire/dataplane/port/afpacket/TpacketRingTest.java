package io.pagewire.dataplane.port.afpacket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.pagewire.dataplane.port.afpacket.TpacketLayout.BLOCK_STATUS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.NUM_PKTS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.OFFSET_TO_FIRST_PKT_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_LEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_MAC_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_NEXT_OFFSET_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_SNAPLEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_OFFSET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TPACKET_V3 ring flyweights on plain memory laid out as the kernel lays out its rings
 * (net/packet/af_packet.c: blocks start with a 48-byte descriptor, the first packet at offset 48, each packet's
 * frame at {@code tp_mac = 82} from its header, the next header at {@code ALIGN(tp_mac + tp_snaplen, 8)}).
 */
class TpacketRingTest
{
    private static final int BLOCK_SIZE = 4096;
    private static final int KERNEL_MAC = 82;
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private static int getInt(final long address)
    {
        return ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address);
    }

    private static void putInt(final long address, final int value)
    {
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address, value);
    }

    private static byte pattern(final int seed, final int i)
    {
        return (byte)(seed * 31 + i * 7);
    }

    /** Fills block {@code block} with frames of the given lengths as the kernel would and hands it to the user. */
    private static void kernelFills(final long ring, final int block, final int seed, final int... lengths)
    {
        final long b = ring + (long)block * BLOCK_SIZE;
        int offset = 48;
        putInt(b + OFFSET_TO_FIRST_PKT_OFFSET, offset);
        for (int p = 0; p < lengths.length; p++)
        {
            final long h = b + offset;
            putInt(h + TP_SNAPLEN_OFFSET, lengths[p]);
            putInt(h + TP_LEN_OFFSET, lengths[p]);
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, h + TP_MAC_OFFSET, (short)KERNEL_MAC);
            for (int i = 0; i < lengths[p]; i++)
            {
                ALL.set(ValueLayout.JAVA_BYTE, h + KERNEL_MAC + i, pattern(seed + p, i));
            }
            final int next = (KERNEL_MAC + lengths[p] + 7) & ~7;
            putInt(h + TP_NEXT_OFFSET_OFFSET, p == lengths.length - 1 ? 0 : next);
            offset += next;
        }
        putInt(b + NUM_PKTS_OFFSET, lengths.length);
        putInt(b + BLOCK_STATUS_OFFSET, 1);
    }

    private static int status(final long ring, final int block)
    {
        return getInt(ring + (long)block * BLOCK_SIZE + BLOCK_STATUS_OFFSET);
    }

    private static void assertFrame(final TpacketV3RxRing rx, final int i, final int seed, final int length)
    {
        assertEquals(length, rx.frameLength(i));
        final long address = rx.frameAddress(i);
        for (int k = 0; k < length; k++)
        {
            assertEquals(pattern(seed, k), ALL.get(ValueLayout.JAVA_BYTE, address + k), "byte " + k);
        }
    }

    private long ring(final int blocks)
    {
        return arena.allocate((long)BLOCK_SIZE * blocks, 4096).address();
    }

    @Test
    void nothingUntilTheKernelHandsABlockOver()
    {
        final long ring = ring(2);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 2, 0, 2040);
        assertEquals(0, rx.available());
        assertEquals(0, rx.available());
        assertEquals(0, rx.blocks());
    }

    @Test
    void walksABlockAndHandsItBackOnlyWhenEveryFrameIsReleased()
    {
        final long ring = ring(2);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 2, 0, 2040);
        kernelFills(ring, 0, 10, 60, 1514, 100);
        assertEquals(3, rx.available());
        assertFrame(rx, 0, 10, 60);
        assertFrame(rx, 1, 11, 1514);
        assertFrame(rx, 2, 12, 100);
        rx.release(2);
        assertEquals(1, status(ring, 0), "the block stays ours while a frame is unreleased");
        assertEquals(1, rx.available());
        assertFrame(rx, 0, 12, 100);
        rx.release(1);
        assertEquals(0, status(ring, 0), "handed back");
        assertEquals(0, rx.available());
    }

    @Test
    void blocksInOrderAcrossWrapAroundAndEmptyBlocksGoStraightBack()
    {
        final long ring = ring(3);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 3, 0, 2040);
        int seed = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int block = 0; block < 3; block++)
            {
                if (block == 1 && round == 2)
                {
                    kernelFills(ring, block, 0);
                    continue;
                }
                kernelFills(ring, block, seed, 64 + round, 1000);
                assertEquals(2, rx.available(), "round " + round + " block " + block);
                assertFrame(rx, 0, seed, 64 + round);
                assertFrame(rx, 1, seed + 1, 1000);
                rx.release(2);
                assertEquals(0, status(ring, block));
                seed += 2;
            }
        }
        assertEquals(0, rx.available());
        for (int block = 0; block < 3; block++)
        {
            assertEquals(0, status(ring, block), "block " + block);
        }
        assertEquals(15, rx.blocks());
    }

    @Test
    void truncatedAndTooLongFramesHaveLengthMinusOneAndAreCounted()
    {
        final long ring = ring(1);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 1, 0, 1000);
        kernelFills(ring, 0, 1, 100, 1001, 200);
        putInt(ring + 48 + TP_LEN_OFFSET, 5000);
        assertEquals(3, rx.available());
        assertEquals(-1, rx.frameLength(0));
        assertEquals(-1, rx.frameLength(1));
        assertFrame(rx, 2, 3, 200);
        assertEquals(1, rx.truncatedFrames());
        assertEquals(1, rx.tooLongFrames());
        assertEquals(0, rx.badFrames());
    }

    @Test
    void theVlanTagTheKernelTookOffIsPutBack()
    {
        final long ring = ring(1);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 1, 0, 1000);
        kernelFills(ring, 0, 5, 100, 200);
        final long header = ring + 48;
        putInt(header + TP_STATUS_OFFSET, TpacketLayout.TP_STATUS_VLAN_VALID);
        putInt(header + TpacketLayout.TP_VLAN_TCI_OFFSET, 0x2123);
        assertEquals(2, rx.available());
        assertEquals(104, rx.frameLength(0));
        assertEquals(header + KERNEL_MAC - 4, rx.frameAddress(0));
        assertTrue(rx.vlanInserted(0));
        final long f = rx.frameAddress(0);
        for (int k = 0; k < 12; k++)
        {
            assertEquals(pattern(5, k), ALL.get(ValueLayout.JAVA_BYTE, f + k), "MAC byte " + k);
        }
        assertEquals((byte)0x81, ALL.get(ValueLayout.JAVA_BYTE, f + 12));
        assertEquals((byte)0x00, ALL.get(ValueLayout.JAVA_BYTE, f + 13));
        assertEquals((byte)0x21, ALL.get(ValueLayout.JAVA_BYTE, f + 14));
        assertEquals((byte)0x23, ALL.get(ValueLayout.JAVA_BYTE, f + 15));
        for (int k = 12; k < 100; k++)
        {
            assertEquals(pattern(5, k), ALL.get(ValueLayout.JAVA_BYTE, f + 4 + k), "byte " + k);
        }
        assertFalse(rx.vlanInserted(1));
        assertFrame(rx, 1, 6, 200);
    }

    @Test
    void hostileOffsetsEndTheWalkInsideTheBlock()
    {
        final long ring = ring(1);
        final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 1, 0, 4096);

        kernelFills(ring, 0, 1, 100, 100);
        putInt(ring + OFFSET_TO_FIRST_PKT_OFFSET, BLOCK_SIZE - 10);
        assertEquals(0, rx.available(), "first packet outside the block");
        assertEquals(2, rx.badFrames());
        assertEquals(0, status(ring, 0), "handed back even so");

        kernelFills(ring, 0, 1, 100, 100, 100);
        putInt(ring + 48 + TP_NEXT_OFFSET_OFFSET, 1 << 30);
        assertEquals(1, rx.available(), "the second packet's offset leaves the block");
        rx.release(1);
        assertEquals(4, rx.badFrames());

        kernelFills(ring, 0, 1, 100, 100);
        putInt(ring + 48 + TP_SNAPLEN_OFFSET, BLOCK_SIZE);
        putInt(ring + 48 + TP_LEN_OFFSET, BLOCK_SIZE);
        assertEquals(0, rx.available(), "tp_mac + tp_snaplen past the block");
        assertEquals(6, rx.badFrames());

        kernelFills(ring, 0, 1, 100);
        putInt(ring + NUM_PKTS_OFFSET, -1);
        final int available = rx.available();
        assertEquals(1, available, "num_pkts = 2^32 - 1: the one real packet, the walk stops at the next offset 0");
        final long end = ring + BLOCK_SIZE;
        assertTrue(rx.frameAddress(0) >= ring && rx.frameAddress(0) + 100 <= end);
        rx.release(1);
        assertEquals(6 + 0xFFFFFFFEL, rx.badFrames());

        kernelFills(ring, 0, 1, 100, 100);
        putInt(ring + 48 + TP_NEXT_OFFSET_OFFSET, 0);
        assertEquals(1, rx.available(), "tp_next_offset 0 before the last packet would loop");
    }

    @Test
    void transmitSlotsWalkBlocksAndWaitForTheKernel()
    {
        final int frameSize = 1280;
        final int blocks = 2;
        final long ring = ring(blocks);
        final TpacketTxRing tx = new TpacketTxRing(ring, BLOCK_SIZE, blocks, frameSize, 0, 1200);
        assertEquals(6, tx.frameCount(), "3 slots per 4096-byte block, the rest of each block unused");
        final long[] slots = {0, 1280, 2560, 4096, 4096 + 1280, 4096 + 2560};
        for (int round = 0; round < 3; round++)
        {
            for (int n = 0; n < 6; n++)
            {
                final long slot = ring + slots[n];
                final long data = tx.claim(100 + n);
                assertEquals(slot + 48, data, "slot " + n);
                tx.commit(100 + n);
                assertEquals(1, getInt(slot + TP_STATUS_OFFSET), "TP_STATUS_SEND_REQUEST");
                assertEquals(100 + n, getInt(slot + TP_LEN_OFFSET));
                assertEquals(100 + n, getInt(slot + TP_SNAPLEN_OFFSET));
                assertEquals(0, getInt(slot + TP_NEXT_OFFSET_OFFSET));
            }
            assertEquals(6, tx.takeCommitted());
            assertEquals(0, tx.takeCommitted());
            assertEquals(0, tx.claim(100), "every slot waits for the kernel");
            assertEquals(3 * round + 1, tx.ringFull());
            putInt(ring + slots[0] + TP_STATUS_OFFSET, 2);
            assertEquals(0, tx.claim(100), "TP_STATUS_SENDING is still the kernel's");
            for (final long s : slots)
            {
                putInt(ring + s + TP_STATUS_OFFSET, 0);
            }
            assertEquals(0, tx.claim(100), "sent, but not reaped yet: every slot is still on the ring");
            assertEquals(0, tx.reap());
            assertEquals(6L * (round + 1), tx.sent());
            assertEquals(0, tx.onRing());
        }
        assertEquals(0, tx.claim(1201), "longer than the slot allows");
        assertEquals(18, tx.committed());
    }

    @Test
    void theReapCountsWhatTheKernelTookAndStopsWhereItStopped()
    {
        final long ring = ring(1);
        final TpacketTxRing tx = new TpacketTxRing(ring, BLOCK_SIZE, 1, 1024, 0, 900);
        for (int n = 0; n < 4; n++)
        {
            tx.claim(60 + n);
            tx.commit(60 + n);
        }
        assertEquals(0, tx.reap(), "nothing taken yet");
        assertEquals(0, tx.sent());
        assertEquals(4, tx.onRing());
        // The kernel took two (one sent and freed, one still in the qdisc) and stopped at the third (send buffer).
        putInt(ring + TP_STATUS_OFFSET, 0);
        putInt(ring + 1024 + TP_STATUS_OFFSET, 2);
        assertEquals(0, tx.reap());
        assertEquals(2, tx.sent());
        assertEquals(2, tx.onRing());
        assertEquals(ring + 48, tx.claim(60), "the first slot is free again");
        tx.abandon();
        putInt(ring + 2048 + TP_STATUS_OFFSET, 2);
        putInt(ring + 3072 + TP_STATUS_OFFSET, 2);
        tx.reap();
        assertEquals(4, tx.sent());
        assertEquals(0, tx.refused());
        assertEquals(0, tx.onRing());
    }

    @Test
    void aFrameTheKernelRefusedIsDroppedAndTheFramesAfterItMoveUpInOrder()
    {
        final long ring = ring(1);
        final TpacketTxRing tx = new TpacketTxRing(ring, BLOCK_SIZE, 1, 1024, 0, 900);
        for (int n = 0; n < 4; n++)
        {
            final long data = tx.claim(100 + n);
            MemorySegment.ofAddress(data).reinterpret(100 + n).fill((byte)n);
            tx.commit(100 + n);
        }
        // The kernel sent frame 0 and refused frame 1: it leaves TP_STATUS_WRONG_FORMAT there and its index with it.
        putInt(ring + TP_STATUS_OFFSET, 2);
        putInt(ring + 1024 + TP_STATUS_OFFSET, 4);
        assertEquals(1, tx.reap(), "one refused: kick again");
        assertEquals(1, tx.sent());
        assertEquals(1, tx.refused());
        assertEquals(2, tx.onRing(), "frames 2 and 3 wait");
        for (int slot = 1; slot <= 2; slot++)
        {
            final long s = ring + 1024L * slot;
            final int length = 100 + slot + 1;
            assertEquals(1, getInt(s + TP_STATUS_OFFSET), "slot " + slot + " requested again");
            assertEquals(length, getInt(s + TP_LEN_OFFSET));
            assertEquals(length, getInt(s + TP_SNAPLEN_OFFSET));
            assertEquals(slot + 1, ALL.get(ValueLayout.JAVA_BYTE, s + 48 + length - 1), "frame " + (slot + 1));
        }
        assertEquals(0, getInt(ring + 3072 + TP_STATUS_OFFSET), "the last slot given back");
        assertEquals(ring + 3072 + 48, tx.claim(60), "and claimed next, after the frames that moved");
        tx.commit(60);
        // The kernel's next kick starts at slot 1, now frame 2, and refuses it too; then sends the rest.
        putInt(ring + 1024 + TP_STATUS_OFFSET, 4);
        assertEquals(1, tx.reap());
        assertEquals(3, ALL.get(ValueLayout.JAVA_BYTE, ring + 1024 + 48 + 102), "frame 3 moved up again");
        assertEquals(60, getInt(ring + 2048 + TP_LEN_OFFSET), "then the new frame");
        assertEquals(0, getInt(ring + 3072 + TP_STATUS_OFFSET));
        putInt(ring + 1024 + TP_STATUS_OFFSET, 0);
        putInt(ring + 2048 + TP_STATUS_OFFSET, 0);
        assertEquals(0, tx.reap());
        assertEquals(3, tx.sent());
        assertEquals(2, tx.refused());
        assertEquals(0, tx.onRing());
        assertEquals(5, tx.committed(), "committed = sent + refused + on the ring");
    }

    @Test
    void aRefusedLastFrameLeavesAnEmptyRingAtItsSlot()
    {
        final long ring = ring(1);
        final TpacketTxRing tx = new TpacketTxRing(ring, BLOCK_SIZE, 1, 1024, 0, 900);
        tx.claim(10);
        tx.commit(10);
        putInt(ring + TP_STATUS_OFFSET, 4);
        assertEquals(1, tx.reap());
        assertEquals(0, tx.onRing());
        assertEquals(0, getInt(ring + TP_STATUS_OFFSET), "given back");
        assertEquals(ring + 48, tx.claim(60), "where the kernel's index waits");
    }

    @Test
    void framesMovedUpAfterARefusedOneWrapAroundTheRingAndCrossBlocks()
    {
        final int frameSize = 1280;
        final long ring = ring(2);
        final TpacketTxRing tx = new TpacketTxRing(ring, BLOCK_SIZE, 2, frameSize, 0, 1200);
        final long[] slots = {0, 1280, 2560, 4096, 4096 + 1280, 4096 + 2560};
        for (int n = 0; n < 6; n++)
        {
            final long data = tx.claim(100 + n);
            MemorySegment.ofAddress(data).reinterpret(100 + n).fill((byte)n);
            tx.commit(100 + n);
        }
        for (int n = 0; n < 4; n++)
        {
            putInt(ring + slots[n] + TP_STATUS_OFFSET, 0);
        }
        assertEquals(0, tx.reap());
        assertEquals(4, tx.sent());
        for (int n = 6; n < 8; n++)
        {
            final long data = tx.claim(100 + n);
            assertEquals(ring + slots[n - 6] + 48, data, "wrapped to slot " + (n - 6));
            MemorySegment.ofAddress(data).reinterpret(100 + n).fill((byte)n);
            tx.commit(100 + n);
        }
        // On the ring: frames 4, 5 (block 1), 6, 7 (block 0, after the wrap). The kernel refuses frame 4.
        putInt(ring + slots[4] + TP_STATUS_OFFSET, 4);
        assertEquals(1, tx.reap());
        assertEquals(3, tx.onRing());
        final int[] expected = {5, 6, 7};
        final long[] at = {slots[4], slots[5], slots[0]};
        for (int i = 0; i < 3; i++)
        {
            final int length = 100 + expected[i];
            assertEquals(1, getInt(ring + at[i] + TP_STATUS_OFFSET), "requested: frame " + expected[i]);
            assertEquals(length, getInt(ring + at[i] + TP_LEN_OFFSET));
            assertEquals(expected[i], ALL.get(ValueLayout.JAVA_BYTE, ring + at[i] + 48 + length - 1));
        }
        assertEquals(0, getInt(ring + slots[1] + TP_STATUS_OFFSET), "the slot frame 7 left is free");
        assertEquals(ring + slots[1] + 48, tx.claim(60), "and the next claim's");
    }
}
