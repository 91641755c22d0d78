package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.memory.MemoryCopy;
import org.agrona.UnsafeApi;

/**
 * The software side of the virtio-net offloads (virtio 1.2 §5.1.6.2, §5.1.6.4), for frames whose producer asked for
 * them but whose consumer cannot take them: the one place that parses a TCP GSO frame's headers, cuts it into
 * segments and completes a partial checksum. Used in both directions: frames the kernel hands an AF_PACKET port with
 * {@code PACKET_VNET_HDR} (into a guest without GUEST_TSO4/6) and frames a guest transmits with HOST_TSO4/6 (out of a
 * port that cannot take a virtio-net header).
 * <p>
 * Use: {@link #checksumFieldsValid} and {@link #checkTcpOffload} hold the header rules both directions apply (one
 * place, so a guest's frame and the kernel's are judged alike); {@link #parseTcp} checks a frame's Ethernet
 * (optionally 802.1Q), IPv4 or IPv6 (no extension headers) and TCP headers against its length and remembers their
 * offsets; {@link #segmentCount} and {@link #writeSegment} then cut
 * it, one segment at a time, into destinations the caller chooses (a scratch area, a NIC slot). Every offset is
 * checked against the frame length before it is used. Allocation-free; one thread.
 */
public final class GsoSegmenter
{
    /** Bytes of the Ethernet header without a VLAN tag: the smallest {@code csum_start} that makes sense. */
    public static final int ETHERNET_HEADER_LENGTH = 14;
    /** Smallest {@code gso_size} accepted: a TCP segment carries at least 8 payload bytes (as Linux's minimum MSS). */
    public static final int MIN_GSO_SIZE = 8;
    /**
     * Largest {@code gso_size} accepted: 0xFFFF is Linux's {@code GSO_BY_FRAGS}, which {@code virtio_net_hdr_to_skb}
     * refuses, on an AF_PACKET transmit ring (with {@code PACKET_LOSS} such a frame would be skipped without a trace)
     * and in a Linux guest's receive path alike; Linux never makes a TCP GSO frame with it.
     */
    public static final int MAX_GSO_SIZE = 0xFFFE;
    /** Offset of the checksum field in the TCP header: {@code csum_offset} of a TCP GSO frame. */
    public static final int TCP_CHECKSUM_OFFSET = 16;
    /**
     * Bytes that always hold a frame's headers when {@link #parseTcp} accepts it: 802.1Q Ethernet (18), IPv4 with
     * options (60) and TCP with options (60), rounded up.
     */
    public static final int MAX_HEADERS_LENGTH = 192;

    /** {@link #checkTcpOffload}: not a TCP GSO frame that can be handled here or passed on; drop it. */
    public static final int TCP_OFFLOAD_INVALID = 0;
    /**
     * {@link #checkTcpOffload}: the headers add up, but NEEDS_CSUM is missing or does not name the TCP checksum field:
     * only cutting the frame here ({@link #writeSegment} computes every checksum) gives valid segments.
     */
    public static final int TCP_OFFLOAD_SEGMENT_ONLY = 1;
    /**
     * {@link #checkTcpOffload}: valid; the frame may also go on whole with its offload, with {@code csum_start} =
     * {@link #l4()} and {@code hdr_len} = {@link #headersLength()}.
     */
    public static final int TCP_OFFLOAD_VALID = 2;

    private static final int ETH_P_IPV4 = 0x0800;
    private static final int ETH_P_IPV6 = 0x86DD;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int IPPROTO_TCP = 6;
    private static final int UDP_CHECKSUM_OFFSET = 6;
    private static final int TCP_FIN = 0x01;
    private static final int TCP_PSH = 0x08;
    private static final int TCP_CWR = 0x80;

    private int l3;
    private int l4;
    private int headersLength;
    private boolean v4;

    /**
     * The rule for {@code VIRTIO_NET_HDR_F_NEEDS_CSUM} (virtio 1.2 §5.1.6.2), whichever side produced the header: the
     * checksummed range starts at or after the Ethernet header and the checksum field lies inside the frame.
     *
     * @param needsCsum  whether the header's flags have NEEDS_CSUM (without it the fields mean nothing: true).
     * @param csumStart  {@code csum_start}, counted from the frame's first byte.
     * @param csumOffset {@code csum_offset}.
     * @param length     the frame's length.
     * @return whether the checksum fields may be used.
     */
    public static boolean checksumFieldsValid(
        final boolean needsCsum, final int csumStart, final int csumOffset, final int length)
    {
        return !needsCsum || (csumStart >= ETHERNET_HEADER_LENGTH && csumStart + csumOffset + 2 <= length);
    }

