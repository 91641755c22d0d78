package io.pagewire.dataplane.port.afpacket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

import io.pagewire.dataplane.virtio.FeatureBit;

import static io.pagewire.dataplane.fixture.TcpFrames.ipv4Tcp;
import static io.pagewire.dataplane.fixture.TcpFrames.ipv6Tcp;
import static io.pagewire.dataplane.fixture.TcpFrames.l4ChecksumValid;
import static io.pagewire.dataplane.fixture.TcpFrames.sum16;

import static io.pagewire.dataplane.port.afpacket.TpacketLayout.BLOCK_STATUS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.NUM_PKTS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.OFFSET_TO_FIRST_PKT_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_LEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_MAC_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_NEXT_OFFSET_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_SNAPLEN_OFFSET;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Frames with a virtio_net_hdr, laid out in a fake TPACKET_V3 block as the kernel does with PACKET_VNET_HDR (header
 * at {@code tp_mac - 10}): checksum completion, TCP segmentation over IPv4 and IPv6 checked by an independent
 * checksum verifier and byte comparison, and hostile headers dropped.
 */
class VnetRxFramesTest
{
    private static final int BLOCK_SIZE = 1 << 17;
    private static final int MAC = 92;
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final Arena arena = Arena.ofConfined();
    private final long ring = arena.allocate(BLOCK_SIZE, 4096).address();
    private final TpacketV3RxRing rx = new TpacketV3RxRing(ring, BLOCK_SIZE, 1, 10, Integer.MAX_VALUE);
    private final VnetRxFrames frames = new VnetRxFrames(rx, BLOCK_SIZE, 2040);

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    /** One frame and its virtio_net_hdr (flags, gsoType, gsoSize, csumStart, csumOffset). */
    private record Packet(byte[] frame, int flags, int gsoType, int gsoSize, int csumStart, int csumOffset)
    {
    }

