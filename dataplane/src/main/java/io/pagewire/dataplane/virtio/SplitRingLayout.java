package io.pagewire.dataplane.virtio;

/**
 * Byte layout of a split virtqueue (virtio 1.2 §2.7): the descriptor table, the available ring and the used ring.
 * All fields are little-endian (VIRTIO_F_VERSION_1; legacy devices on x86 are little-endian too).
 * <pre>
 * Descriptor table: queueSize entries of 16 bytes, 16-byte aligned (§2.7.5)
 *   0                   8               12      14      16
 *   +-------------------+---------------+-------+-------+
 *   | addr (u64)        | len (u32)     | flags | next  |
 *   +-------------------+---------------+-------+-------+
 *
 * Available ring (driver writes, device reads), 2-byte aligned (§2.7.6)
 *   0       2       4                          4+2n          6+2n
 *   +-------+-------+--------------------------+-------------+
 *   | flags | idx   | ring[n] (u16 heads)      | used_event  |
 *   +-------+-------+--------------------------+-------------+
 *
 * Used ring (device writes, driver reads), 4-byte aligned (§2.7.8)
 *   0       2       4                          4+8n          6+8n
 *   +-------+-------+--------------------------+-------------+
 *   | flags | idx   | ring[n] {id u32, len u32}| avail_event |
 *   +-------+-------+--------------------------+-------------+
 * </pre>
 * {@code used_event} exists only with VIRTIO_F_EVENT_IDX but its space is always reserved, likewise
 * {@code avail_event}.
 */
public final class SplitRingLayout
{
    /** Largest queue size a split virtqueue may have (§2.7: "Queue Size ... maximum of 32768"). */
    public static final int MAX_QUEUE_SIZE = 32768;

    /** Size of one descriptor table entry. */
    public static final int DESC_SIZE = 16;
    /** Offset of {@code addr} (u64) in a descriptor: guest-physical address of the buffer. */
    public static final int DESC_ADDR_OFFSET = 0;
    /** Offset of {@code len} (u32) in a descriptor. */
    public static final int DESC_LEN_OFFSET = 8;
    /** Offset of {@code flags} (u16) in a descriptor. */
    public static final int DESC_FLAGS_OFFSET = 12;
    /** Offset of {@code next} (u16) in a descriptor. */
    public static final int DESC_NEXT_OFFSET = 14;

    /** VIRTQ_DESC_F_NEXT: the buffer continues via the {@code next} field. */
    public static final int DESC_F_NEXT = 1;
    /** VIRTQ_DESC_F_WRITE: the buffer is device write-only (otherwise device read-only). */
    public static final int DESC_F_WRITE = 2;
    /** VIRTQ_DESC_F_INDIRECT: the buffer holds a table of descriptors (§2.7.5.3). */
    public static final int DESC_F_INDIRECT = 4;

    /** Offset of {@code flags} (u16) in the available ring. */
    public static final int AVAIL_FLAGS_OFFSET = 0;
    /** Offset of {@code idx} (u16) in the available ring: where the driver will put the next head. */
    public static final int AVAIL_IDX_OFFSET = 2;
    /** Offset of {@code ring[0]} in the available ring. */
    public static final int AVAIL_RING_OFFSET = 4;
    /** Size of one available ring element (a u16 descriptor head). */
    public static final int AVAIL_ELEMENT_SIZE = 2;
    /** VIRTQ_AVAIL_F_NO_INTERRUPT: the driver asks not to be interrupted (ignored with EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    /** Offset of {@code flags} (u16) in the used ring. */
    public static final int USED_FLAGS_OFFSET = 0;
    /** Offset of {@code idx} (u16) in the used ring: where the device will put the next used element. */
    public static final int USED_IDX_OFFSET = 2;
    /** Offset of {@code ring[0]} in the used ring. */
    public static final int USED_RING_OFFSET = 4;
    /** Size of one used ring element. */
    public static final int USED_ELEMENT_SIZE = 8;
    /** Offset of {@code id} (u32, the chain's head index) in a used element. */
    public static final int USED_ELEMENT_ID_OFFSET = 0;
    /** Offset of {@code len} (u32, bytes written into the chain) in a used element. */
    public static final int USED_ELEMENT_LEN_OFFSET = 4;
    /** VIRTQ_USED_F_NO_NOTIFY: the device asks not to be kicked (ignored with EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Required alignment of the descriptor table (§2.7, table "Virtqueue Part Alignment"). */
    public static final int DESC_TABLE_ALIGNMENT = 16;
    /** Required alignment of the available ring. */
    public static final int AVAIL_RING_ALIGNMENT = 2;
    /** Required alignment of the used ring. */
    public static final int USED_RING_ALIGNMENT = 4;

    private SplitRingLayout()
    {
    }

    /**
     * Checks a queue size.
     *
     * @param queueSize the size the driver or the config asked for.
     * @throws IllegalArgumentException naming the value when it is not a power of two in 1..32768.
     */
    public static void checkQueueSize(final int queueSize)
    {
        if (queueSize < 1 || queueSize > MAX_QUEUE_SIZE || Integer.bitCount(queueSize) != 1)
        {
            throw new IllegalArgumentException(
                "queue size=" + queueSize + ": must be a power of two in 1.." + MAX_QUEUE_SIZE);
        }
    }

    /** @return bytes taken by the descriptor table of a queue of this size. */
    public static int descTableLength(final int queueSize)
    {
        return DESC_SIZE * queueSize;
    }

    /** @return bytes taken by the available ring, {@code used_event} included. */
    public static int availRingLength(final int queueSize)
    {
        return AVAIL_RING_OFFSET + AVAIL_ELEMENT_SIZE * queueSize + 2;
    }

    /** @return bytes taken by the used ring, {@code avail_event} included. */
    public static int usedRingLength(final int queueSize)
    {
        return USED_RING_OFFSET + USED_ELEMENT_SIZE * queueSize + 2;
    }

    /** @return offset of {@code used_event} (u16) in the available ring. */
    public static int usedEventOffset(final int queueSize)
    {
        return AVAIL_RING_OFFSET + AVAIL_ELEMENT_SIZE * queueSize;
    }

    /** @return offset of {@code avail_event} (u16) in the used ring. */
    public static int availEventOffset(final int queueSize)
    {
        return USED_RING_OFFSET + USED_ELEMENT_SIZE * queueSize;
    }

    /** @return offset in the available ring of the head at ring position {@code index & (queueSize - 1)}. */
    public static int availElementOffset(final int index, final int mask)
    {
        return AVAIL_RING_OFFSET + AVAIL_ELEMENT_SIZE * (index & mask);
    }

    /** @return offset in the used ring of the element at ring position {@code index & (queueSize - 1)}. */
    public static int usedElementOffset(final int index, final int mask)
    {
        return USED_RING_OFFSET + USED_ELEMENT_SIZE * (index & mask);
    }

    /**
     * The spec's {@code vring_need_event} (§2.7.10): whether moving an index from {@code oldIdx} to {@code newIdx}
     * crossed {@code eventIdx}, all as u16 with wrap-around.
     */
    public static boolean needsEvent(final int eventIdx, final int newIdx, final int oldIdx)
    {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }
}
