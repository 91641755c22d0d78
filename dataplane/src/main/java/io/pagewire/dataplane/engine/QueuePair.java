package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.guest.FrameFormat;
import io.pagewire.dataplane.guest.LatencyRecorder;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.stats.QueueCounters;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.QueueError;

/**
 * One receive/transmit virtqueue pair of a guest served against one NIC port: the unit a dataplane agent owns.
 * Control builds it (queues, the RX writer chosen at negotiation, the TX reader) and hands it to the agent with an
 * attach command; from then on only the dataplane thread touches it, until a detach command gives it back.
 * <p>
 * Totals are plain fields written by the dataplane thread only. Control reads them live through the counters file
 * and reads the fields themselves only after the queue pair was detached (the command/event rings order that).
 */
public final class QueuePair
{
    /** Drop causes counted on the receive path, by index into {@link #rxDrops()}. */
    public enum RxDrop
    {
        NO_BUFFERS, FRAME_TOO_LONG, BUFFER_TOO_SMALL, TOO_MANY_SEGMENTS, QUEUE_BROKEN, BAD_NIC_FRAME;

        /** @return the name used in summaries: lower case. */
        public String label()
        {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Highest exact bucket of the buffers-per-packet histogram; larger counts land in the last bucket. */
    public static final int MAX_EXACT_BUFFERS = 64;

    private final int index;
    private final DeviceVirtqueue rxQueue;
    private final DeviceVirtqueue txQueue;
    private final RxWriter writer;
    private final TxReader reader;
    private final NicPort nic;
    private final GuestNotifier notifier;
    private final RxPolicy policy;
    private final int burst;
    private final RingAddresses rxRings;
    private final RingAddresses txRings;
    private final long negotiatedFeatures;

    private final long[] rxDrops = new long[RxDrop.values().length];
    private final long[] buffersPerPacket = new long[MAX_EXACT_BUFFERS + 2];
    private long rxPackets;
    private long rxBytes;
    private long rxTaken;
    private boolean rxBrokenReported;
    private LatencyRecorder publishLatency;
    private final UnsafeBuffer stampView = new UnsafeBuffer(0, 0);
    private boolean txBrokenReported;
    /** The guest memory the rings and buffers are in, to find out after a fault whether it was shrunk; or null. */
    private GuestMemory guestMemory;
    /** Set by the agent when touching memory faulted and this pair's was found gone: never polled again. */
    private boolean memoryFault;
    /** Where {@link #touchFrames} leaves its sum; never read. */
    private long touched;

    private final QueueCounters counters;
    private final long[] publishedRxDrops = new long[RxDrop.values().length];
    private final long[] publishedBuffers = new long[MAX_EXACT_BUFFERS + 2];
    private int highestBucketSeen;
    private long publishedRxPackets = -1;
    private long publishedRxTaken = -1;
    private long publishedTxTaken = -1;
    private long publishedTxFrames = -1;
    private long publishedTxDrops = -1;
    private long publishedTxOffloads = -1;
    private long publishedTxSinkFull = -1;
    private long publishedWorkLimits = -1;

    /** Reads a ring's index at start: wrapped at {@link #enable()}, a few field stores, no allocation. */
    private final UnsafeBuffer ringIndexView = new UnsafeBuffer(0, 0);
    private int rxStartUsedIdx;
    private int rxStartAvailIdx;
    private int txStartUsedIdx;
    private int txStartAvailIdx;
    private long rxRingResyncs;
    private long txRingResyncs;
    private long publishedRingResyncs;

    /** Where one virtqueue's rings are, as host addresses already checked against guest memory. */
    public record RingAddresses(long descTable, long availRing, long usedRing, int baseIndex)
    {
    }

    /**
     * @param index        queue pair number n: receiveq n is virtio queue 2n, transmitq n is 2n+1.
     * @param rxQueue      the guest's receive queue (device side).
     * @param writer       the RX writer chosen at negotiation, over {@code rxQueue}.
     * @param txQueue      the guest's transmit queue (device side).
     * @param reader       the TX reader over {@code txQueue}.
     * @param rxRings      ring addresses of the receive queue.
     * @param txRings      ring addresses of the transmit queue.
     * @param negotiatedFeatures the features the driver accepted (EVENT_IDX, INDIRECT_DESC for the rings; the NIC
     *                           port learns them at attach, for the receive offloads it may pass on).
     * @param nic          the NIC port frames come from and go to.
     * @param notifier     how to tell the guest about used buffers.
     * @param policy       what to do when the guest has no buffers.
     * @param burst        frames per direction per duty cycle.
     * @param counters     where the totals are published for {@code pagewire stat}, or null.
     */
    public QueuePair(
        final int index,
        final DeviceVirtqueue rxQueue,
        final RxWriter writer,
        final DeviceVirtqueue txQueue,
        final TxReader reader,
        final RingAddresses rxRings,
        final RingAddresses txRings,
        final long negotiatedFeatures,
        final NicPort nic,
        final GuestNotifier notifier,
        final RxPolicy policy,
        final int burst,
        final QueueCounters counters)
    {
        this.index = index;
        this.rxQueue = rxQueue;
        this.writer = writer;
        this.txQueue = txQueue;
        this.reader = reader;
        this.rxRings = rxRings;
        this.txRings = txRings;
        this.negotiatedFeatures = negotiatedFeatures;
        this.nic = nic;
        this.notifier = notifier;
        this.policy = policy;
        this.burst = burst;
        this.counters = counters;
    }

    /**
     * Enables both virtqueues where the rings say they are, tells the NIC port the guest's features, and notifies the
     * guest once on each queue. Dataplane thread only (or before the pair is attached).
     * <p>
     * <b>Where a queue resumes.</b> For a split ring vhost-user's SET_VRING_BASE gives only the next available index;
     * the used index is the ring's own {@code used.idx} in guest memory (vhost-user.rst, SET_VRING_BASE), so the device
     * continues from that. When the base differs from {@code used.idx} the available index resumes at {@code used.idx}
     * too, as DPDK's backend does (lib/vhost/vhost_user.c, translate_ring_addresses: "last_used_idx ... and
     * vq->used->idx ... mismatches"), libvhost-user does for a device that completes chains in order
     * (vu_set_vring_addr_exec), and QEMU does itself when its backend goes away (virtio_queue_restore_last_avail_idx).
     * This device completes chains in the order it took them, so the chains between {@code used.idx} and the base
     * are exactly those a previous device took and never returned; read again from the available ring they are served
     * now (a transmit chain may then be sent twice, a receive buffer is filled again) instead of being lost to the
     * driver for good. The case it is made for: DPDK's virtio_user with {@code server=1} keeps its rings when its
     * backend dies and sends SET_VRING_BASE 0 to the next one. In the ordinary cases the two agree and nothing
     * changes: a fresh ring (0 and 0), and a restart with the base GET_VRING_BASE returned (this device never holds a
     * chain across a duty cycle, so that base is the {@code used.idx} it published). A ring whose {@code used.idx} is
     * more than a queue size behind {@code avail.idx} breaks on the first read ({@code AVAIL_INDEX_JUMP}).
     * <p>
     * <b>One notification at start</b>, whatever the driver's flags or {@code used_event} say: a driver may be
     * waiting for an interrupt for used buffers the previous device published without notifying (it died in
     * between), and with EVENT_IDX a {@code used_event} left behind the ring's {@code used.idx} is never crossed
     * again, so the driver would never be told. A notification it did not ask for is harmless: "The driver MUST handle
     * spurious notifications from the device" (virtio 1.2 §2.7.7.1); QEMU's vring_notify and DPDK's
     * vhost_vring_call_split also notify unconditionally the first time after a start.
     */
    void enable()
    {
        final boolean eventIdx = FeatureBit.EVENT_IDX.isSetIn(negotiatedFeatures);
        final boolean indirectDesc = FeatureBit.INDIRECT_DESC.isSetIn(negotiatedFeatures);
        rxStartUsedIdx = ringIndex(rxRings.usedRing(), SplitRingLayout.USED_IDX_OFFSET);
        rxStartAvailIdx = ringIndex(rxRings.availRing(), SplitRingLayout.AVAIL_IDX_OFFSET);
        txStartUsedIdx = ringIndex(txRings.usedRing(), SplitRingLayout.USED_IDX_OFFSET);
        txStartAvailIdx = ringIndex(txRings.availRing(), SplitRingLayout.AVAIL_IDX_OFFSET);
        if (rxStartUsedIdx != rxRings.baseIndex())
        {
            rxRingResyncs++;
        }
        if (txStartUsedIdx != txRings.baseIndex())
        {
            txRingResyncs++;
        }
        rxQueue.enable(rxRings.descTable(), rxRings.availRing(), rxRings.usedRing(), rxStartUsedIdx,
            eventIdx, indirectDesc);
        txQueue.enable(txRings.descTable(), txRings.availRing(), txRings.usedRing(), txStartUsedIdx,
            eventIdx, indirectDesc);
        nic.guestFeatures(negotiatedFeatures);
        notifier.notifyUsed(2 * index);
        notifier.notifyUsed(2 * index + 1);
    }

    /** @return a ring's u16 index at {@code offset}, read with a volatile load (acquire: pairs with its writer). */
    private int ringIndex(final long ringAddress, final int offset)
    {
        ringIndexView.wrap(ringAddress, offset + Short.BYTES);
        return ringIndexView.getShortVolatile(offset) & 0xFFFF;
    }

    /**
     * Disables both virtqueues (their last available indices are what vhost-user GET_VRING_BASE returns) and tells
     * the NIC port no guest takes offloads any more.
     */
    void disable()
    {
        rxQueue.disable();
        txQueue.disable();
        nic.guestFeatures(0);
    }

    /**
     * Moves up to a burst of frames from the NIC's receive ring into the guest's receive queue, then publishes the
     * used ring once and notifies the guest if it asked.
     *
     * @return frames taken off the NIC ring (delivered or dropped).
     */
    int deliverToGuest()
    {
        final NicPort nic = this.nic;
        rxQueue.beginBurst();
        final int frames = Math.min(nic.rxAvailable(), burst);
        int taken = 0;
        long bytes = 0;
        int delivered = 0;
        final long oldestSendNs = publishLatency == null || frames == 0 ? Long.MIN_VALUE : oldestSendTimeNs(nic);
        boolean oldestDelivered = false;
        touchFrames(nic, frames);
        while (taken < frames)
        {
            final int length = nic.rxFrameLength(taken);
            if (length < 0)
            {
                rxDrops[RxDrop.BAD_NIC_FRAME.ordinal()]++;
                taken++;
                continue;
            }
            final int result = writer.deliverToGuest(nic.rxFrameAddress(taken), length, nic.rxFrameVnetHeader(taken));
            if (result > 0)
            {
                oldestDelivered |= taken == 0;
                delivered++;
                bytes += length;
                final int bucket = Math.min(result, MAX_EXACT_BUFFERS + 1);
                buffersPerPacket[bucket]++;
                if (bucket > highestBucketSeen)
                {
                    highestBucketSeen = bucket;
                }
            }
            else if (result == RxWriter.NO_BUFFERS && policy == RxPolicy.WAIT || result == RxWriter.WORK_LIMIT)
            {
                // WORK_LIMIT: the guest's chains spent this cycle's descriptor budget; the frame is not lost.
                break;
            }
            else
            {
                rxDrops[dropCause(result).ordinal()]++;
            }
            taken++;
        }
        if (taken > 0)
        {
            nic.rxRelease(taken);
            rxTaken += taken;
        }
        if (delivered > 0)
        {
            rxPackets += delivered;
            rxBytes += bytes;
            if (rxQueue.publishUsed())
            {
                notifier.notifyUsed(2 * index);
            }
            if (oldestDelivered && oldestSendNs != Long.MIN_VALUE)
            {
                publishLatency.beginBatch();
                publishLatency.recordSince(oldestSendNs);
                publishLatency.endBatch();
            }
        }
        return taken;
    }

    /**
     * Reads the first 8 bytes of every frame of the burst before any is copied. The frames were just written by the
     * NIC's producer on the other core, so each first touch is a cache miss; loads that do not depend on each other
     * overlap in the CPU, where the copies, one after the other, would each wait for their own. With inline small
     * copies, PVP at 64 bytes went from 5.7 to 6.8 Mpps (medians of 7 alternating runs; perf/RESULTS.md). The sum
     * goes to a field so the loads are not optimised away. A frame shorter than 8 bytes is not touched (its buffer
     * may end there).
     */
    private void touchFrames(final NicPort nic, final int frames)
    {
        long sum = 0;
        for (int i = 0; i < frames; i++)
        {
            if (nic.rxFrameLength(i) >= Long.BYTES)
            {
                sum += UnsafeApi.getLong(nic.rxFrameAddress(i));
            }
        }
        touched += sum;
    }

    /** @return the intended send time stamped in the burst's first frame, or Long.MIN_VALUE if it has none. */
    private long oldestSendTimeNs(final NicPort nic)
    {
        final int length = nic.rxFrameLength(0);
        if (length < FrameFormat.MIN_FRAME_LENGTH)
        {
            return Long.MIN_VALUE;
        }
        stampView.wrap(nic.rxFrameAddress(0), length);
        return FrameFormat.isOurs(stampView, 0, length) ? FrameFormat.sendTimeNs(stampView, 0) : Long.MIN_VALUE;
    }

    /**
     * Samples, once per receive burst, the time from the intended send time of the burst's first (oldest) frame to
     * the used-ring publication that makes it visible to the guest; only on the dataplane thread, before the pair
     * runs (the agent sets it when the pair attaches).
     *
     * @param recorder where to record, or null for nothing.
     */
    void publishLatency(final LatencyRecorder recorder)
    {
        publishLatency = recorder;
    }

    /**
     * Moves up to a burst of frames from the guest's transmit queue to the NIC, publishing used once.
     *
     * @return chains consumed.
     */
    int collectFromGuest()
    {
        final int consumed = reader.collectFromGuest(nic, burst);
        nic.flush();
        if (consumed > 0 && txQueue.publishUsed())
        {
            notifier.notifyUsed(2 * index + 1);
        }
        return consumed;
    }

    /**
     * Publishes totals that changed to the counters file with release stores (single writer: this thread), and
     * samples the receive ring occupancy. Once per duty cycle.
     */
    void publishCounters()
    {
        final QueueCounters counters = this.counters;
        if (counters == null)
        {
            return;
        }
        counters.rxRingOccupancy().setRelease(rxQueue.pendingChains());
        if (rxPackets != publishedRxPackets)
        {
            publishedRxPackets = rxPackets;
            counters.rxPackets().setRelease(rxPackets);
            counters.rxBytes().setRelease(rxBytes);
            for (int bucket = 1; bucket <= highestBucketSeen; bucket++)
            {
                if (buffersPerPacket[bucket] != publishedBuffers[bucket])
                {
                    publishedBuffers[bucket] = buffersPerPacket[bucket];
                    counters.rxBuffersPerPacket(bucket).setRelease(buffersPerPacket[bucket]);
                }
            }
        }
        for (final RxDrop drop : RX_DROPS)
        {
            final long value = rxDrops[drop.ordinal()];
            if (value != publishedRxDrops[drop.ordinal()])
            {
                publishedRxDrops[drop.ordinal()] = value;
                counterOf(counters, drop).setRelease(value);
            }
        }
        if (rxTaken != publishedRxTaken)
        {
            publishedRxTaken = rxTaken;
            counters.rxTaken().setRelease(rxTaken);
        }
        final TxReader reader = this.reader;
        if (reader.sentFrames() != publishedTxFrames)
        {
            publishedTxFrames = reader.sentFrames();
            counters.txPackets().setRelease(publishedTxFrames);
            counters.txBytes().setRelease(reader.sentBytes());
            counters.txNicFrames().setRelease(reader.nicFrames());
        }
        if (reader.takenFrames() != publishedTxTaken)
        {
            publishedTxTaken = reader.takenFrames();
            counters.txTaken().setRelease(publishedTxTaken);
        }
        final long txDrops = reader.droppedTooLong() + reader.droppedGso() + reader.droppedBadHeader() +
            reader.droppedRunt();
        if (txDrops != publishedTxDrops)
        {
            publishedTxDrops = txDrops;
            counters.txDropsTooLong().setRelease(reader.droppedTooLong());
            counters.txDropsGso().setRelease(reader.droppedGso());
            counters.txDropsBadVnetHdr().setRelease(reader.droppedBadHeader());
            counters.txDropsRunt().setRelease(reader.droppedRunt());
        }
        final long workLimits = rxQueue.workLimits() + txQueue.workLimits();
        if (workLimits != publishedWorkLimits)
        {
            publishedWorkLimits = workLimits;
            counters.rxWorkLimit().setRelease(rxQueue.workLimits());
            counters.txWorkLimit().setRelease(txQueue.workLimits());
        }
        final long txOffloads = reader.checksumsCompleted() + reader.segmented() + reader.offloadsPassed();
        if (txOffloads != publishedTxOffloads)
        {
            publishedTxOffloads = txOffloads;
            counters.txCsumCompleted().setRelease(reader.checksumsCompleted());
            counters.txGsoSegmented().setRelease(reader.segmented());
            counters.txOffloadsPassed().setRelease(reader.offloadsPassed());
        }
        if (reader.sinkFull() != publishedTxSinkFull)
        {
            publishedTxSinkFull = reader.sinkFull();
            counters.txNicRingFull().setRelease(publishedTxSinkFull);
        }
        if (rxRingResyncs + txRingResyncs != publishedRingResyncs)
        {
            publishedRingResyncs = rxRingResyncs + txRingResyncs;
            counters.rxRingResyncs().setRelease(rxRingResyncs);
            counters.txRingResyncs().setRelease(txRingResyncs);
        }
    }

    /**
     * Continues the totals of the pair this one replaces (same index, a frontend that reconnected or a ring that
     * restarted), so counters and summaries count across restarts. Before attach only.
     */
    public void continueFrom(final QueuePair previous)
    {
        rxPackets = previous.rxPackets;
        rxBytes = previous.rxBytes;
        rxTaken = previous.rxTaken;
        System.arraycopy(previous.rxDrops, 0, rxDrops, 0, rxDrops.length);
        System.arraycopy(previous.buffersPerPacket, 0, buffersPerPacket, 0, buffersPerPacket.length);
        highestBucketSeen = Math.max(highestBucketSeen, previous.highestBucketSeen);
        rxRingResyncs = previous.rxRingResyncs;
        txRingResyncs = previous.txRingResyncs;
        reader.continueFrom(previous.reader);
    }

    /**
     * Names the guest memory this pair's rings and buffers are in, so that after a memory fault the agent can ask
     * whether it is this pair's memory that went away. Before attach only.
     *
     * @param memory the memory table the pair was built over (with the regions' backing, for a frontend's memory).
     * @return this.
     */
    public QueuePair guestMemory(final GuestMemory memory)
    {
        guestMemory = memory;
        return this;
    }

    /**
     * Whether memory this pair touches no longer backs its mapping: a region of its guest memory was shrunk by the
     * peer. Allocates (fstat per region); only after a fault. Dataplane thread, or control once detached.
     *
     * @return whether it is gone.
     */
    boolean memoryLost()
    {
        return guestMemory != null && guestMemory.lostRegion() >= 0;
    }

    /**
     * Breaks both queues with {@link QueueError#MEMORY_FAULT} and stops the pair for good: the agent polls it no more
     * (its memory may fault again on any access) and reports the breakage like any other. The queue error counter
     * ({@code queue error memory_fault}) counts one per pair so broken, added here: this is not the data path, and
     * the count goes on across the pair's restarts as the counter does. Dataplane thread.
     */
    void markMemoryFault()
    {
        if (memoryFault)
        {
            return;
        }
        memoryFault = true;
        rxQueue.markBroken(QueueError.MEMORY_FAULT);
        txQueue.markBroken(QueueError.MEMORY_FAULT);
        if (counters != null)
        {
            counters.queueErrors(QueueError.MEMORY_FAULT).getAndAddRelease(1);
        }
    }

    /** @return whether a memory fault stopped this pair ({@link QueueError#MEMORY_FAULT}). */
    public boolean memoryFault()
    {
        return memoryFault;
    }

    /** @return the counters this pair publishes to, or null. */
    public QueueCounters counters()
    {
        return counters;
    }

    private static final RxDrop[] RX_DROPS = RxDrop.values();

    private static AtomicCounter counterOf(final QueueCounters counters, final RxDrop drop)
    {
        return switch (drop)
        {
            case NO_BUFFERS -> counters.rxDrops(RxWriter.NO_BUFFERS);
            case FRAME_TOO_LONG -> counters.rxDrops(RxWriter.FRAME_TOO_LONG);
            case BUFFER_TOO_SMALL -> counters.rxDrops(RxWriter.BUFFER_TOO_SMALL);
            case TOO_MANY_SEGMENTS -> counters.rxDrops(RxWriter.TOO_MANY_SEGMENTS);
            case QUEUE_BROKEN -> counters.rxDrops(RxWriter.QUEUE_BROKEN);
            case BAD_NIC_FRAME -> counters.rxDropsBadNicFrame();
        };
    }

    private static RxDrop dropCause(final int result)
    {
        return switch (result)
        {
            case RxWriter.NO_BUFFERS -> RxDrop.NO_BUFFERS;
            case RxWriter.FRAME_TOO_LONG -> RxDrop.FRAME_TOO_LONG;
            case RxWriter.BUFFER_TOO_SMALL -> RxDrop.BUFFER_TOO_SMALL;
            case RxWriter.TOO_MANY_SEGMENTS -> RxDrop.TOO_MANY_SEGMENTS;
            default -> RxDrop.QUEUE_BROKEN;
        };
    }

    /** @return the queue pair number. */
    public int index()
    {
        return index;
    }

    public DeviceVirtqueue rxQueue()
    {
        return rxQueue;
    }

    public DeviceVirtqueue txQueue()
    {
        return txQueue;
    }

    public TxReader reader()
    {
        return reader;
    }

    /** @return where the receive queue's rings are (host addresses). */
    public RingAddresses rxRings()
    {
        return rxRings;
    }

    /** @return where the transmit queue's rings are (host addresses). */
    public RingAddresses txRings()
    {
        return txRings;
    }

    /**
     * @param rx the receive queue, else the transmit queue.
     * @return the ring's {@code used.idx} when the pair started: where the queue resumed (see {@link #enable()}).
     * Written before the pair is reported attached; read it after that.
     */
    public int startUsedIdx(final boolean rx)
    {
        return rx ? rxStartUsedIdx : txStartUsedIdx;
    }

    /**
     * @param rx the receive queue, else the transmit queue.
     * @return the ring's {@code avail.idx} when the pair started: {@code startAvailIdx - startUsedIdx} (mod 2^16)
     * chains were already waiting. Written before the pair is reported attached; read it after that.
     */
    public int startAvailIdx(final boolean rx)
    {
        return rx ? rxStartAvailIdx : txStartAvailIdx;
    }

    /**
     * @param rx the receive queue, else the transmit queue.
     * @return starts of this pair and the pairs it continues ({@link #continueFrom}) at which the ring's
     * {@code used.idx} was not the base the frontend gave, and the queue resumed at {@code used.idx}.
     */
    public long ringResyncs(final boolean rx)
    {
        return rx ? rxRingResyncs : txRingResyncs;
    }

    /** @return frames delivered into the guest's receive queue. */
    public long rxPackets()
    {
        return rxPackets;
    }

    /**
     * @return frames taken from the NIC port's receive ring, whatever became of them: every one is in
     * {@link #rxPackets()} or in one of {@link #rxDrops()} (all but nic_ring_full, which the sources count).
     */
    public long rxTaken()
    {
        return rxTaken;
    }

    /** @return frame bytes (without the virtio-net header) delivered to the guest. */
    public long rxBytes()
    {
        return rxBytes;
    }

    /** @return receive drops indexed by {@link RxDrop#ordinal()}. */
    public long[] rxDrops()
    {
        return rxDrops;
    }

    /** @return packets by buffers used: index k for k buffers (1..64), index 65 for more. */
    public long[] buffersPerPacket()
    {
        return buffersPerPacket;
    }

    boolean breakageReported(final boolean rx)
    {
        return rx ? rxBrokenReported : txBrokenReported;
    }

    void markBreakageReported(final boolean rx)
    {
        if (rx)
        {
            rxBrokenReported = true;
        }
        else
        {
            txBrokenReported = true;
        }
        final QueueError error = (rx ? rxQueue : txQueue).brokenReason();
        if (counters != null && error != null && error != QueueError.MEMORY_FAULT)
        {
            // One per broken queue, by its (first) cause: the queue error counters pagewire stat and /metrics show.
            // MEMORY_FAULT is counted once per pair where it is marked (markMemoryFault).
            counters.queueErrors(error).getAndAddRelease(1);
        }
    }
}
