package io.pagewire.control.run;

import io.pagewire.config.IdleStrategyKind;
import io.pagewire.dataplane.engine.DataplaneAgent;
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

    /**
     * @return duty cycles per clock read of a dataplane agent running with this idle strategy: a busy-spinning agent
     * samples the clock ({@link DataplaneAgent#CLOCK_SAMPLE_CYCLES}), one that parks reads it every cycle so parked
     * time does not add up to false stalls.
     */
    static int clockSampleCycles(final IdleStrategyKind kind)
    {
        return kind == IdleStrategyKind.BUSY_SPIN ? DataplaneAgent.CLOCK_SAMPLE_CYCLES : 1;
    }
}
