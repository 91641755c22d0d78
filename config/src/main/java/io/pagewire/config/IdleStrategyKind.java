package io.pagewire.config;

/**
 * What the dataplane thread does after a duty cycle that found no work. Key {@code dataplane.idle_strategy}.
 * <p>
 * Only the choice lives here; the dataplane maps it to an Agrona {@code IdleStrategy}, so config depends on nothing.
 */
public enum IdleStrategyKind implements ConfigEnum
{
    /** Spin without yielding: lowest latency, one core at 100%. */
    BUSY_SPIN("busy-spin"),

    /** {@code Thread.yield()} between empty cycles. */
    YIELD("yield"),

    /** Spin, then yield, then park for growing periods (Agrona's {@code BackoffIdleStrategy}). */
    BACKOFF("backoff"),

    /** Park for a fixed short period between empty cycles. */
    SLEEP("sleep");

    private final String configName;

    IdleStrategyKind(final String configName)
    {
        this.configName = configName;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String configName()
    {
        return configName;
    }
}
