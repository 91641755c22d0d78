package io.pagewire.control.device;

import com.lmax.disruptor.EventPoller;
import io.pagewire.config.FeaturesConfig;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.RxPolicyKind;
import io.pagewire.dataplane.engine.DataplaneEvent;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.guest.VirtioTransport;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.virtio.DeviceStatus;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.QueueError;

import org.agrona.concurrent.status.CountersManager;

import java.util.ArrayList;
import java.util.List;

/**
 * The control side of one virtio-net device with one queue pair: feature negotiation and the device status field
 * (virtio 1.2 §2.1, §2.2, §3.1), queue setup, and the hand-over of running queues to the dataplane.
 * <ul>
 *   <li>FEATURES_OK is refused (left clear, §3.1.1 step 6) when the driver accepts a feature the device did not
 *       offer.</li>
 *   <li>DRIVER_OK validates the queues (sizes, alignment, rings inside guest memory), chooses the RX writer from
 *       the negotiated features (mergeable with MRG_RXBUF, else one chain per packet; 12-byte header with MRG_RXBUF
 *       or VERSION_1, else 10) and attaches the queue pair to the dataplane.</li>
 *   <li>Writing 0 resets: the queue pair is detached and control waits for the dataplane to confirm before the
 *       guest may reuse its memory.</li>
 *   <li>A queue that breaks on guest input sets DEVICE_NEEDS_RESET (§2.1.2).</li>
 * </ul>
 * Called on the control thread only (the embedded guest negotiates before the peer thread starts; a vhost-user
 * frontend's requests arrive on the control thread).
 */
public final class VirtioNetDevice implements VirtioTransport
{
    /** Messages kept in {@link #log()}; older ones are dropped. */
    private static final int MAX_LOG_ENTRIES = 256;
    /** How long a reset waits for the dataplane to give the queues back. */
    private static final long DETACH_TIMEOUT_NS = 5_000_000_000L;

    private final GuestMemory memory;
    private final CountersManager counters;
    private QueueCounters queueCounters;
    private final DataplaneProxy proxy;
    /** One handler for every poll: a method reference written at the call would allocate on each call. */
    private final EventPoller.Handler<DataplaneEvent> eventHandler = this::onEvent;
    private final NicPort nic;
    private final GuestNotifier notifier;
    private final RxPolicy policy;
    private final int burst;
    private final int maxRxSize;
    private final int maxTxSize;
    private final long offeredFeatures;
    private final int[] queueSize = new int[2];
    private final long[][] queueRings = new long[2][3];
    private final List<String> log = new ArrayList<>();

    private int status;
    private long driverFeatures;
    private QueuePair attached;
    private boolean detached;
    private QueuePair lastDetached;
    private QueueError brokenReason;
    private long featuresRefused;
    private long setupRefused;

    /**
     * @param config   the run's configuration (features offered, queue sizes, burst, RX policy).
     * @param memory   the guest's memory as the device translates it.
     * @param proxy    the way to the dataplane agent.
     * @param nic      the NIC port the queue pair is served against.
     * @param notifier how the dataplane tells the guest about used buffers.
     * @param counters where queue counters are allocated (the counters file), or null.
     */
    public VirtioNetDevice(
        final PagewireConfig config,
        final GuestMemory memory,
        final DataplaneProxy proxy,
        final NicPort nic,
        final GuestNotifier notifier,
        final CountersManager counters)
    {
        this.counters = counters;
        this.memory = memory;
        this.proxy = proxy;
        this.nic = nic;
        this.notifier = notifier;
        this.policy = config.dataplane().rxPolicy() == RxPolicyKind.DROP ? RxPolicy.DROP : RxPolicy.WAIT;
        this.burst = config.dataplane().burst();
        this.maxRxSize = config.virtqueue().rxSize();
        this.maxTxSize = config.virtqueue().txSize();
        this.offeredFeatures = offeredFeatures(config.features());
    }

    /** @return the feature word the device offers for a config's {@code [features]} table. */
    public static long offeredFeatures(final FeaturesConfig features)
    {
        long offered = 0;
        offered |= features.version1() ? FeatureBit.VERSION_1.mask() : 0;
        offered |= features.mrgRxbuf() ? FeatureBit.MRG_RXBUF.mask() : 0;
        offered |= features.eventIdx() ? FeatureBit.EVENT_IDX.mask() : 0;
        offered |= features.indirectDesc() ? FeatureBit.INDIRECT_DESC.mask() : 0;
        offered |= features.guestTso() ?
            FeatureBit.GUEST_CSUM.mask() | FeatureBit.GUEST_TSO4.mask() | FeatureBit.GUEST_TSO6.mask() : 0;
        offered |= features.hostTso() ?
            FeatureBit.CSUM.mask() | FeatureBit.HOST_TSO4.mask() | FeatureBit.HOST_TSO6.mask() : 0;
        return offered;
    }

    @Override
    public long deviceFeatures()
    {
        return offeredFeatures;
    }

    @Override
    public void driverFeatures(final long features)
    {
        if ((status & DeviceStatus.FEATURES_OK) != 0)
        {
            log("driver features written after FEATURES_OK: ignored");
            return;
        }
        driverFeatures = features;
    }

    @Override
    public int status()
    {
        return status;
    }

