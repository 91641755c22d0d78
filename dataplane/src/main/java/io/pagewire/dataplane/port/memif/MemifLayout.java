package io.pagewire.dataplane.port.memif;

/**
 * Byte layouts of memif, the shared-memory packet interface of VPP and DPDK ({@code net_memif}), version 2.0: the
 * control messages sent over the {@code SOCK_SEQPACKET} socket and the descriptor rings in shared memory. Offsets and
 * values are those of DPDK's {@code drivers/net/memif/memif.h} (structs are {@code __rte_packed}, little-endian);
 * "S2M" (slave to master) is today's "C2S" (client to server), "M2S" is "S2C".
 *
 * <h2>Control message (every message is exactly 128 bytes)</h2>
 * <pre>
 *   0      2                                                                                   128
 *   +------+-----------------------------------------------------------------------------------+
 *   | type | body (one of the structs below, from offset 2; the rest is zero)                   |
 *   | u16  |                                                                                   |
 *   +------+-----------------------------------------------------------------------------------+
 *   HELLO       (server to client)  name[32] @2, min_version u16 @34, max_version u16 @36, max_region u16 @38,
 *                                   max_m2s_ring u16 @40, max_s2m_ring u16 @42, max_log2_ring_size u8 @44
 *                                   (the max_* are highest indices, not counts)
 *   INIT        (client to server)  version u16 @2, id u32 @4, mode u8 @8 (0 = ethernet), secret[24] @9, name[32] @33
 *   ADD_REGION  (client, + 1 fd)    index u16 @2, size u64 @4                     fd: the region's memfd
 *   ADD_RING    (client, + 1 fd)    flags u16 @2 (bit 0: S2M), index u16 @4, region u16 @6, offset u32 @8,
 *                                   log2_ring_size u8 @12, private_hdr_size u16 @13   fd: the ring's eventfd
 *   CONNECT     (client to server)  if_name[32] @2
 *   CONNECTED   (server to client)  if_name[32] @2
 *   DISCONNECT  (either side)       code u32 @2, string[96] @6
 *   ACK         (server to client, after INIT, ADD_REGION, ADD_RING)  no body
 * </pre>
 * Sequence: the server sends HELLO on accept; the client answers INIT; each later client message is sent when the
 * server's answer to the previous one (ACK) arrives: ADD_REGION for each region, ADD_RING for each S2M then each M2S
 * ring, CONNECT; the server maps everything and answers CONNECTED.
 *
 * <h2>Ring (in a region, at the offset ADD_RING names)</h2>
 * <pre>
 *   0        4       6       8                                                                  64
 *   +--------+-------+-------+------------------------------------------------------------------+
 *   | cookie | flags | head  | (rest of cache line 0)                                           |
 *   | u32    | u16   | u16   |                                                                  |
 *   +--------+-------+-------+------------------------------------------------------------------+
 *   64       66                                                                                 128
 *   +--------+----------------------------------------------------------------------------------+
 *   | tail   | (rest of cache line 1)                                                           |
 *   | u16    |                                                                                  |
 *   +--------+----------------------------------------------------------------------------------+
 *   128: descriptors, (1 &lt;&lt; log2_ring_size) of 16 bytes each
 *   0       2        4        8        12         16
 *   +-------+--------+--------+--------+----------+
 *   | flags | region | length | offset | metadata |
 *   | u16   | u16    | u32    | u32    | u32      |
 *   +-------+--------+--------+--------+----------+
 * </pre>
 * {@code cookie} is {@link #COOKIE}. {@code head} is always written by the client and {@code tail} by the server,
 * both free-running u16 counts (slot = index &amp; (size - 1)):
 * <ul>
 *   <li>S2M (C2S) ring: the client fills descriptors (buffer in {@code offset}, bytes in {@code length}) and
 *       advances {@code head}; the server consumes them and advances {@code tail}.</li>
 *   <li>M2S (S2C) ring: the client hands free buffers over by setting each descriptor's {@code length} to the buffer
 *       size and advancing {@code head}; the server writes frames into them (the client's {@code offset}), sets
 *       {@code length} to the bytes written and advances {@code tail}; the client consumes up to {@code tail}.</li>
 * </ul>
 * A frame longer than a buffer spans descriptors chained with {@link #DESC_FLAG_NEXT}. Indices are published with
 * release stores and read with acquire loads (DPDK {@code rte_atomic_store_explicit(..., release)}).
 * {@link #RING_FLAG_MASK_INT} in a ring's {@code flags}, set by the side that receives on it, tells the sender not
 * to signal the ring's eventfd: that side polls.
 */
