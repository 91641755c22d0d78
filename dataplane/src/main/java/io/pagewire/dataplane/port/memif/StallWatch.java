package io.pagewire.dataplane.port.memif;

import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * How long one thing a peer holds up has stayed held up (a receive chain it has not finished, a frame waiting for
 * buffers it does not offer), without reading the clock on every poll. Each poll that finds the same thing still
 * stalled only counts; every {@link #SAMPLE_POLLS}-th reads the clock. The first read starts the deadline, a later one
 * {@link #DEADLINE_NS} after it says the deadline passed. So:
 * <ul>
 *   <li>a stall that ends within {@link #SAMPLE_POLLS} polls (a chain the peer completes at its next index store)
 *       reads no clock at all, and the hot path of a port that is not stalled reads none ever;</li>
 *   <li>a stalled port reads it once per {@link #SAMPLE_POLLS} polls, as often as a busy-spinning
 *       {@code DataplaneAgent} reads its own (a port does not know its agent, so it cannot share the agent's
 *       reading);</li>
 *   <li>the deadline runs from at most {@link #SAMPLE_POLLS} polls after the stall began: microseconds when the
 *       dataplane busy-spins, a few milliseconds with the parking idle strategies (50 µs to 1 ms per idle cycle).</li>
 * </ul>
 * A poll here is one the port makes because the dataplane asked it for frames or room: a queue pair that is not
 * attached does not poll, so time it spends detached does not count against the peer unless the stall is still there
 * when polling resumes. Dataplane thread only; no allocation.
 */
final class StallWatch
{
    /**
     * How long a stall may last: 1 s. Legitimate stalls last microseconds (a peer between two index stores of one
     * chain, a client between two refills), so this is 10^5 times that, yet short enough that a stuck queue comes
     * loose before a TCP connection behind it gives up (its initial retransmission timeout is 1 s, RFC 6298).
     */
    static final long DEADLINE_NS = 1_000_000_000L;
    /** Polls between two clock reads while stalled, a power of two. */
    static final int SAMPLE_POLLS = 64;

    private NanoClock clock = SystemNanoClock.INSTANCE;
    private boolean watching;
    private long what;
    private int polls;
    private boolean started;
    private long sinceNs;
    private long lastNs;

    /** Tests: the clock to read (before the dataplane runs). */
    void clock(final NanoClock clock)
    {
        this.clock = clock;
    }

    /**
     * A poll found {@code what} stalled: starts watching it, unless it is what is watched already.
     *
     * @param what identifies the stalled thing (a descriptor index, a frame), so a new stall starts a new deadline.
     * @return whether this starts a new stall (counted by the caller once per stall, not per poll).
     */
    boolean stalled(final long what)
    {
        if (watching && what == this.what)
        {
            return false;
        }
        watching = true;
        this.what = what;
        polls = 0;
        started = false;
        return true;
    }

    /**
     * Counts a poll that found the watched thing still stalled (after {@link #stalled}); reads the clock every
     * {@link #SAMPLE_POLLS}-th.
     *
     * @return whether it has been stalled for {@link #DEADLINE_NS} or more.
     */
    boolean expired()
    {
        if ((++polls & (SAMPLE_POLLS - 1)) != 0)
        {
            return false;
        }
        final long nowNs = clock.nanoTime();
        lastNs = nowNs;
        if (!started)
        {
            started = true;
            sinceNs = nowNs;
            return false;
        }
        return nowNs - sinceNs >= DEADLINE_NS;
    }

    /** @return milliseconds between the first and the last clock read of the watched stall (for the log line). */
    long stalledMs()
    {
        return (lastNs - sinceNs) / 1_000_000;
    }

    /** Nothing is stalled (any more): the next stall starts afresh. */
    void clear()
    {
        watching = false;
    }
}
