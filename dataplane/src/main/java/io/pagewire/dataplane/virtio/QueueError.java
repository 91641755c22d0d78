package io.pagewire.dataplane.virtio;

/**
 * Why a device-side virtqueue stopped: the guest gave it something the spec forbids. Each reason has a counter; the
 * first one seen is kept as the queue's {@link DeviceVirtqueue#brokenReason()} and the device sets
 * DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2).
 */
public enum QueueError
{
    /** avail.idx moved more than the queue size past the device's last seen index (§2.7.13.3). */
    AVAIL_INDEX_JUMP("available index jumped by more than the queue size"),
    /** A head in the available ring is not below the queue size. */
    HEAD_OUT_OF_RANGE("descriptor head out of range"),
    /** A descriptor's next field is not below the size of its table. */
    NEXT_OUT_OF_RANGE("next descriptor index out of range"),
    /** The chain visits more descriptors than its table holds, so it must loop (§2.7.5.2). */
    CHAIN_TOO_LONG("descriptor chain longer than its table (a loop)"),
    /** VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3.1). */
    INDIRECT_NOT_NEGOTIATED("indirect descriptor without INDIRECT_DESC"),
    /** VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (§2.7.5.3.1). */
    INDIRECT_WITH_NEXT("indirect descriptor with NEXT set"),
    /** An indirect descriptor inside an indirect table (§2.7.5.3.1). */
    NESTED_INDIRECT("indirect descriptor inside an indirect table"),
    /** An indirect table whose length is 0 or not a multiple of 16 (§2.7.5.3.1). */
    INDIRECT_LENGTH("indirect table length not a non-zero multiple of 16"),
    /** An indirect table with more entries than the queue size. */
    INDIRECT_TOO_LARGE("indirect table larger than the queue size"),
    /** A descriptor's [addr, addr+len) is not inside one guest memory region. */
    ADDRESS_NOT_MAPPED("descriptor range outside guest memory"),
    /** A device-readable descriptor in a receive chain (the device can only write there). */
    READABLE_IN_RX("device-readable descriptor in a receive chain"),
    /** A device-writable descriptor in a transmit chain (§2.7.4.2: readable descriptors only, for the net TX queue). */
    WRITABLE_IN_TX("device-writable descriptor in a transmit chain"),
    /** The sum of a chain's lengths exceeds 2^32-1, which a used element's u32 len cannot describe. */
    LENGTH_OVERFLOW("chain length overflows 32 bits"),
    /** A transmit chain shorter than the virtio-net header (§5.1.6.2). */
    HEADER_TRUNCATED("transmit chain shorter than the virtio-net header"),
    /**
     * Touching the queue pair's memory faulted (SIGBUS): the frontend shrank the file behind a region after sharing
     * it, or its pages cannot be had. Not a spec violation but the same outcome: the pair stops, control disconnects.
     */
    MEMORY_FAULT("a fault touching the frontend's shared memory (shrunk or unbacked)"),
    /**
     * A receive chain whose descriptors hold 0 bytes in all: it can hold no frame (Linux vhost-net refuses it as well;
     * with MRG_RXBUF every buffer MUST hold at least the virtio-net header, §5.1.6.3.1).
     */
    EMPTY_RX_CHAIN("receive chain that can hold no byte");

    private final String description;

    QueueError(final String description)
    {
        this.description = description;
    }

    /** @return a human description for logs and summaries. */
    public String description()
    {
        return description;
    }
}
