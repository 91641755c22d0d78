package io.pagewire.config;

import java.util.Objects;

/**
 * The NIC port, table {@code [nic]}.
 *
 * @param type     {@code nic.type}: the kind of port.
 * @param ringSize {@code nic.ring.size}: frames in each port ring, a power of two in 2..65536.
 * @param slotSize {@code nic.slot_size}: bytes of each ring slot, a power of two in 128..131072: a
 *                 {@link #SLOT_HEADER_BYTES}-byte slot header and the frame.
 */
public record NicConfig(NicType type, int ringSize, int slotSize)
{
    /** Bytes of the header at the start of each NIC ring slot, before the frame. */
    public static final int SLOT_HEADER_BYTES = 8;

    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public NicConfig
    {
        Objects.requireNonNull(type, "type");
    }

    /**
     * @return the largest frame a slot holds: {@code slotSize - }{@link #SLOT_HEADER_BYTES}.
     */
    public int maxFrameSize()
    {
        return slotSize - SLOT_HEADER_BYTES;
    }
}
