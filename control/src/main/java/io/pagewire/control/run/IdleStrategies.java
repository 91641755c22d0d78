package io.pagewire.control.run;

import io.pagewire.config.IdleStrategyKind;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

import java.util.concurrent.TimeUnit;

/** The one mapping from {@code dataplane.idle_strategy} to an Agrona idle strategy for the busy threads. */
final class IdleStrategies
{
    private IdleStrategies()
    {
    }

    /** @return a fresh idle strategy (they hold per-thread state) for the configured kind. */
    static IdleStrategy of(final IdleStrategyKind kind)
    {
        return switch (kind)
        {
            case BUSY_SPIN -> new BusySpinIdleStrategy();
            case YIELD -> new YieldingIdleStrategy();
            case BACKOFF -> new BackoffIdleStrategy();
            case SLEEP -> new SleepingIdleStrategy(TimeUnit.MICROSECONDS.toNanos(50));
        };
    }
}
