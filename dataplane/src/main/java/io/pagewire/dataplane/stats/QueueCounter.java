package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.virtio.QueueError;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.util.Locale;

/**
 * The counters of one queue pair (the guest's RX and TX virtqueues of one index), like Aeron's
 * {@code SystemCounterDescriptor}: each has a stable {@link #id()}, used as the Agrona counter type id, and a label
 * that follows the queue's prefix ({@code "q0 rx packets"}). The counter key holds the queue pair index and, for the
 * two families below, which member (see {@link CounterKey}).
 * <p>
 * Two entries are families rather than single counters:
 * <ul>
 * <li>{@link #RX_BUFFERS_PER_PACKET}: a histogram with one counter per exact count 1..64 and one for 65 or more
 * ({@link #BUFFER_BUCKETS} buckets, {@link #bufferBucket(int)}, {@link #bufferBucketLabel(int)});</li>
 * <li>{@link #QUEUE_ERRORS}: one counter per {@link QueueError}, whose stable member number is
 * {@link #queueErrorCode(QueueError)}.</li>
 * </ul>
 * Ids are part of the counters file format read by other processes: never renumber or reuse one; add new ones at the
 * end. Queue counter ids are 100 and up; {@link SystemCounter} ids are below 100.
 * <p>
 * "RX" and "TX" are the guest's queues: rx packets were delivered to the guest, tx packets collected from it.
 */
