package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.tx.TxSink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@link TxSink} over one off-heap buffer of known capacity, fenced by guard bytes, that packs frames back to back
 * and remembers where each one went: a test can check what the device copied and prove it copied nothing outside
 * the slots it claimed ({@link #guardsIntact()}).
 */
final class GuardedTxSink implements TxSink, AutoCloseable
{
    private static final int GUARD_LENGTH = 4096;
    private static final byte GUARD_PATTERN = (byte)0x5A;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment backing;
    private final MemorySegment buffer;
    private final int maxFrames;
    private final int[] frameOffset;
    private final int[] frameLength;
    private int frames;
    private int used;
    private int claimedLength = -1;

    /**
     * @param capacity  bytes the frames may take in total.
     * @param maxFrames frames the sink accepts before it reports full.
     */
    GuardedTxSink(final int capacity, final int maxFrames)
    {
        backing = arena.allocate(capacity + 2L * GUARD_LENGTH, 64);
        backing.fill(GUARD_PATTERN);
        buffer = backing.asSlice(GUARD_LENGTH, capacity);
        this.maxFrames = maxFrames;
        frameOffset = new int[maxFrames];
        frameLength = new int[maxFrames];
    }

    /** Forgets every frame. */
    void reset()
    {
        frames = 0;
        used = 0;
        claimedLength = -1;
    }

    @Override
    public long claim(final int length)
    {
        if (frames == maxFrames || length < 0 || length > buffer.byteSize() - used)
        {
            return 0;
        }
        claimedLength = length;
        return buffer.address() + used;
    }

    @Override
    public void commit(final int length)
    {
        if (length != claimedLength)
        {
            throw new AssertionError("committed " + length + " bytes after claiming " + claimedLength);
        }
        frameOffset[frames] = used;
        frameLength[frames] = length;
        frames++;
        used += length;
        claimedLength = -1;
    }

    @Override
    public void abandon()
    {
        claimedLength = -1;
    }

    /** @return frames committed since the last reset. */
    int frames()
    {
        return frames;
    }

    /** @return the length of frame {@code i}. */
    int frameLength(final int i)
    {
        return frameLength[i];
    }

    /** @return a copy of frame {@code i}. */
    byte[] frame(final int i)
    {
        return buffer.asSlice(frameOffset[i], frameLength[i]).toArray(ValueLayout.JAVA_BYTE);
    }

    /** @return a view of frame {@code i}, valid until the next reset. */
    MemorySegment frameView(final int i)
    {
        return buffer.asSlice(frameOffset[i], frameLength[i]);
    }

    /** @return whether the guard bytes before and after the buffer are untouched. */
    boolean guardsIntact()
    {
        final long after = GUARD_LENGTH + buffer.byteSize();
        for (long i = 0; i < GUARD_LENGTH; i++)
        {
            if (backing.get(ValueLayout.JAVA_BYTE, i) != GUARD_PATTERN ||
                backing.get(ValueLayout.JAVA_BYTE, after + i) != GUARD_PATTERN)
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
