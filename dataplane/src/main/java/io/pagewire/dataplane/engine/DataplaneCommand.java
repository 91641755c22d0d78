package io.pagewire.dataplane.engine;

/**
 * A command from control to a dataplane agent: a preallocated, reused slot of the command ring. Control fills it
 * through {@link DataplaneProxy}; the agent applies at most one per duty cycle.
 */
public final class DataplaneCommand
{
    /** What the agent is told to do. */
    public enum Type
    {
        /** Start serving {@link #queuePair()}: enable its virtqueues and poll it every cycle. */
        ATTACH,
        /** Stop serving queue pair {@link #pairIndex()}: disable its virtqueues and hand it back. */
        DETACH
    }

    private Type type;
    private QueuePair queuePair;
    private int pairIndex;

    void set(final Type type, final QueuePair queuePair, final int pairIndex)
    {
        this.type = type;
        this.queuePair = queuePair;
        this.pairIndex = pairIndex;
    }

    void clear()
    {
        type = null;
        queuePair = null;
    }

    public Type type()
    {
        return type;
    }

    public QueuePair queuePair()
    {
        return queuePair;
    }

    public int pairIndex()
    {
        return pairIndex;
    }
}
