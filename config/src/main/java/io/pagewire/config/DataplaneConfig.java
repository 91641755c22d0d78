package io.pagewire.config;

import java.util.Objects;

/**
 * The dataplane thread, table {@code [dataplane]}.
 *
 * @param burst        {@code dataplane.burst}: most frames moved per queue per duty cycle, in 1..1024 and at most the
 *                     smaller virtqueue.
 * @param idleStrategy {@code dataplane.idle_strategy}: what the thread does after a cycle with no work.
 * @param cpu          {@code dataplane.cpu}: the CPU to pin the thread to, or {@link #NO_PINNING}.
 * @param rxPolicy     {@code dataplane.rx_policy}: what happens to a frame when the guest has posted too few RX
 *                     buffers for it.
 */
public record DataplaneConfig(int burst, IdleStrategyKind idleStrategy, int cpu, RxPolicyKind rxPolicy)
{
    /** The {@code dataplane.cpu} value that leaves the thread unpinned. */
    public static final int NO_PINNING = -1;

    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public DataplaneConfig
    {
        Objects.requireNonNull(idleStrategy, "idleStrategy");
        Objects.requireNonNull(rxPolicy, "rxPolicy");
    }

    /**
     * @return true when the thread is to be pinned to {@link #cpu()}.
     */
    public boolean pinned()
    {
        return cpu != NO_PINNING;
    }
}
