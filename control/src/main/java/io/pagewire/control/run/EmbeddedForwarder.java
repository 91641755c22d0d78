package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.device.VirtioNetDevice;
import io.pagewire.control.latency.LatencyRecorders;
import io.pagewire.control.nic.NicPorts;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.EmbeddedGuest;
import io.pagewire.dataplane.guest.LatencyRecorder;
import io.pagewire.dataplane.guest.PeerAgent;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.TrafficSource;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.port.ShmNicPortSet;
import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import io.pagewire.dataplane.stats.SystemCounters;
import org.agrona.concurrent.AgentRunner;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The forwarder with the embedded guest, assembled: the NIC ({@code nic.type}; on the default, the shared-memory ring
 * fed by the embedded traffic source and drained by its sink), dataplane agent, control device, the embedded guest,
 * counters file. Lifecycle: {@link #start()} (negotiation through the control
 * device, then both threads), {@link #stop()} (source stops, everything in flight lands, the device is reset so the
 * dataplane gives the queues back, threads stop, files are removed), then {@link #result()}.
 * <p>
 * Control-thread object: call it from one thread.
 */
public final class EmbeddedForwarder implements Forwarder
{
    private static final int MAX_COUNTERS = 1024;
    private static final long DRAIN_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

    private final PagewireConfig config;
    private final RuntimeDirectory directory;
    private final CountersFile countersFile;
    private final SystemCounters systemCounters;
    private final NicPortSet nic;
    private final GuestMemory memory = new GuestMemory();
    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent dataplane;
    private final VirtioNetDevice device;
    private final EmbeddedGuest guest;
    private final PeerAgent peer;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private AgentRunner dataplaneRunner;
    private AgentRunner peerRunner;
    private long startNs;
    private long stopNs;
    /** Time after the start of traffic before steady-state measurements begin (JIT compilation settles). */
    private static final long WARM_UP_NS = TimeUnit.SECONDS.toNanos(1);

    private long allocatedAtStart;
    private long allocatedAtStop;
    private long peerAllocatedAtStart;
    private long peerAllocatedAtStop;
    private long packetsAtStart;
    private long packetsAtStop;
    private boolean steadyStateMarked;
    private boolean drained;
    private QueuePair finalPair;
    private boolean closed;

    /**
     * Maps the files and builds every part; starts nothing.
     *
     * @param config  a validated configuration with {@code guest.type=embedded}.
     * @param runBase the base of runtime directories (see {@link RuntimeDirectory#defaultBase()}).
     */
    public EmbeddedForwarder(final PagewireConfig config, final Path runBase)
    {
        this(config, runBase, null, null);
    }

    /**
     * Maps the files and builds every part; starts nothing.
     *
     * @param config    a validated configuration with {@code guest.type=embedded} (latency: {@code nic.type=shm},
     *                  whose traffic source stamps the intended send times).
     * @param runBase   the base of runtime directories (see {@link RuntimeDirectory#defaultBase()}).
     * @param latency   the recorders the run's latency goes to, or null to measure none.
     */
    public EmbeddedForwarder(final PagewireConfig config, final Path runBase, final LatencyRecorders latency)
    {
        this(config, runBase, latency == null ? null : latency.frames(), latency == null ? null : latency.usedRing());
    }

    /**
     * Maps the files and builds every part; starts nothing.
     *
     * @param config    a validated configuration with {@code guest.type=embedded} (latency: {@code nic.type=shm},
     *                  whose traffic source stamps the intended send times).
     * @param runBase   the base of runtime directories (see {@link RuntimeDirectory#defaultBase()}).
     * @param latency   where the embedded guest records each frame's latency (see {@link EmbeddedGuest}), or null.
     * @param published where the dataplane samples, once per receive burst, the latency up to the used-ring
     *                  publication (see {@link DataplaneAgent#publishLatency}), or null.
     */
    public EmbeddedForwarder(
        final PagewireConfig config, final Path runBase, final LatencyRecorder latency,
        final LatencyRecorder published)
    {
        this.config = config;
        directory = RuntimeDirectory.create(runBase);
        CountersFile counters = null;
        NicPortSet port = null;
        try
        {
            counters = CountersFile.create(directory.countersFile(), MAX_COUNTERS);
            port = NicPorts.open(config, directory, counters.manager());
        }
        catch (final RuntimeException e)
        {
            if (counters != null)
            {
                counters.closeAndDelete();
            }
            directory.delete();
            throw e;
        }
        countersFile = counters;
        nic = port;
        systemCounters = new SystemCounters(countersFile.manager());
        dataplane = new DataplaneAgent("pagewire-dataplane", proxy, systemCounters, config.dataplane().cpu(),
            IdleStrategies.clockSampleCycles(config.dataplane().idleStrategy()));
        dataplane.publishLatency(published);
        device = new VirtioNetDevice(config, memory, proxy, nic.port(0), GuestNotifier.POLLING,
            countersFile.manager());
        guest = new EmbeddedGuest(config, memory, latency);
        if (nic instanceof final ShmNicPortSet shm)
        {
            final ShmNicPort port0 = shm.port(0);
            peer = new PeerAgent(new TrafficSource(port0.rxRing(), config.traffic().frameSize(),
                config.traffic().rateMbps()), guest, new TrafficSink(port0.txRing()), port0.rxRing());
        }
        else
        {
            peer = new PeerAgent(null, guest, null, null);
        }
    }

    /**
     * Starts the dataplane, negotiates the embedded guest through the control device (as a vhost-user frontend
     * would), waits until the dataplane serves the queues, then starts the peer thread.
     *
     * @throws IllegalStateException when negotiation or queue setup fails (the device's log says why).
     */
    @Override
    public void start()
    {
        dataplaneRunner = new AgentRunner(IdleStrategies.of(config.dataplane().idleStrategy()), this::onError, null,
            dataplane);
        AgentRunner.startOnThread(dataplaneRunner);
        guest.start(device);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (dataplane.queuePairCount() == 0 && device.attached() != null && System.nanoTime() - deadline < 0)
        {
            device.pollEvents();
            Thread.onSpinWait();
        }
        if (device.attached() == null || (device.status() & io.pagewire.dataplane.virtio.DeviceStatus.DRIVER_OK) == 0)
        {
            throw new IllegalStateException("device did not start: " + String.join("; ", device.log()));
        }
        startNs = System.nanoTime();
        peerRunner = new AgentRunner(IdleStrategies.of(config.dataplane().idleStrategy()), this::onError, null, peer);
        AgentRunner.startOnThread(peerRunner);
    }

    private void onError(final Throwable throwable)
    {
        failure.compareAndSet(null, throwable);
    }

    /**
     * Control-thread housekeeping between status lines: consumes dataplane events, and once the run is past its
     * warm-up takes the baseline for the dataplane's steady-state allocation.
     */
    @Override
    public void poll()
    {
        device.pollEvents();
        nic.poll();
        if (!steadyStateMarked && System.nanoTime() - startNs >= WARM_UP_NS)
        {
            steadyStateMarked = true;
            allocatedAtStart = dataplaneThreadAllocatedBytes();
            peerAllocatedAtStart = peerThreadAllocatedBytes();
            packetsAtStart = packetsMoved();
        }
    }

    private long packetsMoved()
    {
        final QueuePair pair = device.attached() != null ? device.attached() : device.lastDetached();
        // Read across threads for a ratio only: the counters file holds the same values with release semantics.
        return pair == null ? 0 : countersValue(pair);
    }

    private long countersValue(final QueuePair pair)
    {
        return pair.counters() == null ? 0 : pair.counters().rxPackets().get() + pair.counters().txPackets().get();
    }

    /**
     * Ends the run: stops the source, waits (bounded) until every frame in flight has landed, resets the device
     * (the dataplane gives the queue pair back), stops both threads.
     */
    @Override
    public void stop()
    {
        if (peerRunner == null || finalPair != null)
        {
            return;
        }
        stopNs = System.nanoTime();
        peer.stop();
        nic.stopReceiving();
        // Drain only while the device still serves the queues (a guest reset leaves frames in the NIC ring).
        final long deadline = System.nanoTime() + DRAIN_TIMEOUT_NS;
        while (device.attached() != null && !peer.isDrained() && System.nanoTime() - deadline < 0 &&
            failure.get() == null)
        {
            device.pollEvents();
            Thread.onSpinWait();
        }
        drained = peer.isDrained();
        allocatedAtStop = dataplaneThreadAllocatedBytes();
        peerAllocatedAtStop = peerThreadAllocatedBytes();
        packetsAtStop = packetsMoved();
        peerRunner.close();
        if (device.attached() != null)
        {
            device.status(0);
        }
        finalPair = device.lastDetached();
        dataplaneRunner.close();
    }

    private long dataplaneThreadAllocatedBytes()
    {
        final long id = dataplane.threadId();
        return id < 0 ? 0 : THREADS.getThreadAllocatedBytes(id);
    }

    private long peerThreadAllocatedBytes()
    {
        final Thread thread = peerRunner == null ? null : peerRunner.thread();
        return thread == null ? 0 : THREADS.getThreadAllocatedBytes(thread.threadId());
    }

    /** @return the first error a thread hit, or null. */
    @Override
    public Throwable failure()
    {
        return failure.get();
    }

    /** @return the counters file, for the live status line. */
    @Override
    public CountersFile countersFile()
    {
        return countersFile;
    }

    /** @return the runtime directory. */
    @Override
    public RuntimeDirectory directory()
    {
        return directory;
    }

    /** @return the control device. */
    public VirtioNetDevice device()
    {
        return device;
    }

    /** @return the dataplane agent. */
    public DataplaneAgent dataplane()
    {
        return dataplane;
    }

    /** @return the peer (source, guest, sink). */
    public PeerAgent peer()
    {
        return peer;
    }

    /** @return the configuration. */
    public PagewireConfig config()
    {
        return config;
    }

    /** @return the queue pair's final state, after {@link #stop()}. */
    public QueuePair finalPair()
    {
        return finalPair;
    }

    /** @return seconds between start of traffic and the stop request. */
    public double durationSeconds()
    {
        return ((stopNs == 0 ? System.nanoTime() : stopNs) - startNs) / 1e9;
    }

    /** @return whether everything in flight landed before the threads stopped. */
    public boolean drained()
    {
        return drained;
    }

    /**
     * @return bytes the dataplane thread allocated per packet moved (both directions) in steady state: from the end
     * of the warm-up to the stop request; NaN when the run was shorter than the warm-up.
     */
    public double dataplaneAllocatedBytesPerPacket()
    {
        final long packets = packetsAtStop - packetsAtStart;
        return !steadyStateMarked || packets <= 0 ? Double.NaN : (double)(allocatedAtStop - allocatedAtStart) / packets;
    }

    /**
     * @return bytes the peer thread (traffic source, embedded guest, sink) allocated per packet moved through the
     * dataplane (both directions) in steady state, as {@link #dataplaneAllocatedBytesPerPacket()}; NaN when unmeasured.
     */
    public double peerAllocatedBytesPerPacket()
    {
        final long packets = packetsAtStop - packetsAtStart;
        return !steadyStateMarked || packets <= 0 ? Double.NaN :
            (double)(peerAllocatedAtStop - peerAllocatedAtStart) / packets;
    }

    /** @return bytes the dataplane thread allocated in steady state (end of warm-up to stop request). */
    public long dataplaneAllocatedBytes()
    {
        return steadyStateMarked ? allocatedAtStop - allocatedAtStart : -1;
    }

    @Override
    public int rxRingSize(final int queuePair)
    {
        final QueuePair pair = device.attached();
        return pair == null || pair.index() != queuePair ? 0 : pair.rxQueue().size();
    }

    @Override
    public long nicRingFullDrops()
    {
        return peer.source() == null ? 0 : peer.source().droppedRingFull();
    }

    @Override
    public Map<String, Integer> busyThreads()
    {
        final Map<String, Integer> threads = new LinkedHashMap<>();
        threads.put("dataplane", dataplane.nativeTid());
        threads.put("peer", peer.nativeTid());
        return threads;
    }

    @Override
    public String startMessage()
    {
        final String traffic = peer.source() != null ? config.traffic().frameSize() + "-byte frames" :
            "NIC " + nic.describe();
        return "pagewire: forwarding (embedded guest, rx.mode=" + config.rx().mode().configName() + ", " +
            traffic + ", counters in " + directory.path() + "); Ctrl-C stops";
    }

    @Override
    public RunResult result()
    {
        final EmbeddedGuest guest = peer.guest();
        final TrafficSource source = peer.source();
        return new RunResult(config, durationSeconds(), drained, dataplaneAllocatedBytesPerPacket(),
            guest.offeredFeatures(), guest.negotiatedFeatures(), List.of(finalPair),
            source == null ? 0 : source.offered(), source == null ? 0 : source.droppedRingFull(), guest.verify(),
            guest.echoDropped(), peer.sink() == null ? List.of() : List.of(peer.sink()), guest.inFlightCapacity(),
            RunResult.nicCountersOf(countersFile.reader()));
    }

    /** Stops if needed, frees memory and removes the runtime files. */
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
            if (peerRunner != null)
            {
                stop();
            }
            else if (dataplaneRunner != null)
            {
                dataplaneRunner.close();
            }
        }
        finally
        {
            guest.close();
            nic.close();
            systemCounters.close();
            countersFile.closeAndDelete();
            directory.delete();
        }
    }
}