public enum QueueCounter implements CounterDescriptor
{
    /** Frames delivered into the guest's receive queue. */
    RX_PACKETS(100, "rx packets", Kind.TOTAL),
    /** Bytes of those frames, without the virtio-net header. */
    RX_BYTES(101, "rx bytes", Kind.TOTAL),
    /** Frames dropped because the guest had not posted enough buffers ({@link RxWriter#NO_BUFFERS}, drop policy). */
    RX_DROPS_NO_BUFFERS(102, "rx drops no_buffers", Kind.TOTAL),
    /** Frames longer than the device accepts ({@link RxWriter#FRAME_TOO_LONG}). */
    RX_DROPS_FRAME_TOO_LONG(103, "rx drops frame_too_long", Kind.TOTAL),
    /** Frames that did not fit the guest's chain, non-mergeable ({@link RxWriter#BUFFER_TOO_SMALL}). */
    RX_DROPS_BUFFER_TOO_SMALL(104, "rx drops buffer_too_small", Kind.TOTAL),
    /** Frames needing more buffer segments than the device tracks ({@link RxWriter#TOO_MANY_SEGMENTS}). */
    RX_DROPS_TOO_MANY_SEGMENTS(105, "rx drops too_many_segments", Kind.TOTAL),
    /** Frames dropped because the receive queue is broken or stopped ({@link RxWriter#QUEUE_BROKEN}). */
    RX_DROPS_QUEUE_BROKEN(106, "rx drops queue_broken", Kind.TOTAL),
    /** Frames lost before the device saw them: the NIC port's receive ring was full. */
    RX_DROPS_NIC_RING_FULL(107, "rx drops nic_ring_full", Kind.TOTAL),
    /** Histogram of the buffers each delivered frame used (the header's num_buffers): buckets 1..64 and 65+. */
    RX_BUFFERS_PER_PACKET(108, "rx buffers per packet", Kind.HISTOGRAM),
    /** Gauge: chains the guest has posted to the receive queue and the device has not consumed, once per cycle. */
    RX_RING_OCCUPANCY(109, "rx ring occupancy", Kind.GAUGE),
    /** Frames collected from the guest's transmit queue and sent to the NIC port. */
    TX_PACKETS(110, "tx packets", Kind.TOTAL),
    /** Bytes of those frames, without the virtio-net header. */
    TX_BYTES(111, "tx bytes", Kind.TOTAL),
    /** Transmit frames longer than the device sends, returned to the guest unsent. */
    TX_DROPS_TOO_LONG(112, "tx drops too_long", Kind.TOTAL),
    /** Transmit frames asking for GSO although the driver did not negotiate HOST_TSO4/6, returned unsent. */
    TX_DROPS_GSO(113, "tx drops gso", Kind.TOTAL),
    /** Cycles in which the NIC port's transmit ring was full (frames wait in the guest's queue: a count of cycles). */
    TX_NIC_RING_FULL(114, "tx nic_ring_full cycles", Kind.TOTAL),
    /** Guest errors that broke one of the pair's queues: one counter per {@link QueueError}. */
    QUEUE_ERRORS(115, "queue error", Kind.PER_QUEUE_ERROR),
    /** Frames whose length in the NIC ring slot was impossible (a hostile or broken producer); dropped unread. */
    RX_DROPS_BAD_NIC_FRAME(116, "rx drops bad_nic_frame", Kind.TOTAL),
    /**
     * Transmit frames whose virtio-net header failed validation (features.host_tso: csum_start/csum_offset outside
     * the frame, gso_size too small, a GSO type or ECN not negotiated, headers that are not
     * TCP over the IP version gso_type names), returned unsent.
     */
    TX_DROPS_BAD_VNET_HDR(117, "tx drops bad_vnet_hdr", Kind.TOTAL),
    /** Transmit frames with NEEDS_CSUM whose checksum was completed in software (a port without vnet_hdr). */
    TX_CSUM_COMPLETED(118, "tx csum_completed", Kind.TOTAL),
    /** Transmit TCP GSO frames cut into segments in software (a port without vnet_hdr). */
    TX_GSO_SEGMENTED(119, "tx gso_segmented", Kind.TOTAL),
    /** Transmit frames handed to the NIC port with their offload header (AF_PACKET with vnet_hdr). */
    TX_OFFLOADS_PASSED(120, "tx offloads_passed", Kind.TOTAL),
    /**
     * Frames taken from the guest's transmit queue (chains consumed and given back used), whatever became of them:
     * the run summary's balance is tx taken = tx packets + every tx drop cause.
     */
    TX_TAKEN(138, "tx taken", Kind.TOTAL),
    /**
     * Frames handed to the NIC port: tx packets, except that a frame cut into segments in software counts once per
     * segment. The NIC side of the balance: these = what the port sent + what it dropped + what it still holds.
     */
    TX_NIC_FRAMES(139, "tx nic_frames", Kind.TOTAL),
    /**
     * Frames taken from the NIC port's receive ring, whatever became of them: rx taken = rx packets + every rx drop
     * cause except nic_ring_full (frames lost before the ring).
     */
    RX_TAKEN(140, "rx taken", Kind.TOTAL),
    /**
     * Guest notifications (either call fd of the pair) not written because the eventfd counter was full: the
     * frontend filled it, so a notification is pending anyway (EAGAIN). The dataplane thread writes it.
     */
    NOTIFY_CALL_FULL(125, "notify call_full", Kind.TOTAL),
    /**
     * Guest notifications not written because the frontend made its call fd blocking and filled it: the write that
     * slept and was interrupted ({@code PeerWriteWatchdog}), and every one after it (that fd is not written again; the
     * frontend is disconnected). The dataplane thread writes it.
     */
    NOTIFY_CALL_BLOCKED(126, "notify call_blocked", Kind.TOTAL),
    /**
     * Broken-queue signals on a vring error fd (either ring of the pair) not written: counter full, or the fd made
     * blocking and filled (interrupted, then not written again). The control thread writes it.
     */
    NOTIFY_ERR_NOT_WRITTEN(127, "notify err_not_written", Kind.TOTAL),
    /**
     * Receive queue starts at which the ring's used.idx was not the base the frontend gave (a frontend that kept its
     * rings, DPDK virtio_user server=1 after its backend restarted): the queue resumed at used.idx; buffers a previous
     * backend filled and never returned are filled again.
     */
    RX_RING_RESYNCS(135, "rx ring resyncs", Kind.TOTAL),
    /**
     * Transmit queue starts at which the ring's used.idx was not the base the frontend gave: the queue resumed at
     * used.idx, so chains a previous backend took and never returned are sent (perhaps again).
     */
    TX_RING_RESYNCS(136, "tx ring resyncs", Kind.TOTAL),
    /**
     * Times control gave up waiting for the dataplane to give the pair back (stop timed out): the pair was isolated,
     * its memory and eventfds kept until the dataplane returns it, and the frontend disconnected. Written by control.
     */
    ISOLATED(121, "queue isolated", Kind.TOTAL),
    /**
     * Transmit frames shorter than an Ethernet header after the virtio-net header (a chain holding only the header
     * among them), returned to the guest unsent.
     */
    TX_DROPS_RUNT(130, "tx drops runt", Kind.TOTAL),
    /**
     * Receive bursts cut short because the guest's chains spent the queue's descriptor read budget
     * ({@code RxWriter.WORK_LIMIT}): the frame waits for the next cycle. A count of bursts, not of frames.
     */
    RX_WORK_LIMIT(131, "rx work_limit cycles", Kind.TOTAL),
    /** Transmit bursts cut short because the guest's chains spent the queue's descriptor read budget. */
    TX_WORK_LIMIT(132, "tx work_limit cycles", Kind.TOTAL);