    private void kernelFills(final Packet... packets)
    {
        int offset = 48;
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, ring + OFFSET_TO_FIRST_PKT_OFFSET, offset);
        for (int p = 0; p < packets.length; p++)
        {
            final Packet packet = packets[p];
            final long h = ring + offset;
            final int length = packet.frame().length;
            ALL.set(ValueLayout.JAVA_INT_UNALIGNED, h + TP_SNAPLEN_OFFSET, length);
            ALL.set(ValueLayout.JAVA_INT_UNALIGNED, h + TP_LEN_OFFSET, length);
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, h + TP_MAC_OFFSET, (short)MAC);
            final long vnet = h + MAC - 10;
            ALL.set(ValueLayout.JAVA_BYTE, vnet, (byte)packet.flags());
            ALL.set(ValueLayout.JAVA_BYTE, vnet + 1, (byte)packet.gsoType());
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 2, (short)0);
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 4, (short)packet.gsoSize());
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 6, (short)packet.csumStart());
            ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, vnet + 8, (short)packet.csumOffset());
            MemorySegment.copy(MemorySegment.ofArray(packet.frame()), 0, ALL, h + MAC, length);
            final int next = (MAC + length + 7) & ~7;
            ALL.set(ValueLayout.JAVA_INT_UNALIGNED, h + TP_NEXT_OFFSET_OFFSET, p == packets.length - 1 ? 0 : next);
            offset += next;
        }
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, ring + NUM_PKTS_OFFSET, packets.length);
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, ring + BLOCK_STATUS_OFFSET, 1);
    }

    private byte[] frame(final int i)
    {
        final int length = frames.frameLength(i);
        final byte[] out = new byte[length];
        MemorySegment.copy(ALL, frames.frameAddress(i), MemorySegment.ofArray(out), 0, length);
        return out;
    }

    @Test
    void checksumIsCompletedInPlace()
    {
        final byte[] tcp = ipv4Tcp(301, 0x18, true);
        final byte[] plain = ipv4Tcp(100, 0x10, false);
        kernelFills(new Packet(tcp, 1, 0, 0, 34, 16), new Packet(plain, 2, 0, 0, 0, 0));
        assertEquals(2, frames.available());
        final byte[] completed = frame(0);
        assertEquals(tcp.length, completed.length);
        assertEquals(true, l4ChecksumValid(completed, false, 6), "TCP checksum verifies");
        assertArrayEquals(plain, frame(1), "DATA_VALID without NEEDS_CSUM: untouched");
        assertEquals(0, frames.frameVnetHeader(0), "no offload passed to a guest that negotiated none");
        assertEquals(0, frames.frameVnetHeader(1), "DATA_VALID only with GUEST_CSUM (virtio 1.2 §5.1.6.4)");
        assertEquals(1, frames.checksumsCompleted());
        frames.release(2);
        assertEquals(0, ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ring + BLOCK_STATUS_OFFSET), "block handed back");
    }

    @Test
    void tcpOverIpv4IsSegmented()
    {
        final int payload = 4500;
        final int mss = 1000;
        final byte[] big = ipv4Tcp(payload, 0x19, true);
        kernelFills(new Packet(big, 1, 1, mss, 34, 16));
        assertEquals(5, frames.available());
        for (int i = 0; i < 5; i++)
        {
            final byte[] s = frame(i);
            final int chunk = Math.min(mss, payload - i * mss);
            assertEquals(54 + chunk, s.length);
            assertEquals(40 + chunk, ((s[16] & 0xFF) << 8) | (s[17] & 0xFF), "IPv4 total length");
            assertEquals(0x1234 + i, ((s[18] & 0xFF) << 8) | (s[19] & 0xFF), "IPv4 id");
            assertEquals(0xFFFF, sum16(s, 14, 34, 0), "IPv4 header checksum");
            assertEquals(true, l4ChecksumValid(s, false, 6), "TCP checksum of segment " + i);
            final long seq = ByteBuffer.wrap(s, 38, 4).getInt() & 0xFFFFFFFFL;
            assertEquals((0xFFFFF000L + (long)i * mss) & 0xFFFFFFFFL, seq, "sequence (wraps)");
            assertEquals(i == 4 ? 0x19 : 0x10, s[47] & 0xFF, "FIN and PSH on the last only");
            for (int k = 0; k < chunk; k++)
            {
                assertEquals(big[54 + i * mss + k], s[54 + k]);
            }
        }
        assertEquals(1, frames.segmented());
        frames.release(5);
        assertEquals(0, ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ring + BLOCK_STATUS_OFFSET));
    }

    @Test
    void tcpOverIpv6IsSegmented()
    {
        final byte[] big = ipv6Tcp(3000);
        kernelFills(new Packet(big, 1, 4 | 0x80, 1400, 54, 16));
        assertEquals(3, frames.available());
        int total = 0;
        for (int i = 0; i < 3; i++)
        {
            final byte[] s = frame(i);
            final int chunk = Math.min(1400, 3000 - i * 1400);
            assertEquals(86 + chunk, s.length);
            assertEquals(32 + chunk, ((s[18] & 0xFF) << 8) | (s[19] & 0xFF), "IPv6 payload length");
            assertEquals(true, l4ChecksumValid(s, true, 6), "TCP checksum of segment " + i);
            assertEquals(i == 0 ? 0x90 : i == 1 ? 0x10 : 0x18, s[67] & 0xFF, "CWR on the first only, PSH on the last");
            total += chunk;
        }
        assertEquals(3000, total);
    }

    @Test
    void hostileHeadersAreDroppedAndCounted()
    {
        final byte[] tcp = ipv4Tcp(100, 0x10, true);
        kernelFills(
            new Packet(tcp, 1, 0, 0, 150, 16),
            new Packet(tcp, 1, 0, 0, 34, 60000),
            new Packet(tcp, 0x40, 0, 0, 0, 0),
            new Packet(ipv4Tcp(3000, 0x10, true), 1, 1, 0, 34, 16),
            new Packet(ipv4Tcp(3000, 0x10, true), 1, 3, 1000, 34, 16),
            new Packet(ipv4Tcp(3000, 0x10, true), 1, 4, 1000, 34, 16),
            new Packet(ipv4Tcp(3000, 0x10, true), 0, 0, 0, 0, 0),
            new Packet(ipv4Tcp(3000, 0x10, true), 1, 1, 2000, 34, 16),
            new Packet(tcp, 1, 0, 0, 34, 16));
        assertEquals(9, frames.available());
        for (int i = 0; i < 8; i++)
        {
            assertEquals(-1, frames.frameLength(i), "packet " + i);
        }
        assertEquals(tcp.length, frames.frameLength(8));
        assertEquals(8, frames.dropped());
        frames.release(9);
        assertEquals(0, ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ring + BLOCK_STATUS_OFFSET));
    }

    private byte[] header(final int i)
    {
        final long address = frames.frameVnetHeader(i);
        assertNotEquals(0, address, "frame " + i + " carries an offload");
        final byte[] out = new byte[10];
        MemorySegment.copy(ALL, address, MemorySegment.ofArray(out), 0, 10);
        return out;
    }

    private static final long CSUM_TSO4 = FeatureBit.GUEST_CSUM.mask() | FeatureBit.GUEST_TSO4.mask();

    /**
     * The guest negotiated GUEST_CSUM and GUEST_TSO4: a partial checksum, DATA_VALID and a TCPv4 GSO frame go to it as
     * the kernel gave them, with the header a device must write (hdr_len = 54, the parsed header length, not the
     * kernel's hint 0); TCPv6 GSO (no GUEST_TSO6), ECN (no GUEST_ECN) and a GSO frame whose checksum is not at the
     * TCP checksum field are still segmented here.
     */
    @Test
    void offloadsTheGuestNegotiatedArePassedThroughTheRestDoneHere()
    {
        frames.guestFeatures(CSUM_TSO4);
        final byte[] partial = ipv4Tcp(301, 0x18, true);
        final byte[] valid = ipv4Tcp(100, 0x10, false);
        final byte[] big = ipv4Tcp(4500, 0x18, true);
        kernelFills(
            new Packet(partial, 1, 0, 0, 34, 16),
            new Packet(valid, 2, 0, 0, 0, 0),
            new Packet(big, 1, 1, 1000, 34, 16),
            new Packet(ipv6Tcp(3000), 1, 4, 1400, 54, 16),
            new Packet(big, 1, 1 | 0x80, 1000, 34, 16),
            new Packet(big, 1, 1, 1000, 14, 36));
        assertEquals(3 + 3 + 5 + 5, frames.available());
        assertArrayEquals(partial, frame(0), "the pseudo-header sum stays for the guest to finish");
        assertArrayEquals(new byte[] {1, 0, 0, 0, 0, 0, 34, 0, 16, 0}, header(0));
        assertArrayEquals(valid, frame(1));
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, header(1));
        assertArrayEquals(big, frame(2), "the GSO frame whole");
        assertArrayEquals(new byte[] {1, 1, 54, 0, (byte)0xE8, 3, 34, 0, 16, 0}, header(2));
        for (int i = 3; i < 16; i++)
        {
            assertEquals(0, frames.frameVnetHeader(i), "segment " + i + " is plain");
            assertTrue(frames.frameLength(i) <= (i < 6 ? 86 + 1400 : 54 + 1000), "segment " + i);
            assertTrue(l4ChecksumValid(frame(i), i < 6, 6), "TCP checksum of segment " + i);
        }
        assertEquals(1, frames.checksumsPassed());
        assertEquals(1, frames.dataValidPassed());
        assertEquals(1, frames.gsoPassed());
        assertEquals(3, frames.segmented());
        assertEquals(0, frames.checksumsCompleted());
        assertEquals(0, frames.dropped());
    }

    /**
     * gso_size 0xFFFF is Linux's GSO_BY_FRAGS, refused by the guest's virtio_net_hdr_to_skb as by the transmit side's
     * rules, which are the same ({@link io.pagewire.dataplane.virtio.GsoSegmenter#checkTcpOffload}): dropped here even
     * for a guest that takes TSO, while 0xFFFE passes.
     */
    @Test
    void gsoByFragsIsDroppedEvenForAGuestThatTakesTso()
    {
        frames.guestFeatures(CSUM_TSO4);
        final byte[] big = ipv4Tcp(4500, 0x18, true);
        kernelFills(new Packet(big, 1, 1, 0xFFFF, 34, 16), new Packet(big, 1, 1, 0xFFFE, 34, 16));
        assertEquals(2, frames.available());
        assertEquals(-1, frames.frameLength(0));
        assertArrayEquals(big, frame(1));
        assertEquals(1, frames.gsoPassed());
        assertEquals(1, frames.dropped());
    }

    @Test
    void checksumOnlyGuestGetsGsoSegmentedAndHostileGsoStillDropped()
    {
        frames.guestFeatures(FeatureBit.GUEST_CSUM.mask());
        final byte[] bad = ipv4Tcp(3000, 0x10, true);
        bad[14] = 0x44;
        kernelFills(new Packet(ipv4Tcp(2000, 0x10, true), 1, 1, 1000, 34, 16), new Packet(bad, 1, 1, 1000, 34, 16));
        assertEquals(3, frames.available());
        assertEquals(0, frames.frameVnetHeader(0));
        assertEquals(0, frames.frameVnetHeader(1));
        assertEquals(-1, frames.frameLength(2), "IHL 4: the header does not validate, with or without offloads");
        assertEquals(1, frames.segmented());
        assertEquals(0, frames.gsoPassed());
        assertEquals(1, frames.dropped());
    }

    /** A guest that goes away leaves frames made for it: those with an offload it alone took are dropped. */
    @Test
    void framesPassedForFeaturesThatChangedAreDropped()
    {
        frames.guestFeatures(CSUM_TSO4);
        final byte[] plain = ipv4Tcp(100, 0x10, false);
        kernelFills(new Packet(ipv4Tcp(4500, 0x18, true), 1, 1, 1000, 34, 16), new Packet(plain, 0, 0, 0, 0, 0));
        assertEquals(2, frames.available());
        frames.guestFeatures(0);
        assertEquals(-1, frames.frameLength(0));
        assertEquals(0, frames.frameVnetHeader(0));
        assertArrayEquals(plain, frame(1));
        assertEquals(1, frames.dropped());
        frames.release(2);
        assertEquals(0, ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ring + BLOCK_STATUS_OFFSET), "block handed back");
    }
}
