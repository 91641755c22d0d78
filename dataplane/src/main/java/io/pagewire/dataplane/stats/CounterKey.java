package io.pagewire.dataplane.stats;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Layout of the key pagewire writes in each counter's metadata record (Agrona gives each counter 112 key bytes).
 * Together with the type id ({@link QueueCounter#id()} or {@link SystemCounter#id()}) it names a counter without
 * parsing its label.
 * <pre>
 *   0               4               8
 *   +---------------+---------------+
 *   | queue (i32)   | member (i32)  |
 *   +---------------+---------------+
 * </pre>
 * {@code queue} is the queue pair index, {@link #NO_QUEUE} for a {@link SystemCounter}. {@code member} is 0 for a
 * single counter, the bucket 1..65 of {@link QueueCounter#RX_BUFFERS_PER_PACKET}, or the
 * {@link QueueCounter#queueErrorCode} of a {@link QueueCounter#QUEUE_ERRORS} counter.
 */
public final class CounterKey
{
    /** Offset of the queue pair index (i32). */
    public static final int QUEUE_OFFSET = 0;
    /** Offset of the member number (i32). */
    public static final int MEMBER_OFFSET = 4;
    /** Bytes of key pagewire uses. */
    public static final int LENGTH = 8;
    /** The queue field of a process-wide counter. */
    public static final int NO_QUEUE = -1;

    private CounterKey()
    {
    }

    /**
     * @param key    a counter's key buffer, from offset 0.
     * @param queue  queue pair index, or {@link #NO_QUEUE}.
     * @param member member number, 0 for a single counter.
     */
    public static void write(final MutableDirectBuffer key, final int queue, final int member)
    {
        key.putInt(QUEUE_OFFSET, queue);
        key.putInt(MEMBER_OFFSET, member);
    }

    /**
     * @param key a counter's key buffer, from offset 0.
     * @return its queue pair index, or {@link #NO_QUEUE}.
     */
    public static int queue(final DirectBuffer key)
    {
        return key.getInt(QUEUE_OFFSET);
    }

    /**
     * @param key a counter's key buffer, from offset 0.
     * @return its member number.
     */
    public static int member(final DirectBuffer key)
    {
        return key.getInt(MEMBER_OFFSET);
    }
}
