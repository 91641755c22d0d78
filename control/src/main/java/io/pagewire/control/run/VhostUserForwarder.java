package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.config.RxPolicyKind;
import io.pagewire.config.VhostUserMode;
import io.pagewire.control.device.VirtioNetDevice;
import io.pagewire.control.nic.NicPorts;
import io.pagewire.control.vhostuser.VhostUserBackend;
import io.pagewire.control.vhostuser.VhostUserProtocol;
import io.pagewire.control.vhostuser.VhostUserServer;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.DataplaneRunner;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.TrafficSource;
import io.pagewire.dataplane.guest.WireAgent;
import io.pagewire.dataplane.os.PeerWriteWatchdog;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.port.ShmNicPortSet;
import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import io.pagewire.dataplane.stats.SystemCounters;
import io.pagewire.dataplane.virtio.FeatureBit;
import org.agrona.concurrent.AgentRunner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The forwarder serving a virtio-net driver in another process over vhost-user ({@code guest.type=vhost-user}):
 * one NIC port per queue pair ({@code nic.type}; with the shared-memory ring, fed and drained by the wire thread: a
 * traffic source and a sink per port), {@code dataplane.agents} dataplane threads with the queue pairs split round-robin, and the vhost-user socket
 * served from the control thread. Frontends may come and go; the NIC side keeps running and counts what it could
 * not deliver.
 */
public final class VhostUserForwarder implements Forwarder
{
    private static final long DRAIN_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(2);

    private final PagewireConfig config;
    private final RuntimeDirectory directory;
    private final CountersFile countersFile;
    private final List<SystemCounters> systemCounters = new ArrayList<>();
    private final NicPortSet nics;
    private final TrafficSource[] sources;
    private final TrafficSink[] sinks;
    private final DataplaneProxy[] proxies;
    private final DataplaneAgent[] agents;
    private final WireAgent wire;
    private final VhostUserBackend backend;
    private final VhostUserServer server;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final List<AutoCloseable> runners = new ArrayList<>();
    private long startNs;
    private long stopNs;
    private boolean drained;
    private boolean stopped;
    private boolean closed;

    /**
     * Maps the files, opens the socket (server mode) and builds every part; starts no thread.
     */
    public VhostUserForwarder(final PagewireConfig config, final Path runBase)
    {
        this.config = config;
        final int pairs = config.guest().queuePairs();
        directory = RuntimeDirectory.create(runBase);
        final List<AutoCloseable> opened = new ArrayList<>();
        try
        {
            countersFile = CountersFile.create(directory.countersFile(),
                1024 + pairs * QueueCounters.COUNTERS_PER_QUEUE_PAIR);
            opened.add(countersFile::closeAndDelete);
            nics = NicPorts.open(config, directory, countersFile.manager());
            opened.add(nics);
            final int fed = nics instanceof ShmNicPortSet ? pairs : 0;
            sources = new TrafficSource[fed];
            sinks = new TrafficSink[fed];
            for (int i = 0; i < fed; i++)
            {
                final ShmNicPort nic = ((ShmNicPortSet)nics).port(i);
                sources[i] = new TrafficSource(nic.rxRing(), config.traffic().frameSize(), config.traffic().rateMbps());
                sinks[i] = new TrafficSink(nic.txRing());
            }
            final int agentCount = config.dataplane().agents();
            proxies = new DataplaneProxy[agentCount];
            agents = new DataplaneAgent[agentCount];
            for (int i = 0; i < agentCount; i++)
            {
                proxies[i] = new DataplaneProxy();
                final SystemCounters counters = i == 0 ? new SystemCounters(countersFile.manager()) : null;
                if (counters != null)
                {
                    systemCounters.add(counters);
                }
                final int cpu = config.dataplane().cpu() < 0 ? -1 : config.dataplane().cpu() + i;
                agents[i] = new DataplaneAgent("pagewire-dataplane-" + i, proxies[i], counters, cpu,
                    IdleStrategies.clockSampleCycles(config.dataplane().idleStrategy()));
            }
            wire = new WireAgent(sources, sinks);
            final RxPolicy policy = config.dataplane().rxPolicy() == RxPolicyKind.DROP ? RxPolicy.DROP : RxPolicy.WAIT;
            long offered = VirtioNetDevice.offeredFeatures(config.features());
            if (pairs > 1)
            {
                offered |= FeatureBit.MQ.mask();
            }
            backend = new VhostUserBackend(pairs, offered, proxies, nics::port, policy,
                config.dataplane().burst(), countersFile.manager());
            server = new VhostUserServer(Path.of(config.guest().socket()),
                config.guest().mode() == VhostUserMode.CLIENT, backend, systemCounters.getFirst());
        }
        catch (final RuntimeException e)
        {
            for (final AutoCloseable resource : opened.reversed())
            {
                try
                {
                    resource.close();
                }
                catch (final Exception suppressed)
                {
                    e.addSuppressed(suppressed);
                }
            }
            directory.delete();
            throw e;
        }
    }

