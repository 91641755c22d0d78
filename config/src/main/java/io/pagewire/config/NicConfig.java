package io.pagewire.config;

import java.util.Objects;

/**
 * The NIC port, table {@code [nic]}.
 *
 * @param type     {@code nic.type}: the kind of port.
 * @param ringSize {@code nic.ring.size}: frames in each port ring, a power of two in 2..65536.
 */
public record NicConfig(NicType type, int ringSize)
{
    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public NicConfig
    {
        Objects.requireNonNull(type, "type");
    }
}
