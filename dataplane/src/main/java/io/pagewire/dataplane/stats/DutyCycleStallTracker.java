package io.pagewire.dataplane.stats;

import org.agrona.concurrent.status.AtomicCounter;

/**
 * Measures the time between consecutive duty cycles of the dataplane agent, keeps the longest in one counter and
 * counts the cycles longer than a threshold in another (Aeron's {@code DutyCycleStallTracker}). A long cycle means a
 * stall: a GC pause, a preempted thread, a slow command; every frame waiting in that time waited that long.
 * <p>
 * Used by the agent's thread only: {@link #update(long)} when the agent starts, then
 * {@link #measureAndUpdate(long)} at each clock read: once per duty cycle, or once per window of cycles when the agent
 * reads the clock less often (a busy-spinning dataplane: see {@code DataplaneAgent}). No allocation.
 */
public final class DutyCycleStallTracker
{
    private final AtomicCounter maxCycleTimeNs;
    private final AtomicCounter cycleTimeThresholdExceeded;
    private final long cycleTimeThresholdNs;
    private long timeOfLastUpdateNs;

    /**
     * @param maxCycleTimeNs             the longest cycle seen, in ns.
     * @param cycleTimeThresholdExceeded the number of cycles longer than the threshold.
     * @param cycleTimeThresholdNs       a cycle longer than this is a stall, > 0.
     */
    public DutyCycleStallTracker(
        final AtomicCounter maxCycleTimeNs,
        final AtomicCounter cycleTimeThresholdExceeded,
        final long cycleTimeThresholdNs)
    {
        if (cycleTimeThresholdNs <= 0)
        {
            throw new IllegalArgumentException("cycleTimeThresholdNs=" + cycleTimeThresholdNs + ": must be > 0");
        }
        this.maxCycleTimeNs = maxCycleTimeNs;
        this.cycleTimeThresholdExceeded = cycleTimeThresholdExceeded;
        this.cycleTimeThresholdNs = cycleTimeThresholdNs;
    }

    /**
     * Starts a measurement without reporting one: at agent start, or after a deliberate pause.
     *
     * @param nowNs the current {@link System#nanoTime()}.
     */
    public void update(final long nowNs)
    {
        timeOfLastUpdateNs = nowNs;
    }

    /**
     * Reports the time since the last call and starts the next measurement.
     *
     * @param nowNs the current {@link System#nanoTime()}, read once by the duty cycle.
     */
    public void measureAndUpdate(final long nowNs)
    {
        reportMeasurement(nowNs - timeOfLastUpdateNs);
        timeOfLastUpdateNs = nowNs;
    }

    /**
     * @param cycleTimeNs the length of one duty cycle.
     */
    public void reportMeasurement(final long cycleTimeNs)
    {
        // Single writer: proposeMaxRelease is a plain compare then a release store, no CAS loop.
        maxCycleTimeNs.proposeMaxRelease(cycleTimeNs);
        if (cycleTimeNs > cycleTimeThresholdNs)
        {
            cycleTimeThresholdExceeded.incrementRelease();
        }
    }

    /**
     * @return the stall threshold, in ns.
     */
    public long cycleTimeThresholdNs()
    {
        return cycleTimeThresholdNs;
    }
}