public final class MemifLayout
{
    /** {@code MEMIF_COOKIE}: the first u32 of every ring. */
    public static final int COOKIE = 0x3E31F20;
    /** {@code MEMIF_VERSION_MAJOR}. */
    public static final int VERSION_MAJOR = 2;
    /** {@code MEMIF_VERSION_MINOR}. */
    public static final int VERSION_MINOR = 0;
    /** {@code MEMIF_VERSION}: {@code major << 8 | minor} = 0x0200. */
    public static final int VERSION = (VERSION_MAJOR << 8) | VERSION_MINOR;
    /** {@code MEMIF_NAME_SZ}. */
    public static final int NAME_LENGTH = 32;
    /** Bytes of the disconnect reason string. */
    public static final int DISCONNECT_STRING_LENGTH = 96;
    /** Bytes of the INIT secret. */
    public static final int SECRET_LENGTH = 24;

    /** {@code sizeof(memif_msg_t)}: {@code __rte_aligned(128)}. */
    public static final int MESSAGE_LENGTH = 128;
    /** Offset of the message type (u16). */
    public static final int TYPE_OFFSET = 0;

    /** {@code MEMIF_MSG_TYPE_NONE}. */
    public static final int MSG_NONE = 0;
    /** {@code MEMIF_MSG_TYPE_ACK}. */
    public static final int MSG_ACK = 1;
    /** {@code MEMIF_MSG_TYPE_HELLO}. */
    public static final int MSG_HELLO = 2;
    /** {@code MEMIF_MSG_TYPE_INIT}. */
    public static final int MSG_INIT = 3;
    /** {@code MEMIF_MSG_TYPE_ADD_REGION}. */
    public static final int MSG_ADD_REGION = 4;
    /** {@code MEMIF_MSG_TYPE_ADD_RING}. */
    public static final int MSG_ADD_RING = 5;
    /** {@code MEMIF_MSG_TYPE_CONNECT}. */
    public static final int MSG_CONNECT = 6;
    /** {@code MEMIF_MSG_TYPE_CONNECTED}. */
    public static final int MSG_CONNECTED = 7;
    /** {@code MEMIF_MSG_TYPE_DISCONNECT}. */
    public static final int MSG_DISCONNECT = 8;

    /** HELLO: name[32]. */
    public static final int HELLO_NAME_OFFSET = 2;
    /** HELLO: min_version u16. */
    public static final int HELLO_MIN_VERSION_OFFSET = 34;
    /** HELLO: max_version u16. */
    public static final int HELLO_MAX_VERSION_OFFSET = 36;
    /** HELLO: max_region u16 (highest region index). */
    public static final int HELLO_MAX_REGION_OFFSET = 38;
    /** HELLO: max_m2s_ring u16 (highest M2S ring index). */
    public static final int HELLO_MAX_M2S_RING_OFFSET = 40;
    /** HELLO: max_s2m_ring u16 (highest S2M ring index). */
    public static final int HELLO_MAX_S2M_RING_OFFSET = 42;
    /** HELLO: max_log2_ring_size u8. */
    public static final int HELLO_MAX_LOG2_RING_SIZE_OFFSET = 44;

    /** INIT: version u16. */
    public static final int INIT_VERSION_OFFSET = 2;
    /** INIT: id u32. */
    public static final int INIT_ID_OFFSET = 4;
    /** INIT: mode u8. */
    public static final int INIT_MODE_OFFSET = 8;
    /** INIT: secret[24]. */
    public static final int INIT_SECRET_OFFSET = 9;
    /** INIT: name[32]. */
    public static final int INIT_NAME_OFFSET = 33;
    /** {@code MEMIF_INTERFACE_MODE_ETHERNET}. */
    public static final int MODE_ETHERNET = 0;

    /** ADD_REGION: index u16. */
    public static final int ADD_REGION_INDEX_OFFSET = 2;
    /** ADD_REGION: size u64. */
    public static final int ADD_REGION_SIZE_OFFSET = 4;

    /** ADD_RING: flags u16. */
    public static final int ADD_RING_FLAGS_OFFSET = 2;
    /** ADD_RING: index u16. */
    public static final int ADD_RING_INDEX_OFFSET = 4;
    /** ADD_RING: region u16. */
    public static final int ADD_RING_REGION_OFFSET = 6;
    /** ADD_RING: offset u32 (of the ring in its region). */
    public static final int ADD_RING_OFFSET_OFFSET = 8;
    /** ADD_RING: log2_ring_size u8. */
    public static final int ADD_RING_LOG2_RING_SIZE_OFFSET = 12;
    /** ADD_RING: private_hdr_size u16. */
    public static final int ADD_RING_PRIVATE_HDR_SIZE_OFFSET = 13;
    /** {@code MEMIF_MSG_ADD_RING_FLAG_S2M}: the ring carries frames client to server. */
    public static final int ADD_RING_FLAG_S2M = 1;