    @Override
    public void start()
    {
        for (final DataplaneAgent agent : agents)
        {
            // A DataplaneRunner, not Agrona's AgentRunner: a memory fault (a frontend that shrank its memory) that
            // surfaces after doWork returned must go back to the agent, not end its thread (see DataplaneRunner).
            runners.add(DataplaneRunner.start(IdleStrategies.of(config.dataplane().idleStrategy()), this::onError,
                agent));
        }
        // The wire thread feeds and drains the shm ring; a real NIC port has no traffic source, and a busy thread
        // with nothing to do would take a core from the dataplane (2 cores: dataplane + the peer process).
        if (sources.length > 0)
        {
            final AgentRunner wireRunner = new AgentRunner(IdleStrategies.of(config.dataplane().idleStrategy()),
                this::onError, null, wire);
            runners.add(wireRunner);
            AgentRunner.startOnThread(wireRunner);
        }
        startNs = System.nanoTime();
    }

    private void onError(final Throwable throwable)
    {
        failure.compareAndSet(null, throwable);
    }

    @Override
    public void poll()
    {
        poll(0);
    }

    @Override
    public void poll(final int timeoutMs)
    {
        nics.poll();
        server.poll(timeoutMs);
        if (!systemCounters.isEmpty())
        {
            // The watchdog thread outlives this forwarder's counters file, so control publishes its total.
            systemCounters.getFirst().peerWritesInterrupted().setRelease(PeerWriteWatchdog.interrupts());
        }
    }

    @Override
    public void stop()
    {
        if (stopped)
        {
            return;
        }
        stopped = true;
        stopNs = System.nanoTime();
        wire.stop();
        nics.stopReceiving();
        // Let the guest take what is already in the NIC rings, if it is there to take it.
        final long deadline = System.nanoTime() + DRAIN_TIMEOUT_NS;
        while (!nicRingsEmpty() && server.isConnected() && System.nanoTime() - deadline < 0)
        {
            nics.poll();
            server.poll(1);
        }
        drained = nicRingsEmpty();
        backend.close();
        for (final AutoCloseable runner : runners)
        {
            try
            {
                runner.close();
            }
            catch (final Exception e)
            {
                onError(e);
            }
        }
        // No dataplane thread runs now: what isolated pairs still held can go (kept if one would not stop).
        if (dataplaneStopped())
        {
            backend.releaseIsolatedAfterDataplaneStopped();
        }
    }

    /** Frames still in a real NIC port were never accepted: only the shared-memory ring's count as in flight. */
    private boolean nicRingsEmpty()
    {
        return !(nics instanceof final ShmNicPortSet shm) || shm.rxEmpty();
    }

    @Override
    public Throwable failure()
    {
        return failure.get();
    }

