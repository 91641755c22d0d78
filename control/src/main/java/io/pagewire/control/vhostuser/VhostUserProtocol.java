package io.pagewire.control.vhostuser;

/**
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst), little-endian, as pagewire's backend speaks it.
 * <pre>
 * Header (12 bytes), then "size" bytes of payload; file descriptors travel as SCM_RIGHTS ancillary data.
 *   0         4         8         12
 *   +---------+---------+---------+--------------------...
 *   | request | flags   | size    | payload
 *   +---------+---------+---------+--------------------...
 *   flags: bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY
 *
 * Payloads:
 *   u64            8 bytes                 (features, protocol features, queue num, status, vring file)
 *   vring state    index u32, num u32      (SET_VRING_NUM, SET/GET_VRING_BASE, SET_VRING_ENABLE)
 *   vring address  index u32, flags u32, desc u64, used u64, avail u64, log u64   (40 bytes)
 *   vring file     u64: index in bits 0-7, bit 8 = NOFD (no fd follows: polling)
 *   memory         nregions u32, padding u32, then nregions x
 *                  { guest_phys_addr u64, memory_size u64, userspace_addr u64, mmap_offset u64 }, one fd each
 * </pre>
 */
public final class VhostUserProtocol
{
    /** Header length. */
    public static final int HEADER_LENGTH = 12;
    /** Offset of the request code. */
    public static final int REQUEST_OFFSET = 0;
    /** Offset of the flags. */
    public static final int FLAGS_OFFSET = 4;
    /** Offset of the payload size. */
    public static final int SIZE_OFFSET = 8;
    /** Largest payload pagewire accepts: a memory table of 8 regions is 264 bytes; config space is 256 + 12. */
    public static final int MAX_PAYLOAD = 4096;

    /** The protocol version in the low flag bits. */
    public static final int VERSION = 1;
    /** Mask of the version bits. */
    public static final int VERSION_MASK = 0x3;
    /** The message is a reply. */
    public static final int FLAG_REPLY = 0x4;
    /** The frontend wants a reply (with REPLY_ACK negotiated). */
    public static final int FLAG_NEED_REPLY = 0x8;

    /** Vring file: mask of the ring index. */
    public static final long VRING_INDEX_MASK = 0xFF;
    /** Vring file: no fd follows (the ring is polled). */
    public static final long VRING_NOFD = 0x100;

    /** Regions a SET_MEM_TABLE may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEM_REGIONS = 8;
    /** Size of one memory region descriptor. */
    public static final int MEM_REGION_SIZE = 32;
    /** Size of a vring address payload. */
    public static final int VRING_ADDR_SIZE = 40;
    /** Size of a vring state payload. */
    public static final int VRING_STATE_SIZE = 8;
    /** Size of a u64 payload. */
    public static final int U64_SIZE = 8;

    /** Feature bit 30 of GET_FEATURES: the backend speaks protocol features. */
    public static final long F_PROTOCOL_FEATURES = 1L << 30;

    /** Protocol feature: multiple queue pairs (GET_QUEUE_NUM). */
    public static final long PROTOCOL_F_MQ = 1L;
    /** Protocol feature: REPLY_ACK (replies to NEED_REPLY requests). */
    public static final long PROTOCOL_F_REPLY_ACK = 1L << 3;
    /** Protocol feature: RESET_DEVICE. */
    public static final long PROTOCOL_F_RESET_DEVICE = 1L << 13;
    /** Protocol feature: SET_STATUS / GET_STATUS. */
    public static final long PROTOCOL_F_STATUS = 1L << 16;

    private VhostUserProtocol()
    {
    }
}