    /** What kind of counter an entry is, and how many counters it has per queue pair. */
    public enum Kind
    {
        /** A running total, only ever added to. */
        TOTAL,
        /** A sampled value that goes up and down. */
        GAUGE,
        /** {@link #BUFFER_BUCKETS} totals, one per bucket. */
        HISTOGRAM,
        /** One total per {@link QueueError}. */
        PER_QUEUE_ERROR
    }

    /** Number of {@link #RX_BUFFERS_PER_PACKET} buckets: exact counts 1..64, then 65 and more. */
    public static final int BUFFER_BUCKETS = 65;
    /** Highest buffer count with its own bucket; larger counts go to the last bucket. */
    public static final int MAX_EXACT_BUFFERS = BUFFER_BUCKETS - 1;

    private static final QueueCounter[] VALUES = values();
    private static final QueueError[] QUEUE_ERRORS_BY_ORDINAL = QueueError.values();
    private static final String[] BUCKET_LABELS = new String[BUFFER_BUCKETS + 1];

    static
    {
        for (int bucket = 1; bucket <= BUFFER_BUCKETS; bucket++)
        {
            BUCKET_LABELS[bucket] = bucket == BUFFER_BUCKETS ? (BUFFER_BUCKETS + "+") : Integer.toString(bucket);
        }
    }

    private final int id;
    private final String label;
    private final Kind kind;

    QueueCounter(final int id, final String label, final Kind kind)
    {
        this.id = id;
        this.label = label;
        this.kind = kind;
    }

    /**
     * @return the stable id: the Agrona counter type id of this entry's counters.
     */
    @Override
    public int id()
    {
        return id;
    }

    /**
     * @return the label without the queue prefix, e.g. {@code "rx packets"}.
     */
    @Override
    public String label()
    {
        return label;
    }

    /**
     * @return whether this is a total, a gauge, or a family.
     */
    public Kind kind()
    {
        return kind;
    }

    /**
     * @return how many counters this entry allocates per queue pair: 1, {@link #BUFFER_BUCKETS}, or the number of
     * {@link QueueError}s.
     */
    public int members()
    {
        return switch (kind)
        {
            case TOTAL, GAUGE -> 1;
            case HISTOGRAM -> BUFFER_BUCKETS;
            case PER_QUEUE_ERROR -> QUEUE_ERRORS_BY_ORDINAL.length;
        };
    }

    /**
     * The full label of one counter, as written in the counters file.
     *
     * @param queue  queue pair index.
     * @param member 0 for a single counter, the bucket 1..65 for the histogram, the {@link #queueErrorCode} for
     *               queue errors.
     * @return e.g. {@code "q0 rx packets"}, {@code "q0 rx buffers per packet 65+"}, {@code "q0 queue error
     * chain_too_long"}.
     */
    public String label(final int queue, final int member)
    {
        final String prefix = "q" + queue + " " + label;
        return switch (kind)
        {
            case TOTAL, GAUGE -> prefix;
            case HISTOGRAM -> prefix + " " + bufferBucketLabel(member);
            case PER_QUEUE_ERROR -> prefix + " " + queueErrorName(queueErrorOf(member));
        };
    }

    /**
     * Allocates the counter of a single entry (a total or a gauge), labelled {@link #label(int, int)}.
     *
     * @param manager the counters file's manager.
     * @param queue   queue pair index.
     * @return the counter.
     * @throws IllegalArgumentException for a family ({@link #members()} above 1): allocate each member.
     */
    @Override
    public AtomicCounter allocate(final CountersManager manager, final int queue)
    {
        if (members() != 1)
        {
            throw new IllegalArgumentException(
                this + " is a family of " + members() + " counters: allocate each member");
        }
        return allocate(manager, queue, 0);
    }

    /**
     * Allocates one counter of this entry, labelled {@link #label(int, int)}.
     *
     * @param manager the counters file's manager.
     * @param queue   queue pair index.
     * @param member  as for {@link #label(int, int)}.
     * @return the counter.
     */
    public AtomicCounter allocate(final CountersManager manager, final int queue, final int member)
    {
        return allocate(manager, label(queue, member), queue, member);
    }

