package io.pagewire.config;

import java.util.Objects;

/**
 * The bridge between the ports, table {@code [bridge]}.
 *
 * @param mode     {@code bridge.mode}: learning or patch; always {@link BridgeMode#PATCH} for the single-guest
 *                 shorthand (no {@code [port.NAME]} table), which the {@link PagewireConfig} it belongs to resolves.
 * @param agingS   {@code bridge.aging_s}: seconds a learned address lives without a frame from it, in 1..86400.
 * @param fdbSize  {@code bridge.fdb_size}: entries of the forwarding database, a power of two in 256..1048576 (its table is on the heap).
 * @param macLimit {@code bridge.mac_limit}: addresses one port may have learned at once unless the port sets its
 *                 own {@code mac_limit}, in 0..16777216 and at most {@code fdbSize}; {@link #NO_MAC_LIMIT} = none.
 */
public record BridgeConfig(BridgeMode mode, int agingS, int fdbSize, int macLimit)
{
    /** The {@code bridge.mac_limit} (and {@code port.NAME.mac_limit}) value that sets no per-port limit. */
    public static final int NO_MAC_LIMIT = 0;

    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public BridgeConfig
    {
        Objects.requireNonNull(mode, "mode");
    }

    /**
     * @return this table with {@code mode} replaced.
     */
    BridgeConfig withMode(final BridgeMode newMode)
    {
        return newMode == mode ? this : new BridgeConfig(newMode, agingS, fdbSize, macLimit);
    }
}
