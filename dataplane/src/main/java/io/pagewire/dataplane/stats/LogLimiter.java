package io.pagewire.dataplane.stats;

import org.agrona.concurrent.status.AtomicCounter;

import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Rate-limits the log lines of a control-thread component: at most {@code linesPerInterval} lines per interval pass
 * to the sink; the rest are suppressed, counted, and said once, in one line, when the interval is over (at the next
 * {@link #log} or {@link #poll}). A peer that floods refused requests then costs a few lines a second on stderr, not
 * one per request: stderr may be a terminal or a pipe whose reader is slow, and a blocked write would stall the
 * control thread (the same idea as the Linux kernel's {@code printk_ratelimit}, "callbacks suppressed").
 * <p>
 * Single-threaded: used by the one thread that owns the component. Lines are built by the caller even when they are
 * then suppressed; this is the control thread, not the data path.
 */
public final class LogLimiter
{
    /** Lines let through per interval by default. */
    public static final int DEFAULT_LINES_PER_INTERVAL = 20;
    /** The default interval: one second. */
    public static final long DEFAULT_INTERVAL_NS = 1_000_000_000L;

    private final Consumer<String> sink;
    private final String source;
    private final int linesPerInterval;
    private final long intervalNs;
    private final LongSupplier clock;
    private AtomicCounter suppressedCounter;
    private long intervalStartNs;
    private int linesInInterval;
    private long suppressedInInterval;
    private long suppressed;

    /**
     * @param sink             where lines that pass go (stderr in pagewire).
     * @param source           who speaks, named in the "suppressed" line ({@code "pagewire: vhost-user"}).
     * @param linesPerInterval lines let through per interval, >= 1.
     * @param intervalNs       the interval, > 0.
     * @param clock            nanosecond clock ({@code System::nanoTime}).
     */
    public LogLimiter(
        final Consumer<String> sink,
        final String source,
        final int linesPerInterval,
        final long intervalNs,
        final LongSupplier clock)
    {
        if (linesPerInterval < 1 || intervalNs <= 0)
        {
            throw new IllegalArgumentException("linesPerInterval=" + linesPerInterval + ", intervalNs=" + intervalNs +
                ": both must be positive");
        }
        this.sink = sink;
        this.source = source;
        this.linesPerInterval = linesPerInterval;
        this.intervalNs = intervalNs;
        this.clock = clock;
        this.intervalStartNs = clock.getAsLong();
    }

    /**
     * @param sink   where lines that pass go.
     * @param source who speaks, named in the "suppressed" line.
     * @return a limiter of {@link #DEFAULT_LINES_PER_INTERVAL} lines a second on {@link System#nanoTime()}.
     */
    public static LogLimiter perSecond(final Consumer<String> sink, final String source)
    {
        return new LogLimiter(sink, source, DEFAULT_LINES_PER_INTERVAL, DEFAULT_INTERVAL_NS, System::nanoTime);
    }

    /**
     * @param counter also counts every suppressed line here (control thread: its only writer), or null.
     * @return this.
     */
    public LogLimiter countInto(final AtomicCounter counter)
    {
        this.suppressedCounter = counter;
        return this;
    }

    /**
     * Passes the line to the sink, or suppresses and counts it when this interval's lines are used up.
     *
     * @param line the whole line.
     * @return whether it was passed.
     */
    public boolean log(final String line)
    {
        roll(clock.getAsLong());
        if (linesInInterval < linesPerInterval)
        {
            linesInInterval++;
            sink.accept(line);
            return true;
        }
        suppressedInInterval++;
        suppressed++;
        if (suppressedCounter != null)
        {
            suppressedCounter.incrementRelease();
        }
        return false;
    }

    /** Says how many lines were suppressed once their interval is over; call it from the owner's poll. */
    public void poll()
    {
        roll(clock.getAsLong());
    }

    /** Says now how many lines this interval suppressed so far, if any (at close: nothing is left unsaid). */
    public void flush()
    {
        final long nowNs = clock.getAsLong();
        report(nowNs);
        intervalStartNs = nowNs;
        linesInInterval = 0;
    }

    /** @return lines suppressed since this limiter was made. */
    public long suppressed()
    {
        return suppressed;
    }

    private void roll(final long nowNs)
    {
        if (nowNs - intervalStartNs >= intervalNs)
        {
            report(nowNs);
            intervalStartNs = nowNs;
            linesInInterval = 0;
        }
    }

    private void report(final long nowNs)
    {
        if (suppressedInInterval > 0)
        {
            // The summary line itself is not limited: it is one per interval at most.
            sink.accept(String.format(Locale.ROOT, "%s: %d log lines suppressed in the last %.1f s (at most %d per " +
                "%.1f s)", source, suppressedInInterval, (nowNs - intervalStartNs) / 1e9, linesPerInterval,
                intervalNs / 1e9));
            suppressedInInterval = 0;
        }
    }
}
