package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every field of the descriptor, available ring, used ring and net header sits at the spec's byte offset, in
 * little-endian order: checked on raw bytes, not through the code's own offset constants.
 */
class LayoutTest
{
    private static final int N = 8;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(1 << 20);
    private final TestVirtqueue queue = TestVirtqueue.of(guest, N);

    @AfterEach
    void tearDown()
    {
        guest.close();
    }

    private int u8(final long guestAddress)
    {
        return guest.get(guestAddress, 1)[0] & 0xFF;
    }

    private long le(final long guestAddress, final int bytes)
    {
        final byte[] raw = guest.get(guestAddress, bytes);
        long value = 0;
        for (int i = bytes - 1; i >= 0; i--)
        {
            value = (value << 8) | (raw[i] & 0xFF);
        }
        return value;
    }

    @Test
    void sizesMatchTheSpec()
    {
        // §2.7: desc 16*N; avail 6+2*N; used 6+8*N.
        assertEquals(16 * N, SplitRingLayout.descTableLength(N));
        assertEquals(6 + 2 * N, SplitRingLayout.availRingLength(N));
        assertEquals(6 + 8 * N, SplitRingLayout.usedRingLength(N));
        assertEquals(4 + 2 * N, SplitRingLayout.usedEventOffset(N));
        assertEquals(4 + 8 * N, SplitRingLayout.availEventOffset(N));
    }

    @Test
    void descriptorAndAvailRingBytes()
    {
        final long buffer = 0x1_2345_6789_ABCDL;
        final long table = guest.allocate(32, 16);
        final int head = queue.driver().addChain(new long[] {buffer, buffer + 0x100}, new int[] {0x0102_0304, 7}, 2, true);
        queue.driver().addIndirectChain(table, new long[] {buffer}, new int[] {64}, 1, false);
        queue.driver().publishAvail();

        final long d0 = queue.descTable() + 16L * head;
        assertEquals(buffer, le(d0, 8), "addr: bytes 0..7");
        assertEquals(0x0102_0304L, le(d0 + 8, 4), "len: bytes 8..11");
        assertEquals(1 | 2, le(d0 + 12, 2), "flags NEXT|WRITE at bytes 12..13");
        final int next = (int)le(d0 + 14, 2);
        final long d1 = queue.descTable() + 16L * next;
        assertEquals(buffer + 0x100, le(d1, 8));
        assertEquals(2, le(d1 + 12, 2), "last descriptor: WRITE only");

        assertEquals(2, le(queue.availRing() + 2, 2), "avail.idx at byte 2");
        assertEquals(head, le(queue.availRing() + 4, 2), "avail.ring[0] at byte 4");
        final int indirectHead = (int)le(queue.availRing() + 6, 2);
        final long di = queue.descTable() + 16L * indirectHead;
        assertEquals(table, le(di, 8));
        assertEquals(16, le(di + 8, 4), "indirect len = 16 per entry");
        assertEquals(4, le(di + 12, 2), "flags INDIRECT = 4");
        assertEquals(buffer, le(table, 8), "indirect entry addr");
        assertEquals(64, le(table + 8, 4), "indirect entry len");
        assertEquals(0, le(table + 12, 2), "readable, no NEXT");
    }

    @Test
    void usedRingBytesAndNetHeader()
    {
        final long buffer = guest.allocate(4096, 64);
        final int head = queue.driver().addBuffer(buffer, 4096, true);
        queue.driver().publishAvail();
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment frame = arena.allocate(100);
            frame.fill((byte)0x5A);
            assertEquals(1, new MergeableRxWriter(queue.device()).deliverToGuest(frame.address(), 100));
        }
        queue.device().publishUsed();

        assertEquals(1, le(queue.usedRing() + 2, 2), "used.idx at byte 2");
        assertEquals(head, le(queue.usedRing() + 4, 4), "used.ring[0].id at byte 4 (u32)");
        assertEquals(112, le(queue.usedRing() + 8, 4), "used.ring[0].len at byte 8 (u32): 12 + 100");

        // virtio_net_hdr_mrg_rxbuf: flags u8 @0, gso_type u8 @1, hdr_len @2, gso_size @4, csum_start @6,
        // csum_offset @8, num_buffers @10, then the frame at 12.
        assertEquals(0, u8(buffer), "flags");
        assertEquals(0, u8(buffer + 1), "gso_type = GSO_NONE");
        for (int offset = 2; offset < 10; offset += 2)
        {
            assertEquals(0, le(buffer + offset, 2), "u16 at " + offset);
        }
        assertEquals(1, le(buffer + 10, 2), "num_buffers at byte 10");
        assertEquals(0x5A, u8(buffer + 12), "frame starts at byte 12");
        assertEquals(0x5A, u8(buffer + 111));
        assertEquals(0, u8(buffer + 112), "nothing past the frame");
    }

    @Test
    void netHeaderLengthFollowsNegotiation()
    {
        assertEquals(10, VirtioNetHeader.length(0));
        assertEquals(12, VirtioNetHeader.length(FeatureBit.MRG_RXBUF.mask()));
        assertEquals(12, VirtioNetHeader.length(FeatureBit.VERSION_1.mask()));
        assertEquals(12, VirtioNetHeader.length(FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask()));
        assertEquals(15, FeatureBit.MRG_RXBUF.bit());
        assertEquals(28, FeatureBit.INDIRECT_DESC.bit());
        assertEquals(29, FeatureBit.EVENT_IDX.bit());
        assertEquals(32, FeatureBit.VERSION_1.bit());
    }

    @Test
    void queueSizeRule()
    {
        SplitRingLayout.checkQueueSize(1);
        SplitRingLayout.checkQueueSize(32768);
        final IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> SplitRingLayout.checkQueueSize(300));
        assertEquals("queue size=300: must be a power of two in 1..32768", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SplitRingLayout.checkQueueSize(65536));
        assertThrows(IllegalArgumentException.class, () -> SplitRingLayout.checkQueueSize(0));
    }
}
