package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.virtio.QueueError;

/**
 * An event from a dataplane agent to control: a preallocated slot of the event ring, published only with
 * {@code tryPublishEvent} (the dataplane never waits for control; what it cannot publish it counts).
 */
public final class DataplaneEvent
{
    /** What happened. */
    public enum Type
    {
        /** The queue pair is being served. */
        ATTACHED,
        /** The queue pair is no longer served; {@link #queuePair()} may now be read by control. */
        DETACHED,
        /** A virtqueue of the pair broke on guest input: {@link #error()}, {@link #rx()}. */
        QUEUE_BROKEN
    }

    private Type type;
    private QueuePair queuePair;
    private boolean rx;
    private QueueError error;

    void set(final Type type, final QueuePair queuePair, final boolean rx, final QueueError error)
    {
        this.type = type;
        this.queuePair = queuePair;
        this.rx = rx;
        this.error = error;
    }

    public Type type()
    {
        return type;
    }

    public QueuePair queuePair()
    {
        return queuePair;
    }

    /** @return for QUEUE_BROKEN: whether the receive queue (else the transmit queue) broke. */
    public boolean rx()
    {
        return rx;
    }

    /** @return for QUEUE_BROKEN: why. */
    public QueueError error()
    {
        return error;
    }

    @Override
    public String toString()
    {
        return type + " pair=" + (queuePair == null ? "-" : queuePair.index()) +
            (type == Type.QUEUE_BROKEN ? (rx ? " rx " : " tx ") + error : "");
    }
}