    /**
     * The rules for a virtio-net header with a GSO type (virtio 1.2 §5.1.6.2), in both directions (a guest's
     * transmitted frame, a frame the kernel hands an AF_PACKET port): gso_type TCPV4 or TCPV6 (the ECN bit allowed:
     * whether it was negotiated is the caller's to decide, as are HOST_/GUEST_TSO4/6), gso_size from
     * {@link #MIN_GSO_SIZE} to {@link #MAX_GSO_SIZE}, Ethernet/IP/TCP headers that add up for that IP version
     * ({@link #parseTcp}, whose offsets are remembered for {@link #writeSegment}), and for passing the frame on whole
     * NEEDS_CSUM at the TCP checksum field. hdr_len is not looked at: a device must not rely on it (§5.1.6.2.2). The
     * caller checked the checksum fields against the frame first ({@link #checksumFieldsValid}).
     *
     * @param frame      the frame's first byte.
     * @param length     bytes readable at {@code frame}: the frame's length or a prefix of at least
     *                   {@link #MAX_HEADERS_LENGTH} bytes.
     * @param gsoType    {@code gso_type} as the header has it.
     * @param gsoSize    {@code gso_size}.
     * @param needsCsum  whether the header's flags have NEEDS_CSUM.
     * @param csumStart  {@code csum_start}, counted from the frame's first byte.
     * @param csumOffset {@code csum_offset}.
     * @return {@link #TCP_OFFLOAD_VALID}, {@link #TCP_OFFLOAD_SEGMENT_ONLY} or {@link #TCP_OFFLOAD_INVALID}.
     */
    public int checkTcpOffload(
        final long frame,
        final int length,
        final int gsoType,
        final int gsoSize,
        final boolean needsCsum,
        final int csumStart,
        final int csumOffset)
    {
        final int baseType = gsoType & ~VirtioNetHeader.GSO_ECN;
        if ((baseType != VirtioNetHeader.GSO_TCPV4 && baseType != VirtioNetHeader.GSO_TCPV6) ||
            gsoSize < MIN_GSO_SIZE || gsoSize > MAX_GSO_SIZE ||
            !parseTcp(frame, length, baseType == VirtioNetHeader.GSO_TCPV4))
        {
            return TCP_OFFLOAD_INVALID;
        }
        return needsCsum && csumStart == l4 && csumOffset == TCP_CHECKSUM_OFFSET ?
            TCP_OFFLOAD_VALID : TCP_OFFLOAD_SEGMENT_ONLY;
    }

    /**
     * Checks the headers of a TCP GSO frame and remembers their offsets for {@link #writeSegment}.
     *
     * @param frame  the frame's first byte (its headers must be readable; {@code length} may be the frame's length or
     *               any prefix of at least {@link #MAX_HEADERS_LENGTH} bytes).
     * @param length bytes readable at {@code frame}.
     * @param v4     true for GSO_TCPV4 (IPv4), false for GSO_TCPV6.
     * @return false when they do not add up or are not TCP over the IP version the GSO type says.
     */
    public boolean parseTcp(final long frame, final int length, final boolean v4)
    {
        int l3 = ETHERNET_HEADER_LENGTH;
        if (length < l3)
        {
            return false;
        }
        int etherType = be16(frame + 12);
        if (etherType == ETH_P_8021Q)
        {
            l3 = 18;
            if (length < l3)
            {
                return false;
            }
            etherType = be16(frame + 16);
        }
        if (etherType != (v4 ? ETH_P_IPV4 : ETH_P_IPV6) || l3 + (v4 ? 20 : 40) > length)
        {
            return false;
        }
        final int l4;
        if (v4)
        {
            final int versionIhl = UnsafeApi.getByte(frame + l3) & 0xFF;
            if (versionIhl >> 4 != 4 || (versionIhl & 0xF) < 5 ||
                (UnsafeApi.getByte(frame + l3 + 9) & 0xFF) != IPPROTO_TCP)
            {
                return false;
            }
            l4 = l3 + (versionIhl & 0xF) * 4;
        }
        else
        {
            if ((UnsafeApi.getByte(frame + l3) & 0xF0) != 0x60 ||
                (UnsafeApi.getByte(frame + l3 + 6) & 0xFF) != IPPROTO_TCP)
            {
                return false;
            }
            l4 = l3 + 40;
        }
        if (l4 + 20 > length)
        {
            return false;
        }
        final int tcpLength = ((UnsafeApi.getByte(frame + l4 + 12) & 0xFF) >> 4) * 4;
        if (tcpLength < 20 || l4 + tcpLength > length)
        {
            return false;
        }
        this.l3 = l3;
        this.l4 = l4;
        this.headersLength = l4 + tcpLength;
        this.v4 = v4;
        return true;
    }

    /** @return offset of the TCP header in the frame last parsed ({@code csum_start} of its GSO header). */
    public int l4()
    {
        return l4;
    }

    /** @return bytes of the Ethernet, IP and TCP headers of the frame last parsed ({@code hdr_len}, exact). */
    public int headersLength()
    {
        return headersLength;
    }

    /**
     * @param length the frame's length (the frame last parsed).
     * @param mss    payload bytes per segment ({@code gso_size}, at least 1).
     * @return segments {@link #writeSegment} makes of it: 1 for a frame without payload.
     */
    public int segmentCount(final int length, final int mss)
    {
        final int payload = length - headersLength;
        return payload <= 0 ? 1 : (payload + mss - 1) / mss;
    }

