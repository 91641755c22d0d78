package io.pagewire.dataplane.port;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PcapPace;
import io.pagewire.dataplane.fixture.VethPair;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two AF_PACKET ports on the two ends of a veth pair (the real kernel rings): every frame one transmits arrives
 * byte for byte at the other, in order, and not back at the sender (PACKET_IGNORE_OUTGOING); kernel statistics are
 * read; a missing interface is a clear error.
 */
@Tag("interop")
class AfPacketNicPortTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    /** IEEE 802 local experimental EtherType: frames of this test, whatever else the kernel sends. */
    private static final int ETHER_TYPE = 0x88B5;

    static NicConfig config(final String interfaceName, final int blockSize, final int blockCount)
    {
        return new NicConfig(NicType.AF_PACKET, 256, 2048,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, blockSize, blockCount, 1, true, false),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false));
    }

    private static void writeFrame(final long address, final int length, final int sequence)
    {
        for (int i = 0; i < 6; i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + i, (byte)0xFF);
            ALL.set(ValueLayout.JAVA_BYTE, address + 6 + i, (byte)(i == 0 ? 0x02 : i));
        }
        ALL.set(ValueLayout.JAVA_BYTE, address + 12, (byte)(ETHER_TYPE >> 8));
        ALL.set(ValueLayout.JAVA_BYTE, address + 13, (byte)ETHER_TYPE);
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address + 14, sequence);
        for (int i = 18; i < length; i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + i, (byte)(sequence * 13 + i));
        }
    }

    private static boolean ours(final long address, final int length)
    {
        return length >= 18 && (ALL.get(ValueLayout.JAVA_BYTE, address + 12) & 0xFF) == ETHER_TYPE >> 8 &&
            (ALL.get(ValueLayout.JAVA_BYTE, address + 13) & 0xFF) == (ETHER_TYPE & 0xFF);
    }

    private static int lengthOf(final int sequence)
    {
        return 60 + (sequence * 37) % 1455;
    }

    @Test
    void framesCrossTheVethByteForByteAndDoNotComeBack()
    {
        try (VethPair veth = VethPair.create(false);
            AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8), null);
            AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 4096, 16), null))
        {
            assertTrue(a.describe().contains(veth.hostEnd()), a.describe());
            assertEquals(1500 + 14, a.maxFrameLength(), "the MTU bounds what the guest may send");
            final int total = 3000;
            int sent = 0;
            int received = 0;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (received < total && System.nanoTime() - deadline < 0)
            {
                int burst = 0;
                while (sent < total && burst < 32 && sent - received < 16)
                {
                    final int length = lengthOf(sent);
                    final long address = a.claim(length);
                    if (address == 0)
                    {
                        break;
                    }
                    writeFrame(address, length, sent);
                    a.commit(length);
                    sent++;
                    burst++;
                }
                a.flush();
                final int available = b.rxAvailable();
                for (int i = 0; i < available; i++)
                {
                    final long address = b.rxFrameAddress(i);
                    final int length = b.rxFrameLength(i);
                    if (!ours(address, length))
                    {
                        continue;
                    }
                    final int sequence = ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address + 14);
                    assertEquals(received, sequence, "in order, none lost (at most 16 in flight)");
                    assertEquals(lengthOf(sequence), length, "length of frame " + sequence);
                    for (int k = 18; k < length; k++)
                    {
                        assertEquals((byte)(sequence * 13 + k), ALL.get(ValueLayout.JAVA_BYTE, address + k));
                    }
                    received++;
                }
                b.rxRelease(available);
                Thread.onSpinWait();
            }
            assertEquals(total, received);
            final int back = a.rxAvailable();
            for (int i = 0; i < back; i++)
            {
                assertFalse(ours(a.rxFrameAddress(i), a.rxFrameLength(i)), "own frame came back");
            }
            a.rxRelease(back);
            b.poll();
            assertTrue(b.kernelStatistics()[0] >= total, "tp_packets counts what reached the socket");
            assertEquals(0, b.kernelStatistics()[1], "no kernel drops");
        }
    }

    @Test
    void slowTrafficArrivesBlockAfterBlock() throws InterruptedException
    {
        try (VethPair veth = VethPair.create(false);
            AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8), null);
            AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 4096, 4), null))
        {
            int received = 0;
            for (int sent = 0; sent < 20; sent++)
            {
                final long address = a.claim(100);
                writeFrame(address, 100, sent);
                a.commit(100);
                a.flush();
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                boolean arrived = false;
                while (!arrived && System.nanoTime() - deadline < 0)
                {
                    final int available = b.rxAvailable();
                    for (int i = 0; i < available; i++)
                    {
                        if (ours(b.rxFrameAddress(i), b.rxFrameLength(i)))
                        {
                            assertEquals(sent, ALL.get(ValueLayout.JAVA_INT_UNALIGNED, b.rxFrameAddress(i) + 14));
                            arrived = true;
                            received++;
                        }
                    }
                    b.rxRelease(available);
                }
                assertTrue(arrived, "frame " + sent + " arrived (each in its own block, retired by the timer)");
                Thread.sleep(5);
            }
            assertEquals(20, received);
        }
    }

    /**
     * The dataplane's calls on the port (claim, commit, the flush that kicks the kernel with sendto, rxAvailable
     * walking blocks, release) allocate nothing once warmed up; measured as in OsAllocationTest (a late
     * deoptimization may allocate once, so up to three windows, each below a byte per frame, the last exactly 0).
     */
    @Test
    void theHotPathAllocatesNothing()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        try (VethPair veth = VethPair.create(false);
            AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8), null);
            AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 1 << 16, 16), null))
        {
            final int frames = 50_000;
            long received = exchange(a, b, frames);
            assertTrue(received > 0);
            long allocated = -1;
            for (int attempt = 0; attempt < 3 && allocated != 0; attempt++)
            {
                final long before = threads.getCurrentThreadAllocatedBytes();
                received = exchange(a, b, frames);
                allocated = threads.getCurrentThreadAllocatedBytes() - before;
                assertTrue(allocated < frames, "allocated " + allocated + " bytes over " + frames + " frames");
            }
            assertEquals(0, allocated, "bytes allocated over " + frames + " frames in the last window");
            assertTrue(received > frames / 2, "frames went through the kernel: " + received);
        }
    }

    private static long exchange(final AfPacketNicPort a, final AfPacketNicPort b, final int frames)
    {
        long received = 0;
        int sent = 0;
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (sent < frames && System.nanoTime() - deadline < 0)
        {
            for (int burst = 0; burst < 32 && sent < frames; burst++)
            {
                final long address = a.claim(64);
                if (address == 0)
                {
                    break;
                }
                writeFrame(address, 64, sent);
                a.commit(64);
                sent++;
            }
            a.flush();
            final int available = b.rxAvailable();
            for (int i = 0; i < available; i++)
            {
                if (b.rxFrameLength(i) == 64)
                {
                    received++;
                }
            }
            b.rxRelease(available);
        }
        return received;
    }

    @Test
    void aMissingInterfaceIsAClearError()
    {
        VethPair.assumeAvailable();
        final NicPortException ex = assertThrows(NicPortException.class,
            () -> AfPacketNicPort.open(config("nosuch0", 1 << 16, 4), null));
        assertEquals("nic.af_packet.interface=\"nosuch0\": no such interface", ex.getMessage());
    }
}