    /** CONNECT / CONNECTED: if_name[32]. */
    public static final int IF_NAME_OFFSET = 2;

    /** DISCONNECT: code u32. */
    public static final int DISCONNECT_CODE_OFFSET = 2;
    /** DISCONNECT: string[96]. */
    public static final int DISCONNECT_STRING_OFFSET = 6;

    /** Ring: cookie u32. */
    public static final int RING_COOKIE_OFFSET = 0;
    /** Ring: flags u16. */
    public static final int RING_FLAGS_OFFSET = 4;
    /** Ring: head u16 (written by the client). */
    public static final int RING_HEAD_OFFSET = 6;
    /** Ring: tail u16 (written by the server), on its own cache line. */
    public static final int RING_TAIL_OFFSET = 64;
    /** Ring: the descriptors start here ({@code sizeof(memif_ring_t)}). */
    public static final int RING_HEADER_LENGTH = 128;
    /** {@code MEMIF_RING_FLAG_MASK_INT}: the receiver of this ring polls; do not signal its eventfd. */
    public static final int RING_FLAG_MASK_INT = 1;

    /** {@code sizeof(memif_desc_t)}. */
    public static final int DESC_LENGTH = 16;
    /** Descriptor: flags u16. */
    public static final int DESC_FLAGS_OFFSET = 0;
    /** Descriptor: region u16. */
    public static final int DESC_REGION_OFFSET = 2;
    /** Descriptor: length u32. */
    public static final int DESC_LENGTH_OFFSET = 4;
    /** Descriptor: offset u32 (of the buffer in its region). */
    public static final int DESC_OFFSET_OFFSET = 8;
    /** Descriptor: metadata u32. */
    public static final int DESC_METADATA_OFFSET = 12;
    /** {@code MEMIF_DESC_FLAG_NEXT}: the frame continues in the next descriptor. */
    public static final int DESC_FLAG_NEXT = 1;

    /** Largest log2 ring size pagewire offers or accepts: DPDK's {@code ETH_MEMIF_MAX_LOG2_RING_SIZE}. */
    public static final int MAX_LOG2_RING_SIZE = 14;
    /** Most regions a server accepts: DPDK's {@code ETH_MEMIF_MAX_REGION_NUM}. */
    public static final int MAX_REGIONS = 256;

    private MemifLayout()
    {
    }

    /**
     * @param log2RingSize log2 of the descriptor count.
     * @return bytes of a ring with its descriptors: {@code 128 + 16 << log2RingSize}.
     */
    public static long ringLength(final int log2RingSize)
    {
        return RING_HEADER_LENGTH + ((long)DESC_LENGTH << log2RingSize);
    }

    /**
     * @param ringAddress host address of a ring.
     * @param slot        descriptor index, below the ring size.
     * @return host address of that descriptor.
     */
    public static long descAddress(final long ringAddress, final int slot)
    {
        return ringAddress + RING_HEADER_LENGTH + (long)slot * DESC_LENGTH;
    }

    /**
     * @param type a message type.
     * @return its name in memif.h without the prefix, e.g. {@code ADD_RING}; {@code type 42} for unknown ones.
     */
    public static String messageName(final int type)
    {
        return switch (type)
        {
            case MSG_NONE -> "NONE";
            case MSG_ACK -> "ACK";
            case MSG_HELLO -> "HELLO";
            case MSG_INIT -> "INIT";
            case MSG_ADD_REGION -> "ADD_REGION";
            case MSG_ADD_RING -> "ADD_RING";
            case MSG_CONNECT -> "CONNECT";
            case MSG_CONNECTED -> "CONNECTED";
            case MSG_DISCONNECT -> "DISCONNECT";
            default -> "type " + type;
        };
    }

    /**
     * @param ringSize a descriptor count.
     * @return its log2.
     * @throws IllegalArgumentException naming the value when it is not a power of two in 1..2^14.
     */
    public static int log2RingSize(final int ringSize)
    {
        if (ringSize < 1 || ringSize > (1 << MAX_LOG2_RING_SIZE) || Integer.bitCount(ringSize) != 1)
        {
            throw new IllegalArgumentException("memif ring size=" + ringSize + ": must be a power of two in 1.." +
                (1 << MAX_LOG2_RING_SIZE) + " (DPDK net_memif's largest ring is 2^" + MAX_LOG2_RING_SIZE + ")");
        }
        return Integer.numberOfTrailingZeros(ringSize);
    }
}