    /**
     * @param id a type id read from a counters file.
     * @return the entry with that id, or null if it is not a queue counter (a system counter, or a newer version's).
     */
    public static QueueCounter get(final int id)
    {
        return CounterDescriptor.byId(VALUES, id);
    }

    /**
     * The histogram bucket of a delivered frame. Hot path: no allocation.
     *
     * @param numBuffers buffers the frame used, ≥ 1 (a positive {@link RxWriter#deliverToGuest} result).
     * @return the bucket, 1..{@link #BUFFER_BUCKETS}: {@code numBuffers} itself up to 64, else 65.
     */
    public static int bufferBucket(final int numBuffers)
    {
        return Math.min(numBuffers, BUFFER_BUCKETS);
    }

    /**
     * @param bucket 1..{@link #BUFFER_BUCKETS}.
     * @return the bucket's name in labels and summaries: {@code "1"} .. {@code "64"}, {@code "65+"}.
     * @throws IllegalArgumentException for any other bucket.
     */
    public static String bufferBucketLabel(final int bucket)
    {
        if (bucket < 1 || bucket > BUFFER_BUCKETS)
        {
            throw new IllegalArgumentException("bucket=" + bucket + ": must be in 1.." + BUFFER_BUCKETS);
        }
        return BUCKET_LABELS[bucket];
    }

    /**
     * The receive drop counter for a negative {@link RxWriter#deliverToGuest} result.
     *
     * @param rxWriterResult one of the negative {@link RxWriter} result codes.
     * @return the matching {@code RX_DROPS_*} entry.
     * @throws IllegalArgumentException for a result that is not a drop.
     */
    public static QueueCounter rxDropFor(final int rxWriterResult)
    {
        return switch (rxWriterResult)
        {
            case RxWriter.NO_BUFFERS -> RX_DROPS_NO_BUFFERS;
            case RxWriter.FRAME_TOO_LONG -> RX_DROPS_FRAME_TOO_LONG;
            case RxWriter.BUFFER_TOO_SMALL -> RX_DROPS_BUFFER_TOO_SMALL;
            case RxWriter.QUEUE_BROKEN -> RX_DROPS_QUEUE_BROKEN;
            case RxWriter.TOO_MANY_SEGMENTS -> RX_DROPS_TOO_MANY_SEGMENTS;
            default -> throw new IllegalArgumentException(
                "RxWriter result " + rxWriterResult + " (" + RxWriter.describe(rxWriterResult) + ") is not a drop");
        };
    }

    /**
     * The stable member number of a queue error's counter, kept in the counter key so that files stay readable when
     * {@link QueueError} is reordered. The switch has no default: a new {@link QueueError} does not compile until it
     * gets a number here. Never renumber; give a new error the next number.
     *
     * @param error a queue error.
     * @return its member number, 1 and up.
     */
    public static int queueErrorCode(final QueueError error)
    {
        return switch (error)
        {
            case AVAIL_INDEX_JUMP -> 1;
            case HEAD_OUT_OF_RANGE -> 2;
            case NEXT_OUT_OF_RANGE -> 3;
            case CHAIN_TOO_LONG -> 4;
            case INDIRECT_NOT_NEGOTIATED -> 5;
            case INDIRECT_WITH_NEXT -> 6;
            case NESTED_INDIRECT -> 7;
            case INDIRECT_LENGTH -> 8;
            case INDIRECT_TOO_LARGE -> 9;
            case ADDRESS_NOT_MAPPED -> 10;
            case READABLE_IN_RX -> 11;
            case WRITABLE_IN_TX -> 12;
            case LENGTH_OVERFLOW -> 13;
            case HEADER_TRUNCATED -> 14;
            case MEMORY_FAULT -> 15;
            case EMPTY_RX_CHAIN -> 16;
        };
    }

    /**
     * @param code a member number read from a counter key.
     * @return the queue error with that {@link #queueErrorCode}, or null if none (a newer version's).
     */
    public static QueueError queueErrorOf(final int code)
    {
        for (final QueueError error : QUEUE_ERRORS_BY_ORDINAL)
        {
            if (queueErrorCode(error) == code)
            {
                return error;
            }
        }
        return null;
    }

    /**
     * @param error a queue error, or null.
     * @return its name in labels and summaries, lower case ({@code "chain_too_long"}), or {@code "unknown"}.
     */
    public static String queueErrorName(final QueueError error)
    {
        return null == error ? "unknown" : error.name().toLowerCase(Locale.ROOT);
    }
}
