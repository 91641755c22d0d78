package io.pagewire.dataplane.guest;

import io.pagewire.dataplane.os.ThreadScheduling;
import io.pagewire.dataplane.port.ShmFrameRing;
import org.agrona.concurrent.Agent;

/**
 * The embedded default's second busy thread: the traffic source, the guest driver model and the traffic sink in
 * one duty cycle, so that the default run uses exactly two busy threads (dataplane + peer) on a two-core machine.
 * With a real NIC port (memif, AF_PACKET, pcap) there is no source or sink: the peer is the guest alone.
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
    private volatile int nativeTid = -1;
    private int quietCycles;

    /**
     * @param source the traffic source (NIC receive ring producer), or null with a real NIC port.
     * @param guest  the guest model, already started.
     * @param sink   the traffic sink (NIC transmit ring consumer), or null with a real NIC port.
     * @param nicRx  the NIC receive ring, to see when the dataplane has taken everything, or null with a real NIC
     *               port (frames still in a real port were never accepted, so draining does not wait for them).
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
    public void onStart()
    {
        nativeTid = ThreadScheduling.currentTid();
    }

    /** @return the Linux thread id of the thread running this agent, or -1 before it started. */
    public int nativeTid()
    {
        return nativeTid;
    }

    @Override
    public int doWork()
    {
        final long nowNs = System.nanoTime();
        int work = 0;
        if (source != null)
        {
            if (stopRequested)
            {
                source.stop();
            }
            work += source.produce(nowNs);
        }
        work += guest.poll(nowNs);
        if (sink != null)
        {
            work += sink.consume();
        }
        if (stopRequested && !drained)
        {
            final boolean quiet = work == 0 && (nicRx == null || nicRx.freeSlots() == nicRx.slotCount()) &&
                guest.isQuiescent() && (sink == null || sink.isEmpty());
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

    /** @return the traffic source, or null with a real NIC port. */
    public TrafficSource source()
    {
        return source;
    }

    public EmbeddedGuest guest()
    {
        return guest;
    }

    /** @return the traffic sink, or null with a real NIC port. */
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
