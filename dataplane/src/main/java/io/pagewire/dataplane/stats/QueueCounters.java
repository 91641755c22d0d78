package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * All the counters of one queue pair, allocated from a {@link CountersManager} (normally a {@link CountersFile}'s)
 * and held as fields, so the dataplane reaches each with a field load and no lookup.
 * <p>
 * Single writer: the dataplane thread that owns the queue pair. It keeps its own plain tallies during a duty cycle
 * and adds them once per cycle with {@link AtomicCounter#getAndAddRelease} (a release store: a reader that loads the
 * new value sees the earlier ones too, and no locked instruction), and samples gauges with
 * {@link AtomicCounter#setRelease}. Readers in other processes use {@link CountersLookup}.
 * <p>
 * Allocation happens here, once, off the hot path; the accessors allocate nothing.
 */
public final class QueueCounters implements AutoCloseable
{
    /** How many counters one queue pair allocates: size a {@link CountersFile} with this. */
    public static final int COUNTERS_PER_QUEUE_PAIR = countersPerQueuePair();

    private final int queue;
    private final AtomicCounter[] all = new AtomicCounter[COUNTERS_PER_QUEUE_PAIR];
    private int allocated;

    private final AtomicCounter rxPackets;
    private final AtomicCounter rxBytes;
    private final AtomicCounter rxDropsNoBuffers;
    private final AtomicCounter rxDropsFrameTooLong;
    private final AtomicCounter rxDropsBufferTooSmall;
    private final AtomicCounter rxDropsTooManySegments;
    private final AtomicCounter rxDropsQueueBroken;
    private final AtomicCounter rxDropsNicRingFull;
    private final AtomicCounter rxDropsBadNicFrame;
    private final AtomicCounter[] rxBuffersPerPacket;
    private final AtomicCounter rxRingOccupancy;
    private final AtomicCounter txPackets;
    private final AtomicCounter txBytes;
    private final AtomicCounter txDropsTooLong;
    private final AtomicCounter txDropsGso;
    private final AtomicCounter txNicRingFull;
    private final AtomicCounter[] queueErrors;
    private final AtomicCounter txDropsBadVnetHdr;
    private final AtomicCounter txCsumCompleted;
    private final AtomicCounter txGsoSegmented;
    private final AtomicCounter txOffloadsPassed;
    private final AtomicCounter txTaken;
    private final AtomicCounter txNicFrames;
    private final AtomicCounter rxTaken;
    private final AtomicCounter notifyCallFull;
    private final AtomicCounter notifyCallBlocked;
    private final AtomicCounter notifyErrNotWritten;
    private final AtomicCounter rxRingResyncs;
    private final AtomicCounter txRingResyncs;
    private final AtomicCounter isolated;
    private final AtomicCounter txDropsRunt;
    private final AtomicCounter rxWorkLimit;
    private final AtomicCounter txWorkLimit;

    /**
     * Allocates every {@link QueueCounter} of queue pair {@code queue}, in the enum's order, each with type id
     * {@link QueueCounter#id()}, key ({@code queue}, member) as {@link CounterKey} describes, and label
     * {@link QueueCounter#label(int, int)}.
     *
     * @param manager allocates the counters.
     * @param queue   the queue pair index, ≥ 0.
     * @throws IllegalStateException if the manager has fewer than {@link #COUNTERS_PER_QUEUE_PAIR} free counters
     *                               (nothing stays allocated then).
     */
    public QueueCounters(final CountersManager manager, final int queue)
    {
        if (queue < 0)
        {
            throw new IllegalArgumentException("queue=" + queue + ": must be ≥ 0");
        }
        if (manager.available() < COUNTERS_PER_QUEUE_PAIR)
        {
            throw new IllegalStateException("counters full: queue pair " + queue + " needs " +
                COUNTERS_PER_QUEUE_PAIR + " counters, " + manager.available() + " of " + manager.capacity() +
                " are free");
        }
        this.queue = queue;
        try
        {
            rxPackets = allocate(manager, QueueCounter.RX_PACKETS, 0);
            rxBytes = allocate(manager, QueueCounter.RX_BYTES, 0);
            rxDropsNoBuffers = allocate(manager, QueueCounter.RX_DROPS_NO_BUFFERS, 0);
            rxDropsFrameTooLong = allocate(manager, QueueCounter.RX_DROPS_FRAME_TOO_LONG, 0);
            rxDropsBufferTooSmall = allocate(manager, QueueCounter.RX_DROPS_BUFFER_TOO_SMALL, 0);
            rxDropsTooManySegments = allocate(manager, QueueCounter.RX_DROPS_TOO_MANY_SEGMENTS, 0);
            rxDropsQueueBroken = allocate(manager, QueueCounter.RX_DROPS_QUEUE_BROKEN, 0);
            rxDropsNicRingFull = allocate(manager, QueueCounter.RX_DROPS_NIC_RING_FULL, 0);
            rxBuffersPerPacket = new AtomicCounter[QueueCounter.BUFFER_BUCKETS];
            for (int bucket = 1; bucket <= QueueCounter.BUFFER_BUCKETS; bucket++)
            {
                rxBuffersPerPacket[bucket - 1] = allocate(manager, QueueCounter.RX_BUFFERS_PER_PACKET, bucket);
            }
            rxRingOccupancy = allocate(manager, QueueCounter.RX_RING_OCCUPANCY, 0);
            txPackets = allocate(manager, QueueCounter.TX_PACKETS, 0);
            txBytes = allocate(manager, QueueCounter.TX_BYTES, 0);
            txDropsTooLong = allocate(manager, QueueCounter.TX_DROPS_TOO_LONG, 0);
            txDropsGso = allocate(manager, QueueCounter.TX_DROPS_GSO, 0);
            txNicRingFull = allocate(manager, QueueCounter.TX_NIC_RING_FULL, 0);
            final QueueError[] errors = QueueError.values();
            queueErrors = new AtomicCounter[errors.length];
            for (final QueueError error : errors)
            {
                queueErrors[error.ordinal()] =
                    allocate(manager, QueueCounter.QUEUE_ERRORS, QueueCounter.queueErrorCode(error));
            }
            rxDropsBadNicFrame = allocate(manager, QueueCounter.RX_DROPS_BAD_NIC_FRAME, 0);
            txDropsBadVnetHdr = allocate(manager, QueueCounter.TX_DROPS_BAD_VNET_HDR, 0);
            txCsumCompleted = allocate(manager, QueueCounter.TX_CSUM_COMPLETED, 0);
            txGsoSegmented = allocate(manager, QueueCounter.TX_GSO_SEGMENTED, 0);
            txOffloadsPassed = allocate(manager, QueueCounter.TX_OFFLOADS_PASSED, 0);
            txTaken = allocate(manager, QueueCounter.TX_TAKEN, 0);
            txNicFrames = allocate(manager, QueueCounter.TX_NIC_FRAMES, 0);
            rxTaken = allocate(manager, QueueCounter.RX_TAKEN, 0);
            notifyCallFull = allocate(manager, QueueCounter.NOTIFY_CALL_FULL, 0);
            notifyCallBlocked = allocate(manager, QueueCounter.NOTIFY_CALL_BLOCKED, 0);
            notifyErrNotWritten = allocate(manager, QueueCounter.NOTIFY_ERR_NOT_WRITTEN, 0);
            rxRingResyncs = allocate(manager, QueueCounter.RX_RING_RESYNCS, 0);
            txRingResyncs = allocate(manager, QueueCounter.TX_RING_RESYNCS, 0);
            isolated = allocate(manager, QueueCounter.ISOLATED, 0);
            txDropsRunt = allocate(manager, QueueCounter.TX_DROPS_RUNT, 0);
            rxWorkLimit = allocate(manager, QueueCounter.RX_WORK_LIMIT, 0);
            txWorkLimit = allocate(manager, QueueCounter.TX_WORK_LIMIT, 0);
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
        if (allocated != COUNTERS_PER_QUEUE_PAIR)
        {
            close();
            throw new IllegalStateException("QueueCounters allocated " + allocated + " counters, expected " +
                COUNTERS_PER_QUEUE_PAIR + ": a QueueCounter entry has no field here");
        }
    }

    private AtomicCounter allocate(final CountersManager manager, final QueueCounter counter, final int member)
    {
        final AtomicCounter atomicCounter = counter.allocate(manager, queue, member);
        all[allocated++] = atomicCounter;
        return atomicCounter;
    }

    /**
     * @return the queue pair index.
     */
    public int queue()
    {
        return queue;
    }

    /**
     * @return {@link QueueCounter#RX_PACKETS}.
     */
    public AtomicCounter rxPackets()
    {
        return rxPackets;
    }

    /**
     * @return {@link QueueCounter#RX_BYTES}.
     */
    public AtomicCounter rxBytes()
    {
        return rxBytes;
    }

    /**
     * @return {@link QueueCounter#RX_DROPS_NIC_RING_FULL}.
     */
    public AtomicCounter rxDropsNicRingFull()
    {
        return rxDropsNicRingFull;
    }

    /**
     * @return {@link QueueCounter#RX_DROPS_BAD_NIC_FRAME}.
     */
    public AtomicCounter rxDropsBadNicFrame()
    {
        return rxDropsBadNicFrame;
    }

    /**
     * The drop counter for a negative {@link RxWriter#deliverToGuest} result.
     *
     * @param rxWriterResult {@link RxWriter#NO_BUFFERS}, {@link RxWriter#FRAME_TOO_LONG},
     *                       {@link RxWriter#BUFFER_TOO_SMALL}, {@link RxWriter#QUEUE_BROKEN} or
     *                       {@link RxWriter#TOO_MANY_SEGMENTS}.
     * @return the matching {@code rx drops} counter.
     * @throws IllegalArgumentException for a result that is not a drop.
     */
    public AtomicCounter rxDrops(final int rxWriterResult)
    {
        return switch (rxWriterResult)
        {
            case RxWriter.NO_BUFFERS -> rxDropsNoBuffers;
            case RxWriter.FRAME_TOO_LONG -> rxDropsFrameTooLong;
            case RxWriter.BUFFER_TOO_SMALL -> rxDropsBufferTooSmall;
            case RxWriter.QUEUE_BROKEN -> rxDropsQueueBroken;
            case RxWriter.TOO_MANY_SEGMENTS -> rxDropsTooManySegments;
            default -> throw new IllegalArgumentException("RxWriter result " + rxWriterResult + " is not a drop");
        };
    }

    /**
     * The histogram bucket counter of a frame that used {@code numBuffers} buffers.
     *
     * @param numBuffers ≥ 1; 65 and more share the last bucket.
     * @return the bucket's counter.
     */
    public AtomicCounter rxBuffersPerPacket(final int numBuffers)
    {
        return rxBuffersPerPacket[QueueCounter.bufferBucket(numBuffers) - 1];
    }

    /**
     * @return {@link QueueCounter#RX_RING_OCCUPANCY}, a gauge: set it, don't add to it.
     */
    public AtomicCounter rxRingOccupancy()
    {
        return rxRingOccupancy;
    }

    /**
     * @return {@link QueueCounter#TX_PACKETS}.
     */
    public AtomicCounter txPackets()
    {
        return txPackets;
    }

    /**
     * @return {@link QueueCounter#TX_BYTES}.
     */
    public AtomicCounter txBytes()
    {
        return txBytes;
    }

    /**
     * @return {@link QueueCounter#TX_DROPS_TOO_LONG}.
     */
    public AtomicCounter txDropsTooLong()
    {
        return txDropsTooLong;
    }

    /**
     * @return {@link QueueCounter#TX_DROPS_BAD_VNET_HDR}.
     */
    public AtomicCounter txDropsBadVnetHdr()
    {
        return txDropsBadVnetHdr;
    }

    /**
     * @return {@link QueueCounter#TX_CSUM_COMPLETED}.
     */
    public AtomicCounter txCsumCompleted()
    {
        return txCsumCompleted;
    }

    /**
     * @return {@link QueueCounter#TX_GSO_SEGMENTED}.
     */
    public AtomicCounter txGsoSegmented()
    {
        return txGsoSegmented;
    }

    /**
     * @return {@link QueueCounter#TX_OFFLOADS_PASSED}.
     */
    public AtomicCounter txOffloadsPassed()
    {
        return txOffloadsPassed;
    }

    /**
     * @return {@link QueueCounter#TX_TAKEN}.
     */
    public AtomicCounter txTaken()
    {
        return txTaken;
    }

    /**
     * @return {@link QueueCounter#TX_NIC_FRAMES}.
     */
    public AtomicCounter txNicFrames()
    {
        return txNicFrames;
    }

    /**
     * @return {@link QueueCounter#RX_TAKEN}.
     */
    public AtomicCounter rxTaken()
    {
        return rxTaken;
    }

    /**
     * @return {@link QueueCounter#NOTIFY_CALL_FULL} (dataplane thread).
     */
    public AtomicCounter notifyCallFull()
    {
        return notifyCallFull;
    }

    /**
     * @return {@link QueueCounter#NOTIFY_CALL_BLOCKED} (dataplane thread).
     */
    public AtomicCounter notifyCallBlocked()
    {
        return notifyCallBlocked;
    }

    /**
     * @return {@link QueueCounter#NOTIFY_ERR_NOT_WRITTEN} (control thread).
     */
    public AtomicCounter notifyErrNotWritten()
    {
        return notifyErrNotWritten;
    }

    /**
     * @return {@link QueueCounter#RX_RING_RESYNCS}.
     */
    public AtomicCounter rxRingResyncs()
    {
        return rxRingResyncs;
    }

    /**
     * @return {@link QueueCounter#TX_RING_RESYNCS}.
     */
    public AtomicCounter txRingResyncs()
    {
        return txRingResyncs;
    }

    /**
     * @return {@link QueueCounter#ISOLATED}; written by control (the one counter of the pair the dataplane does not
     *         write).
     */
    public AtomicCounter isolated()
    {
        return isolated;
    }

    /**
     * @return {@link QueueCounter#TX_DROPS_RUNT}.
     */
    public AtomicCounter txDropsRunt()
    {
        return txDropsRunt;
    }

    /**
     * @return {@link QueueCounter#RX_WORK_LIMIT}.
     */
    public AtomicCounter rxWorkLimit()
    {
        return rxWorkLimit;
    }

    /**
     * @return {@link QueueCounter#TX_WORK_LIMIT}.
     */
    public AtomicCounter txWorkLimit()
    {
        return txWorkLimit;
    }

    /**
     * @return {@link QueueCounter#TX_DROPS_GSO}.
     */
    public AtomicCounter txDropsGso()
    {
        return txDropsGso;
    }

    /**
     * @return {@link QueueCounter#TX_NIC_RING_FULL}: add 1 per cycle the NIC transmit ring was full.
     */
    public AtomicCounter txNicRingFull()
    {
        return txNicRingFull;
    }

    /**
     * @param error a queue error.
     * @return its counter in this queue pair.
     */
    public AtomicCounter queueErrors(final QueueError error)
    {
        return queueErrors[error.ordinal()];
    }

    /**
     * The counter of a single-counter entry, for code that walks {@link QueueCounter}.
     *
     * @param counter a {@link QueueCounter.Kind#TOTAL} or {@link QueueCounter.Kind#GAUGE} entry.
     * @return its counter in this queue pair.
     * @throws IllegalArgumentException for a family; use {@link #rxBuffersPerPacket(int)} or
     *                                  {@link #queueErrors(QueueError)}.
     */
    public AtomicCounter counter(final QueueCounter counter)
    {
        return switch (counter)
        {
            case RX_PACKETS -> rxPackets;
            case RX_BYTES -> rxBytes;
            case RX_DROPS_NO_BUFFERS -> rxDropsNoBuffers;
            case RX_DROPS_FRAME_TOO_LONG -> rxDropsFrameTooLong;
            case RX_DROPS_BUFFER_TOO_SMALL -> rxDropsBufferTooSmall;
            case RX_DROPS_TOO_MANY_SEGMENTS -> rxDropsTooManySegments;
            case RX_DROPS_QUEUE_BROKEN -> rxDropsQueueBroken;
            case RX_DROPS_NIC_RING_FULL -> rxDropsNicRingFull;
            case RX_DROPS_BAD_NIC_FRAME -> rxDropsBadNicFrame;
            case RX_RING_OCCUPANCY -> rxRingOccupancy;
            case TX_PACKETS -> txPackets;
            case TX_BYTES -> txBytes;
            case TX_DROPS_TOO_LONG -> txDropsTooLong;
            case TX_DROPS_GSO -> txDropsGso;
            case TX_DROPS_BAD_VNET_HDR -> txDropsBadVnetHdr;
            case TX_CSUM_COMPLETED -> txCsumCompleted;
            case TX_GSO_SEGMENTED -> txGsoSegmented;
            case TX_OFFLOADS_PASSED -> txOffloadsPassed;
            case TX_TAKEN -> txTaken;
            case TX_NIC_FRAMES -> txNicFrames;
            case RX_TAKEN -> rxTaken;
            case RX_RING_RESYNCS -> rxRingResyncs;
            case TX_RING_RESYNCS -> txRingResyncs;
            case TX_NIC_RING_FULL -> txNicRingFull;
            case NOTIFY_CALL_FULL -> notifyCallFull;
            case NOTIFY_CALL_BLOCKED -> notifyCallBlocked;
            case NOTIFY_ERR_NOT_WRITTEN -> notifyErrNotWritten;
            case ISOLATED -> isolated;
            case TX_DROPS_RUNT -> txDropsRunt;
            case RX_WORK_LIMIT -> rxWorkLimit;
            case TX_WORK_LIMIT -> txWorkLimit;
            case RX_BUFFERS_PER_PACKET, QUEUE_ERRORS -> throw new IllegalArgumentException(
                counter + " is a family of " + counter.members() + " counters");
        };
    }

    /**
     * Frees every counter of this queue pair (a queue pair going away while the forwarder runs). Idempotent. Not
     * needed at shutdown, when the whole file goes; never after the {@link CountersFile} is closed.
     */
    @Override
    public void close()
    {
        for (int i = 0; i < allocated; i++)
        {
            final AtomicCounter counter = all[i];
            if (!counter.isClosed())
            {
                counter.close();
            }
        }
    }

    private static int countersPerQueuePair()
    {
        int count = 0;
        for (final QueueCounter counter : QueueCounter.values())
        {
            count += counter.members();
        }
        return count;
    }
}
