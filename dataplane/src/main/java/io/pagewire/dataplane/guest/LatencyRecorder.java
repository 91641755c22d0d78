package io.pagewire.dataplane.guest;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.WriterReaderPhaser;
import org.agrona.concurrent.NanoClock;

import java.util.concurrent.TimeUnit;

/**
 * Per-packet latency of the embedded traffic, recorded by one writer thread (the guest's) into an HdrHistogram and
 * handed to a reader thread (control) as interval histograms, without locks on the writer's side: HdrHistogram's
 * {@code SingleWriterRecorder} scheme (two pre-sized histograms swapped under a {@link WriterReaderPhaser}), with
 * the writer's critical section spanning a whole batch (one NAPI poll) rather than one value, so a packet costs a
 * clock read and a {@code recordValue}, not two atomic increments more.
 * <p>
 * A value is {@code clock.nanoTime() - intendedSendTimeNs}: the time since the frame was <em>due</em> at the
 * source's fixed offered rate (see {@link TrafficSource}), so a stall anywhere on the way is charged to every frame
 * that was due during it (no coordinated omission). Values are clamped to [0, {@link #HIGHEST_TRACKABLE_NS}], so
 * recording never resizes (allocates) and never throws.
 * <p>
 * Writer: {@link #beginBatch()}, {@link #recordSince(long)}..., {@link #endBatch()}, allocation-free. Reader:
 * {@link #intervalHistogram(Histogram)}, which may block briefly until the writer leaves its batch.
 */
public final class LatencyRecorder
{
    /** Largest value kept exactly; anything later is recorded as this (a minute: longer means the run stalled). */
    public static final long HIGHEST_TRACKABLE_NS = TimeUnit.SECONDS.toNanos(60);
    /** Decimal digits of precision of every recorded value (0.1 % relative error). */
    public static final int SIGNIFICANT_DIGITS = 3;

    private final NanoClock clock;
    private final WriterReaderPhaser phaser = new WriterReaderPhaser();
    private volatile Histogram active;
    private Histogram inactive;
    private Histogram writing;
    private long criticalValue;

    /**
     * @param clock the clock the intended send times were taken from ({@code System.nanoTime}, or a fake in tests).
     */
    public LatencyRecorder(final NanoClock clock)
    {
        this.clock = clock;
        active = newHistogram();
        active.setStartTimeStamp(System.currentTimeMillis());
    }

    /** @return an empty histogram of the recorder's range and precision. */
    public static Histogram newHistogram()
    {
        return new Histogram(1, HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
    }

    /** Writer: enters the critical section for a batch of {@link #recordSince} calls. */
    public void beginBatch()
    {
        criticalValue = phaser.writerCriticalSectionEnter();
        writing = active;
    }

    /**
     * Writer, inside a batch: records the time from {@code intendedSendTimeNs} to now.
     *
     * @param intendedSendTimeNs when the frame was due at the source, on the same clock.
     */
    public void recordSince(final long intendedSendTimeNs)
    {
        writing.recordValue(clamp(clock.nanoTime() - intendedSendTimeNs));
    }

    /** Writer: leaves the batch's critical section. */
    public void endBatch()
    {
        writing = null;
        phaser.writerCriticalSectionExit(criticalValue);
    }

    static long clamp(final long valueNs)
    {
        return Math.max(0, Math.min(valueNs, HIGHEST_TRACKABLE_NS));
    }

    /**
     * Reader: takes everything recorded since the previous call, as a histogram whose start and end time stamps
     * (epoch ms) bound the interval. Waits until a batch in progress ends.
     *
     * @param recycle a histogram from an earlier call to reuse (reset here), or null to allocate one.
     * @return the interval histogram; the caller owns it until it passes it back as {@code recycle}.
     */
    public synchronized Histogram intervalHistogram(final Histogram recycle)
    {
        inactive = recycle != null ? recycle : newHistogram();
        inactive.reset();
        phaser.readerLock();
        try
        {
            final Histogram sampled = active;
            final long nowMs = System.currentTimeMillis();
            inactive.setStartTimeStamp(nowMs);
            active = inactive;
            sampled.setEndTimeStamp(nowMs);
            // After the flip no writer holds the old histogram: one that entered before it has left its batch.
            phaser.flipPhase(500_000L);
            inactive = null;
            return sampled;
        }
        finally
        {
            phaser.readerUnlock();
        }
    }
}
