package io.pagewire.dataplane.virtio;

import org.agrona.UnsafeApi;

import java.nio.ByteOrder;

/**
 * Layout of {@code struct virtio_net_hdr} and {@code virtio_net_hdr_mrg_rxbuf} (virtio 1.2 §5.1.6), little-endian.
 * <pre>
 *   0       1          2            4            6             8              10             12
 *   +-------+----------+------------+------------+-------------+--------------+--------------+
 *   | flags | gso_type | hdr_len    | gso_size   | csum_start  | csum_offset  | num_buffers  |
 *   +-------+----------+------------+------------+-------------+--------------+--------------+
 *                                                                   legacy header ends here ^
 * </pre>
 * The header is 12 bytes ({@code num_buffers} included) when MRG_RXBUF or VERSION_1 is negotiated, else 10
 * (§5.1.6: "num_buffers ... only present if VIRTIO_NET_F_MRG_RXBUF or VIRTIO_F_VERSION_1 is negotiated").
 */
public final class VirtioNetHeader
{
    /** Length of the legacy header without {@code num_buffers}. */
    public static final int LEGACY_LENGTH = 10;
    /** Length of the header with {@code num_buffers}. */
    public static final int MRG_RXBUF_LENGTH = 12;

    /** Offset of {@code flags} (u8). */
    public static final int FLAGS_OFFSET = 0;
    /** Offset of {@code gso_type} (u8). */
    public static final int GSO_TYPE_OFFSET = 1;
    /** Offset of {@code hdr_len} (u16). */
    public static final int HDR_LEN_OFFSET = 2;
    /** Offset of {@code gso_size} (u16). */
    public static final int GSO_SIZE_OFFSET = 4;
    /** Offset of {@code csum_start} (u16). */
    public static final int CSUM_START_OFFSET = 6;
    /** Offset of {@code csum_offset} (u16). */
    public static final int CSUM_OFFSET_OFFSET = 8;
    /** Offset of {@code num_buffers} (u16). */
    public static final int NUM_BUFFERS_OFFSET = 10;

    /** VIRTIO_NET_HDR_F_NEEDS_CSUM. */
    public static final int F_NEEDS_CSUM = 1;
    /** VIRTIO_NET_HDR_F_DATA_VALID. */
    public static final int F_DATA_VALID = 2;
    /** VIRTIO_NET_HDR_F_RSC_INFO. */
    public static final int F_RSC_INFO = 4;

    /** VIRTIO_NET_HDR_GSO_NONE. */
    public static final int GSO_NONE = 0;
    /** VIRTIO_NET_HDR_GSO_TCPV4. */
    public static final int GSO_TCPV4 = 1;
    /** VIRTIO_NET_HDR_GSO_UDP. */
    public static final int GSO_UDP = 3;
    /** VIRTIO_NET_HDR_GSO_TCPV6. */
    public static final int GSO_TCPV6 = 4;
    /** VIRTIO_NET_HDR_GSO_UDP_L4. */
    public static final int GSO_UDP_L4 = 5;
    /** VIRTIO_NET_HDR_GSO_ECN, or-ed into gso_type. */
    public static final int GSO_ECN = 0x80;

    /** Largest frame pagewire carries (without the header): the 16-bit IP total length's limit plus nothing more. */
    public static final int MAX_FRAME_LENGTH = 65535;

    private VirtioNetHeader()
    {
    }

    /**
     * Writes the first 10 bytes of a header (all but {@code num_buffers}), little-endian as §5.1.6 lays it out.
     *
     * @param address where the header goes (a staging buffer or a transmit slot's headroom).
     * @return {@code address}.
     */
    public static long write(
        final long address, final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset)
    {
        UnsafeApi.putByte(address + FLAGS_OFFSET, (byte)flags);
        UnsafeApi.putByte(address + GSO_TYPE_OFFSET, (byte)gsoType);
        putShortLe(address + HDR_LEN_OFFSET, hdrLen);
        putShortLe(address + GSO_SIZE_OFFSET, gsoSize);
        putShortLe(address + CSUM_START_OFFSET, csumStart);
        putShortLe(address + CSUM_OFFSET_OFFSET, csumOffset);
        return address;
    }

    private static void putShortLe(final long address, final int value)
    {
        final short s = (short)value;
        UnsafeApi.putShort(address, ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? s : Short.reverseBytes(s));
    }

    /**
     * @param negotiatedFeatures the features the driver accepted.
     * @return 12 when MRG_RXBUF or VERSION_1 was negotiated, else 10.
     */
    public static int length(final long negotiatedFeatures)
    {
        return (negotiatedFeatures & (FeatureBit.MRG_RXBUF.mask() | FeatureBit.VERSION_1.mask())) != 0 ?
            MRG_RXBUF_LENGTH : LEGACY_LENGTH;
    }
}
