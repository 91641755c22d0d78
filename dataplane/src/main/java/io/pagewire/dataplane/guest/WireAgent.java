package io.pagewire.dataplane.guest;

import org.agrona.concurrent.Agent;

/**
 * The "wire" side of the shared-memory NIC ports when the guest is outside the process (vhost-user): one traffic
 * source and one sink per port, in one busy thread. Like {@link PeerAgent} without the guest model.
 */
public final class WireAgent implements Agent
{
    private final TrafficSource[] sources;
    private final TrafficSink[] sinks;
    private volatile boolean stopRequested;
    private volatile boolean paused;

    /**
     * @param sources one per NIC port (may be empty: nothing is sent to the guest).
     * @param sinks   one per NIC port.
     */
    public WireAgent(final TrafficSource[] sources, final TrafficSink[] sinks)
    {
        this.sources = sources.clone();
        this.sinks = sinks.clone();
    }

    @Override
    public int doWork()
    {
        final long nowNs = System.nanoTime();
        int work = 0;
        if (!paused)
        {
            for (final TrafficSource source : sources)
            {
                if (stopRequested)
                {
                    source.stop();
                }
                work += source.produce(nowNs);
            }
        }
        for (final TrafficSink sink : sinks)
        {
            work += sink.consume();
        }
        return work;
    }

    /**
     * Holds or releases the sources (any thread). A source's schedule starts at its first frame, so a source held
     * from the start begins cleanly when released.
     */
    public void paused(final boolean paused)
    {
        this.paused = paused;
    }

    /** Stops the sources (any thread). */
    public void stop()
    {
        stopRequested = true;
    }

    @Override
    public String roleName()
    {
        return "pagewire-wire";
    }
}
