package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.fixture.TcpFrames;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PcapPace;
import io.pagewire.dataplane.fixture.AllocationMeter;
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
        return config(interfaceName, blockSize, blockCount, 2048, false);
    }

    static NicConfig config(final String interfaceName, final int blockSize, final int blockCount,
        final int slotSize, final boolean vnetHdr)
    {
        return new NicConfig(NicType.AF_PACKET, 256, slotSize,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, blockSize, blockCount, 1, true, vnetHdr),
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
            long waitedNs = 0;
            for (int sent = 0; sent < 20; sent++)
            {
                final long sentNs = System.nanoTime();
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
                waitedNs += System.nanoTime() - sentNs;
                Thread.sleep(5);
            }
            assertEquals(20, received);
            System.out.printf("af_packet port: a lone frame waited %.2f ms on average for its block to retire " +
                "(retire_timeout_ms=1)%n", waitedNs / 20 / 1e6);
        }
    }

    /**
     * The dataplane's calls on the port (claim, commit, the flush that kicks the kernel with sendto, rxAvailable
     * walking blocks, release) allocate nothing once warmed up; measured as in OsAllocationTest (a late
     * deoptimization may allocate once, so up to five windows, each below 4 bytes per frame, the last exactly 0).
     */
    @Test
    void theHotPathAllocatesNothing()
    {
        try (VethPair veth = VethPair.create(false);
            AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8), null);
            AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 1 << 16, 16), null))
        {
            final int frames = 50_000;
            long received = 0;
            for (int warmUp = 0; warmUp < 4; warmUp++)
            {
                received += exchange(a, b, frames);
            }
            assertTrue(received > 0);
            AllocationMeter.assertSomeWindowAllocatesNothing("exchanging frames over a veth", 5, () ->
                exchange(a, b, frames));
            final long startNs = System.nanoTime();
            final long moved = exchange(a, b, frames);
            final double seconds = (System.nanoTime() - startNs) / 1e9;
            System.out.printf("af_packet port: %d of %d 64-byte frames through a veth in %.3f s on one thread " +
                "(%.3f Mpps sent; received %.3f Mpps)%n", moved, frames, seconds, frames / seconds / 1e6,
                moved / seconds / 1e6);
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

    /**
     * vnet_hdr with the kernel's offloads on: a TCP GSO frame of 4500 payload bytes (gso_size 1000, checksum
     * partial) sent with a virtio_net_hdr crosses the veth whole and is received as 5 MTU-sized segments with valid
     * checksums; a UDP frame with a partial checksum arrives with a complete one.
     */
    @Test
    void vnetHdrGsoFramesAreSegmentedAndChecksumsCompleted()
    {
        try (VethPair veth = VethPair.create(false, true))
        {
            VethPair.run("ip", "link", "set", veth.hostEnd(), "mtu", "9000");
            VethPair.run("ip", "link", "set", veth.peerEnd(), "mtu", "9000");
            try (AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8, 8192, true), null);
                AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 1 << 17, 8, 2048, true), null))
            {
                assertTrue(b.describe().contains("vnet_hdr"), b.describe());
                final int payload = 4500;
                final int length = 54 + payload;
                final long address = a.claim(length);
                assertTrue(address != 0);
                final long vnet = address - 10;
                ALL.set(ValueLayout.JAVA_BYTE, vnet, (byte)1);
                ALL.set(ValueLayout.JAVA_BYTE, vnet + 1, (byte)1);
                ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 2, (short)54);
                ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 4, (short)1000);
                ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 6, (short)34);
                ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 8, (short)16);
                final byte[] frame = tcpFrame(payload);
                MemorySegment.copy(MemorySegment.ofArray(frame), 0, ALL, address, length);
                a.commit(length);
                a.flush();

                int segments = 0;
                int bytes = 0;
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (segments < 5 && System.nanoTime() - deadline < 0)
                {
                    final int available = b.rxAvailable();
                    for (int i = 0; i < available; i++)
                    {
                        final int segmentLength = b.rxFrameLength(i);
                        final long s = b.rxFrameAddress(i);
                        if (segmentLength < 54 || ALL.get(ValueLayout.JAVA_BYTE, s + 23) != 6)
                        {
                            continue;
                        }
                        final byte[] seg = new byte[segmentLength];
                        MemorySegment.copy(ALL, s, MemorySegment.ofArray(seg), 0, segmentLength);
                        assertTrue(segmentLength <= 1054, "segment " + segments + " is " + segmentLength);
                        assertEquals(0xFFFF, TcpFrames.sum16(seg, 14, 34, 0), "IPv4 header checksum");
                        final long pseudo = TcpFrames.sum16(seg, 26, 34, 0) + 6 + (segmentLength - 34);
                        assertEquals(0xFFFF, TcpFrames.sum16(seg, 34, segmentLength, pseudo), "TCP checksum");
                        for (int k = 54; k < segmentLength; k++)
                        {
                            assertEquals(frame[k + segments * 1000], seg[k]);
                        }
                        bytes += segmentLength - 54;
                        segments++;
                    }
                    b.rxRelease(available);
                }
                assertEquals(5, segments);
                assertEquals(payload, bytes);
                assertEquals(1, b.rxGsoSegmented(), "the frame crossed the veth whole and pagewire cut it");
            }
        }
    }

    private static byte[] tcpFrame(final int payload)
    {
        final java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(54 + payload);
        b.put(new byte[] {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00});
        b.put((byte)0x45).put((byte)0).putShort((short)(40 + payload)).putShort((short)1).putShort((short)0x4000)
            .put((byte)64).put((byte)6).putShort((short)0).put(new byte[] {10, 99, 0, 1}).put(new byte[] {10, 99, 0, 2});
        final byte[] f0 = b.array();
        final int ipSum = ~TcpFrames.sum16(f0, 14, 34, 0) & 0xFFFF;
        b.putShort(24, (short)ipSum);
        b.position(34);
        b.putShort((short)40000).putShort((short)5201).putInt(1).putInt(7).put((byte)0x50)
            .put((byte)0x18).putShort((short)512).putShort((short)0).putShort((short)0);
        for (int i = 0; i < payload; i++)
        {
            b.put((byte)(i * 7 + 3));
        }
        final byte[] f = b.array();
        final int pseudo = TcpFrames.sum16(f, 26, 34, 6 + 20 + payload);
        f[50] = (byte)(pseudo >> 8);
        f[51] = (byte)pseudo;
        return f;
    }

    /** Linux takes the 802.1Q tag off before packet sockets see a frame; the port puts it back, byte for byte. */
    @Test
    void vlanTaggedFramesArriveTagged()
    {
        try (VethPair veth = VethPair.create(false);
            AfPacketNicPort a = AfPacketNicPort.open(config(veth.hostEnd(), 1 << 16, 8), null);
            AfPacketNicPort b = AfPacketNicPort.open(config(veth.peerEnd(), 1 << 16, 8), null))
        {
            final byte[] frame = new byte[100];
            for (int k = 0; k < frame.length; k++)
            {
                frame[k] = (byte)(k * 11 + 1);
            }
            frame[12] = (byte)0x81;
            frame[13] = 0;
            frame[14] = 0x20;
            frame[15] = 0x07;
            frame[16] = (byte)0x88;
            frame[17] = (byte)0xB6;
            final long address = a.claim(frame.length);
            MemorySegment.copy(MemorySegment.ofArray(frame), 0, ALL, address, frame.length);
            a.commit(frame.length);
            a.flush();
            byte[] got = null;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (got == null && System.nanoTime() - deadline < 0)
            {
                final int available = b.rxAvailable();
                for (int i = 0; i < available; i++)
                {
                    final int length = b.rxFrameLength(i);
                    if (length == frame.length)
                    {
                        got = new byte[length];
                        MemorySegment.copy(ALL, b.rxFrameAddress(i), MemorySegment.ofArray(got), 0, length);
                    }
                }
                b.rxRelease(available);
            }
            assertTrue(got != null, "the tagged frame arrived with its 4 tag bytes");
            org.junit.jupiter.api.Assertions.assertArrayEquals(frame, got);
        }
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