    /**
     * @return the length of segment {@code i} of a frame of {@code length} bytes (the frame last parsed).
     */
    public int segmentLength(final int length, final int mss, final int i)
    {
        return headersLength + Math.max(0, Math.min(mss, length - headersLength - i * mss));
    }

    /**
     * Writes segment {@code i} of the frame last parsed to {@code out}: copied headers (IPv4 total length, id + i and
     * header checksum; IPv6 payload length; TCP sequence number; FIN and PSH only on the last segment, CWR only on the
     * first; a full TCP checksum) and the next {@code mss} payload bytes.
     *
     * @param frame  the frame, {@code length} bytes, as given to {@link #parseTcp}.
     * @param length the frame's length.
     * @param mss    payload bytes per segment.
     * @param i      the segment, below {@link #segmentCount}.
     * @param out    where the segment goes: {@link #segmentLength} bytes, not overlapping the frame.
     * @return the segment's length.
     */
    public int writeSegment(final long frame, final int length, final int mss, final int i, final long out)
    {
        final int l3 = this.l3;
        final int l4 = this.l4;
        final int headers = headersLength;
        final int count = segmentCount(length, mss);
        final int segmentLength = segmentLength(length, mss, i);
        final int chunk = segmentLength - headers;
        MemoryCopy.copy(frame, out, headers);
        MemoryCopy.copy(frame + headers + (long)i * mss, out + headers, chunk);
        if (v4)
        {
            final int ipId = be16(frame + l3 + 4);
            putBe16(out + l3 + 2, segmentLength - l3);
            putBe16(out + l3 + 4, (ipId + i) & 0xFFFF);
            putBe16(out + l3 + 10, 0);
            putBe16(out + l3 + 10, finish(sum(out + l3, l4 - l3, 0)));
        }
        else
        {
            putBe16(out + l3 + 4, segmentLength - l4);
        }
        final long seq = Integer.toUnsignedLong(Integer.reverseBytes(UnsafeApi.getInt(frame + l4 + 4)));
        UnsafeApi.putInt(out + l4 + 4, Integer.reverseBytes((int)(seq + (long)i * mss)));
        int flags = UnsafeApi.getByte(frame + l4 + 13) & 0xFF;
        if (i != count - 1)
        {
            flags &= ~(TCP_FIN | TCP_PSH);
        }
        if (i != 0)
        {
            flags &= ~TCP_CWR;
        }
        UnsafeApi.putByte(out + l4 + 13, (byte)flags);
        putBe16(out + l4 + 16, 0);
        long pseudo = v4 ? sum(out + l3 + 12, 8, 0) : sum(out + l3 + 8, 32, 0);
        pseudo += IPPROTO_TCP + (segmentLength - l4);
        putBe16(out + l4 + 16, finish(sum(out + l4, segmentLength - l4, pseudo)));
        return segmentLength;
    }

    /**
     * Completes a partial checksum ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}, Linux's {@code CHECKSUM_PARTIAL}): the ones'
     * complement sum from {@code csumStart} to the end, with the field at {@code csumStart + csumOffset} holding the
     * pseudo-header sum as the producer leaves it, is stored there. A UDP checksum of 0 is sent as 0xFFFF
     * (RFC 768). The caller checked {@code csumStart + csumOffset + 2 <= length}.
     */
    public static void completeChecksum(final long frame, final int length, final int csumStart, final int csumOffset)
    {
        final int sum = finish(sum(frame + csumStart, length - csumStart, 0));
        putBe16(frame + csumStart + csumOffset, sum == 0 && csumOffset == UDP_CHECKSUM_OFFSET ? 0xFFFF : sum);
    }

    /**
     * @return the ones' complement sum (RFC 1071) of {@code length} bytes at {@code address}, big-endian 16-bit words,
     * added to {@code initial}, not folded.
     */
    public static long sum(final long address, final int length, final long initial)
    {
        long sum = initial;
        int i = 0;
        for (; i + 1 < length; i += 2)
        {
            sum += Short.reverseBytes(UnsafeApi.getShort(address + i)) & 0xFFFF;
        }
        if (i < length)
        {
            sum += (UnsafeApi.getByte(address + i) & 0xFF) << 8;
        }
        return sum;
    }

    /** @return the folded, complemented 16-bit checksum of a {@link #sum}. */
    public static int finish(final long sum)
    {
        long s = sum;
        while ((s >>> 16) != 0)
        {
            s = (s & 0xFFFF) + (s >>> 16);
        }
        return (int)(~s & 0xFFFF);
    }

    private static int be16(final long address)
    {
        return Short.reverseBytes(UnsafeApi.getShort(address)) & 0xFFFF;
    }

    private static void putBe16(final long address, final int value)
    {
        UnsafeApi.putShort(address, Short.reverseBytes((short)value));
    }
}
