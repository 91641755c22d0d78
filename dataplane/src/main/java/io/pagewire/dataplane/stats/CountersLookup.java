package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.util.BitSet;

import static org.agrona.concurrent.status.CountersReader.KEY_OFFSET;
import static org.agrona.concurrent.status.CountersReader.NULL_COUNTER_ID;
import static org.agrona.concurrent.status.CountersReader.RECORD_ALLOCATED;
import static org.agrona.concurrent.status.CountersReader.RECORD_UNUSED;
import static org.agrona.concurrent.status.CountersReader.TYPE_ID_OFFSET;

/**
 * Finds pagewire's counters in a {@link CountersReader} by type id ({@link QueueCounter#id()},
 * {@link SystemCounter#id()}) and key ({@link CounterKey}: queue pair, member), never by label, so that
 * {@code pagewire stat} and the end-of-run summary read the same counters the same way, in this process or another.
 * <p>
 * Each call scans the metadata once, stopping at the first never-used record (Agrona allocates from the bottom).
 * That is cheap for a tool or a summary, not for the dataplane, which holds its counters in {@link QueueCounters}.
 */
public final class CountersLookup
{
    private CountersLookup()
    {
    }

    /**
     * @param reader the counters.
     * @param typeId the counter's type id.
     * @param queue  the key's queue pair, or {@link CounterKey#NO_QUEUE}.
     * @param member the key's member (0 for a single counter).
     * @return the counter id of the allocated counter with that type and key, or
     * {@link CountersReader#NULL_COUNTER_ID}.
     */
    public static int findCounterId(final CountersReader reader, final int typeId, final int queue, final int member)
    {
        return scan(reader, (counterId, type, key, keyMember) ->
            type != typeId || key != queue || keyMember != member);
    }

    /**
     * @param reader the counters.
     * @param counter a system counter.
     * @return its counter id, or {@link CountersReader#NULL_COUNTER_ID}.
     */
    public static int findCounterId(final CountersReader reader, final SystemCounter counter)
    {
        return findCounterId(reader, counter.id(), CounterKey.NO_QUEUE, 0);
    }

    /**
     * @param reader  the counters.
     * @param counter a single-counter entry ({@link QueueCounter.Kind#TOTAL} or {@link QueueCounter.Kind#GAUGE}).
     * @param queue   the queue pair.
     * @return its counter id, or {@link CountersReader#NULL_COUNTER_ID}.
     */
    public static int findCounterId(final CountersReader reader, final QueueCounter counter, final int queue)
    {
        return findCounterId(reader, counter.id(), queue, 0);
    }

    /**
     * @param reader  the counters.
     * @param counter a system counter.
     * @return its current value.
     * @throws IllegalArgumentException if the counters have no such counter.
     */
    public static long value(final CountersReader reader, final SystemCounter counter)
    {
        return valueOf(reader, findCounterId(reader, counter), counter.label(), counter.id());
    }

    /**
     * @param reader  the counters.
     * @param counter a single-counter entry.
     * @param queue   the queue pair.
     * @return its current value.
     * @throws IllegalArgumentException if the counters have no such counter (or {@code counter} is a family).
     */
    public static long value(final CountersReader reader, final QueueCounter counter, final int queue)
    {
        if (1 != counter.members())
        {
            throw new IllegalArgumentException(counter + " is a family of " + counter.members() + " counters");
        }
        return valueOf(reader, findCounterId(reader, counter, queue), counter.label(queue, 0), counter.id());
    }

    /**
     * Reads the buffers-per-packet histogram of a queue pair in one scan.
     *
     * @param reader the counters.
     * @param queue  the queue pair.
     * @return {@link QueueCounter#BUFFER_BUCKETS} values: index {@code bucket - 1}, so [0] is "1" and [64] is "65+";
     * zero for a bucket the file lacks.
     */
    public static long[] rxBuffersPerPacket(final CountersReader reader, final int queue)
    {
        final long[] buckets = new long[QueueCounter.BUFFER_BUCKETS];
        forEachMember(reader, QueueCounter.RX_BUFFERS_PER_PACKET.id(), queue, (member, value) ->
        {
            if (member >= 1 && member <= QueueCounter.BUFFER_BUCKETS)
            {
                buckets[member - 1] = value;
            }
        });
        return buckets;
    }