    @Override
    public RunResult result()
    {
        final List<QueuePair> pairs = new ArrayList<>();
        for (final QueuePair pair : backend.finalPairs())
        {
            if (pair != null)
            {
                pairs.add(pair);
            }
        }
        long offered = 0;
        long ringFull = 0;
        for (final TrafficSource source : sources)
        {
            offered += source.offered();
            ringFull += source.droppedRingFull();
        }
        return new RunResult(config, ((stopNs == 0 ? System.nanoTime() : stopNs) - startNs) / 1e9, drained,
            Double.NaN, backend.offeredFeatures() & ~VhostUserProtocol.F_PROTOCOL_FEATURES,
            backend.lastNegotiatedFeatures(), pairs, offered, ringFull, null, 0, List.of(sinks), -1,
            RunResult.nicCountersOf(countersFile.reader()));
    }

    @Override
    public CountersFile countersFile()
    {
        return countersFile;
    }

    @Override
    public RuntimeDirectory directory()
    {
        return directory;
    }

    @Override
    public int rxRingSize(final int queuePair)
    {
        final QueuePair pair = queuePair >= 0 && queuePair < config.guest().queuePairs() ?
            backend.running(queuePair) : null;
        return pair == null ? 0 : pair.rxQueue().size();
    }

    @Override
    public long nicRingFullDrops()
    {
        long drops = 0;
        for (final TrafficSource source : sources)
        {
            drops += source.droppedRingFull();
        }
        return drops;
    }

    @Override
    public Map<String, Integer> busyThreads()
    {
        final Map<String, Integer> threads = new LinkedHashMap<>();
        for (int i = 0; i < agents.length; i++)
        {
            threads.put(agents.length == 1 ? "dataplane" : "dataplane-" + i, agents[i].nativeTid());
        }
        return threads;
    }

    @Override
    public String startMessage()
    {
        return "pagewire: vhost-user " + config.guest().mode().configName() + " on " + config.guest().socket() +
            " (" + config.guest().queuePairs() + " queue pair(s), NIC " + nics.describe() + ", counters in " +
            directory.path() + "); Ctrl-C stops";
    }

    /**
     * Holds the traffic sources until {@link #resumeTraffic()}; called before {@link #start()} it lets a frontend
     * finish starting its ports first (DPDK's port start discards frames already in its receive ring, uncounted).
     */
    public void holdTraffic()
    {
        wire.paused(true);
    }

    /** Releases traffic held by {@link #holdTraffic()}. */
    public void resumeTraffic()
    {
        wire.paused(false);
    }

    /** Stops the traffic sources; everything else keeps running (tests wait for the rings to drain). */
    public void stopTraffic()
    {
        wire.stop();
    }

    /** @return whether every NIC receive ring is empty (all frames taken by the dataplane). */
    public boolean nicRxEmpty()
    {
        return nicRingsEmpty();
    }

    /** @return the vhost-user server (tests). */
    public VhostUserServer server()
    {
        return server;
    }

    /** @return the NIC ports. */
    public NicPortSet nics()
    {
        return nics;
    }

    /** @return the traffic sink of a queue pair (tests). */
    public TrafficSink sink(final int pair)
    {
        return sinks[pair];
    }

    /** @return the traffic source of a queue pair (tests). */
    public TrafficSource source(final int pair)
    {
        return sources[pair];
    }

    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            stop();
        }
        finally
        {
            server.close();
            if (dataplaneStopped())
            {
                nics.close();
                systemCounters.forEach(SystemCounters::close);
                countersFile.closeAndDelete();
                directory.delete();
            }
            // else a dataplane thread would not stop (DataplaneRunner gave up on it): its NIC rings and counters stay
            // mapped, as an isolated pair's memory does, so that it cannot fault on them if it ever runs again.
        }
    }

    /** @return whether every dataplane thread has ended (false when {@link DataplaneRunner#close()} gave up). */
    private boolean dataplaneStopped()
    {
        for (final AutoCloseable runner : runners)
        {
            if (runner instanceof final DataplaneRunner dataplane && !dataplane.stopped())
            {
                return false;
            }
        }
        return true;
    }
}