    @Override
    public void status(final int value)
    {
        if (value == 0)
        {
            reset();
            return;
        }
        int newStatus = value;
        final int added = value & ~status;
        if ((added & DeviceStatus.FEATURES_OK) != 0)
        {
            final long unknown = driverFeatures & ~offeredFeatures;
            if (unknown != 0)
            {
                featuresRefused++;
                log("FEATURES_OK refused: driver accepted features not offered: " + names(unknown));
                newStatus &= ~DeviceStatus.FEATURES_OK;
            }
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0)
        {
            if ((newStatus & DeviceStatus.FEATURES_OK) == 0)
            {
                setupRefused++;
                log("DRIVER_OK without FEATURES_OK: device needs reset");
                newStatus |= DeviceStatus.DEVICE_NEEDS_RESET;
            }
            else if (!startQueues())
            {
                setupRefused++;
                newStatus |= DeviceStatus.DEVICE_NEEDS_RESET;
            }
        }
        status = newStatus | (status & DeviceStatus.DEVICE_NEEDS_RESET);
    }

    @Override
    public int maxQueueSize()
    {
        return Math.max(maxRxSize, maxTxSize);
    }

    @Override
    public void queue(final int index, final int size, final long descTable, final long availRing, final long usedRing)
    {
        if (index < 0 || index > 1)
        {
            log("queue " + index + ": this device has one queue pair (0 = receiveq, 1 = transmitq)");
            return;
        }
        queueSize[index] = size;
        queueRings[index][0] = descTable;
        queueRings[index][1] = availRing;
        queueRings[index][2] = usedRing;
    }

    private boolean startQueues()
    {
        final QueuePair.RingAddresses rxRings = checkedRings(0, maxRxSize);
        final QueuePair.RingAddresses txRings = checkedRings(1, maxTxSize);
        if (rxRings == null || txRings == null)
        {
            return false;
        }
        if (queueCounters == null && counters != null)
        {
            queueCounters = new QueueCounters(counters, 0);
        }
        final QueuePair pair = QueuePairFactory.create(0, driverFeatures, memory, queueSize[0], rxRings,
            queueSize[1], txRings, nic, notifier, policy, burst, queueCounters);
        if (lastDetached != null)
        {
            pair.continueFrom(lastDetached);
        }
        attached = pair;
        detached = false;
        brokenReason = null;
        proxy.attach(pair);
        return true;
    }

    private QueuePair.RingAddresses checkedRings(final int index, final int maxSize)
    {
        final String name = index == 0 ? "receiveq" : "transmitq";
        final long desc = queueRings[index][0];
        final long avail = queueRings[index][1];
        final long used = queueRings[index][2];
        final String problem = QueuePairFactory.checkRing(name, queueSize[index], maxSize, desc, avail, used);
        if (problem != null)
        {
            log(problem);
            return null;
        }
        final QueuePair.RingAddresses rings =
            QueuePairFactory.translate(memory, false, queueSize[index], desc, avail, used, 0);
        if (rings == null)
        {
            log(name + ": ring outside guest memory");
        }
        return rings;
    }

    private void reset()
    {
        if (attached != null)
        {
            proxy.detach(attached.index());
            final long deadline = System.nanoTime() + DETACH_TIMEOUT_NS;
            while (!detached && System.nanoTime() - deadline < 0)
            {
                if (!pollEvents())
                {
                    Thread.onSpinWait();
                }
            }
            if (!detached)
            {
                throw new IllegalStateException("dataplane did not release the queues within 5 s");
            }
            attached = null;
        }
        status = 0;
        driverFeatures = 0;
        queueSize[0] = 0;
        queueSize[1] = 0;
    }

    /**
     * Consumes events from the dataplane (control thread).
     *
     * @return whether any event was processed.
     */
    public boolean pollEvents()
    {
        return proxy.pollEvents(eventHandler);
    }

    private boolean onEvent(final DataplaneEvent event, final long sequence, final boolean endOfBatch)
    {
        switch (event.type())
        {
            case ATTACHED -> log("queue pair " + event.queuePair().index() + " running");
            case DETACHED ->
            {
                if (event.queuePair() == attached)
                {
                    detached = true;
                    lastDetached = event.queuePair();
                }
            }
            case QUEUE_BROKEN ->
            {
                brokenReason = event.error();
                status |= DeviceStatus.DEVICE_NEEDS_RESET;
                log((event.rx() ? "receiveq" : "transmitq") + " broken: " + event.error().description() +
                    "; device needs reset");
            }
        }
        return true;
    }

    private static String names(final long features)
    {
        final List<String> names = new ArrayList<>();
        FeatureBit.names(features, names);
        return String.join(",", names);
    }

    private void log(final String message)
    {
        // Bounded: a hostile driver repeating a refused request must not grow control's memory.
        if (log.size() == MAX_LOG_ENTRIES)
        {
            log.removeFirst();
        }
        log.add(message);
    }

    /** @return the features the driver accepted (valid once FEATURES_OK is set). */
    public long negotiatedFeatures()
    {
        return (status & DeviceStatus.FEATURES_OK) != 0 ? driverFeatures : 0;
    }

    /** @return the queue pair the dataplane serves now, or null. */
    public QueuePair attached()
    {
        return attached;
    }

    /** @return the queue pair most recently given back by the dataplane (safe to read), or null. */
    public QueuePair lastDetached()
    {
        return lastDetached;
    }

    /** @return why a queue broke, or null. */
    public QueueError brokenReason()
    {
        return brokenReason;
    }

    /** @return times FEATURES_OK was refused. */
    public long featuresRefused()
    {
        return featuresRefused;
    }

    /** @return times DRIVER_OK failed (queue setup invalid or features not OK). */
    public long setupRefused()
    {
        return setupRefused;
    }

    /** @return what the device had to say (refusals, breakage), in order; for the CLI and tests. */
    public List<String> log()
    {
        return log;
    }
}
