package io.pagewire.dataplane.guest;

import io.pagewire.dataplane.port.ShmFrameRing;
import org.agrona.concurrent.Agent;

/**
 * The embedded default's second busy thread: the traffic source, the guest driver model and the traffic sink in
 * one duty cycle, so that the default run uses exactly two busy threads (dataplane + peer) on a two-core machine.
 * <p>
 * After {@link #stop()} the source stops; the peer keeps reaping until everything in flight has landed and then
 * reports {@link #isDrained()}, so the end-of-run accounting (lost = accepted by the guest ring but never seen)
 * is exact.
 */
public final class PeerAgent implements Agent
{
    /** Consecutive idle cycles with every ring empty before the run counts as drained. */
    private static final int QUIET_CYCLES = 10_000;

    private final TrafficSource source;
    private final EmbeddedGuest guest;
    private final TrafficSink sink;
    private final ShmFrameRing nicRx;
    private volatile boolean stopRequested;
    private volatile boolean drained;
    private int quietCycles;

    /**
     * @param source the traffic source (NIC receive ring producer).
     * @param guest  the guest model, already started.
     * @param sink   the traffic sink (NIC transmit ring consumer).
     * @param nicRx  the NIC receive ring, to see when the dataplane has taken everything.
     */
    public PeerAgent(final TrafficSource source, final EmbeddedGuest guest, final TrafficSink sink,
        final ShmFrameRing nicRx)
    {
        this.source = source;
        this.guest = guest;
        this.sink = sink;
        this.nicRx = nicRx;
    }

    @Override
    public int doWork()
    {
        final long nowNs = System.nanoTime();
        if (stopRequested)
        {
            source.stop();
        }
        int work = source.produce(nowNs);
        work += guest.poll(nowNs);
        work += sink.consume();
        if (stopRequested && !drained)
        {
            final boolean quiet = work == 0 && nicRx.freeSlots() == nicRx.slotCount() && guest.isQuiescent() &&
                sink.isEmpty();
            quietCycles = quiet ? quietCycles + 1 : 0;
            if (quietCycles >= QUIET_CYCLES)
            {
                drained = true;
            }
        }
        return work;
    }

    /** Asks the source to stop (any thread); the peer then drains. */
    public void stop()
    {
        stopRequested = true;
    }

    /** @return whether, after {@link #stop()}, nothing is in flight anymore. */
    public boolean isDrained()
    {
        return drained;
    }

    @Override
    public String roleName()
    {
        return "pagewire-peer";
    }

    public TrafficSource source()
    {
        return source;
    }

    public EmbeddedGuest guest()
    {
        return guest;
    }

    public TrafficSink sink()
    {
        return sink;
    }

    /** @return free slots in the NIC receive ring as the producer sees them (frames not yet taken = size - free). */
    public int nicRxFreeSlots()
    {
        return nicRx.freeSlots();
    }
}