    /**
     * Reads the queue error counters of a queue pair in one scan.
     *
     * @param reader the counters.
     * @param queue  the queue pair.
     * @return one value per {@link QueueError}, indexed by {@link QueueError#ordinal()}.
     */
    public static long[] queueErrors(final CountersReader reader, final int queue)
    {
        final long[] errors = new long[QueueError.values().length];
        forEachMember(reader, QueueCounter.QUEUE_ERRORS.id(), queue, (member, value) ->
        {
            final QueueError error = QueueCounter.queueErrorOf(member);
            if (null != error)
            {
                errors[error.ordinal()] = value;
            }
        });
        return errors;
    }

    /**
     * @param reader the counters.
     * @return the queue pairs that have counters, ascending, each once.
     */
    public static int[] queues(final CountersReader reader)
    {
        final BitSet queues = new BitSet();
        scan(reader, (counterId, type, queue, member) ->
        {
            if (null != QueueCounter.get(type) && queue >= 0)
            {
                queues.set(queue);
            }
            return true;
        });
        return queues.stream().toArray();
    }

    /**
     * Formats histogram buckets as a JSON object with bucket names as keys, for summaries:
     * {@code {"1": 10, "2": 3, "65+": 1}}.
     *
     * @param buckets      values as {@link #rxBuffersPerPacket} returns them.
     * @param includeZeros whether buckets with value 0 appear.
     * @return the JSON object, {@code {}} if nothing to show.
     */
    public static String bucketsJson(final long[] buckets, final boolean includeZeros)
    {
        final StringBuilder json = new StringBuilder("{");
        for (int bucket = 1; bucket <= buckets.length; bucket++)
        {
            final long value = buckets[bucket - 1];
            if (includeZeros || 0 != value)
            {
                if (json.length() > 1)
                {
                    json.append(", ");
                }
                json.append('"').append(QueueCounter.bufferBucketLabel(bucket)).append("\": ").append(value);
            }
        }
        return json.append('}').toString();
    }

    private interface MemberValueConsumer
    {
        void accept(int member, long value);
    }

    private static void forEachMember(
        final CountersReader reader, final int typeId, final int queue, final MemberValueConsumer consumer)
    {
        scan(reader, (counterId, type, key, member) ->
        {
            if (type == typeId && key == queue)
            {
                consumer.accept(member, reader.getCounterValue(counterId));
            }
            return true;
        });
    }

    private interface RecordVisitor
    {
        /** @return false to stop the scan at this counter. */
        boolean visit(int counterId, int typeId, int queue, int member);
    }

    /**
     * The one scan of the counters: allocated records in id order, by metadata (type id and {@link CounterKey}), never
     * by label. Agrona's {@code CountersReader.forEach} makes a String of every label, and the control thread reads
     * counters every second for the status line and metrics: that was most of its garbage.
     *
     * @return the id the visitor stopped at, or {@link CountersReader#NULL_COUNTER_ID}.
     */
    private static int scan(final CountersReader reader, final RecordVisitor visitor)
    {
        final AtomicBuffer metadata = reader.metaDataBuffer();
        for (int counterId = 0, maxId = reader.maxCounterId(); counterId <= maxId; counterId++)
        {
            final int offset = CountersReader.metaDataOffset(counterId);
            // Acquire: pairs with Agrona's release store of the record state, written after type, key and label.
            final int state = metadata.getIntVolatile(offset);
            if (RECORD_UNUSED == state)
            {
                break;
            }
            if (RECORD_ALLOCATED == state && !visitor.visit(counterId, metadata.getInt(offset + TYPE_ID_OFFSET),
                metadata.getInt(offset + KEY_OFFSET + CounterKey.QUEUE_OFFSET),
                metadata.getInt(offset + KEY_OFFSET + CounterKey.MEMBER_OFFSET)))
            {
                return counterId;
            }
        }
        return NULL_COUNTER_ID;
    }

    private static long valueOf(final CountersReader reader, final int counterId, final String label, final int typeId)
    {
        if (NULL_COUNTER_ID == counterId)
        {
            throw new IllegalArgumentException("no counter '" + label + "' (type " + typeId + ")");
        }
        return reader.getCounterValue(counterId);
    }
}
