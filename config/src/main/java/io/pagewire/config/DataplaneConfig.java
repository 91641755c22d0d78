package io.pagewire.config;

import java.util.Objects;

/**
 * The dataplane threads, table {@code [dataplane]}.
 *
 * @param burst        {@code dataplane.burst}: most frames moved per queue per duty cycle, in 1..1024 and at most the
 *                     smaller virtqueue.
 * @param idleStrategy {@code dataplane.idle_strategy}: what the thread does after a cycle with no work.
 * @param cpu          {@code dataplane.cpu}: the CPU to pin the thread to, or {@link #NO_PINNING}.
 * @param rxPolicy     {@code dataplane.rx_policy}: what happens to a frame when the guest has posted too few RX
 *                     buffers for it.
 * @param agents       {@code dataplane.agents}: dataplane threads, in 1..16 and at most {@code guest.queue_pairs};
 *                     queue pairs are split across them round-robin.
 */
public record DataplaneConfig(int burst, IdleStrategyKind idleStrategy, int cpu, RxPolicyKind rxPolicy, int agents)
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
     * The components that predate {@code dataplane.agents}; {@code agents} takes its registry default.
     */
    public DataplaneConfig(
        final int burst, final IdleStrategyKind idleStrategy, final int cpu, final RxPolicyKind rxPolicy)
    {
        this(burst, idleStrategy, cpu, rxPolicy, (Integer)ConfigKey.DATAPLANE_AGENTS.defaultValue());
    }

    /**
     * @return true when the thread is to be pinned to {@link #cpu()}.
     */
    public boolean pinned()
    {
        return cpu != NO_PINNING;
    }
}
