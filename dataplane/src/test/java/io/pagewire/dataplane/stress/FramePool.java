package io.pagewire.dataplane.stress;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Test frames that carry their own proof of integrity: {@code [sequence u64][checksum u64][payload]}, where the
 * checksum covers the sequence and the payload. A pool of random frames is stamped with a fresh sequence number
 * before each send, so the receiver can detect loss, duplication, reordering and corruption of any byte.
 */
final class FramePool implements AutoCloseable
{
    static final int MIN_LENGTH = 16;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] frames;

    FramePool(final int count, final int minLength, final int maxLength, final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        frames = new MemorySegment[count];
        for (int i = 0; i < count; i++)
        {
            // Mostly small and MTU frames, some jumbo ones so that merging is exercised.
            final int length = random.nextInt(4) == 0 ?
                random.nextInt(minLength, maxLength + 1) : random.nextInt(minLength, Math.min(1514, maxLength) + 1);
            frames[i] = arena.allocate(length, 64);
            for (long j = 0; j < length; j++)
            {
                frames[i].set(ValueLayout.JAVA_BYTE, j, (byte)random.nextInt());
            }
        }
    }

    /** Stamps frame {@code sequence % count} with the sequence number and checksum; returns it. */
    MemorySegment stamp(final long sequence)
    {
        final MemorySegment frame = frames[(int)(sequence % frames.length)];
        frame.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sequence);
        frame.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, checksum(frame, frame.byteSize()));
        return frame;
    }

    /** @return the length frame {@code sequence} has. */
    long lengthOf(final long sequence)
    {
        return frames[(int)(sequence % frames.length)].byteSize();
    }

    /** FNV-1a style over 8-byte words (tail bytes one by one), skipping the checksum field itself. */
    static long checksum(final MemorySegment frame, final long length)
    {
        long hash = 0xcbf29ce484222325L ^ length;
        hash = (hash ^ frame.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)) * 0x100000001b3L;
        long i = 16;
        for (; i + 8 <= length; i += 8)
        {
            hash = (hash ^ frame.get(ValueLayout.JAVA_LONG_UNALIGNED, i)) * 0x100000001b3L;
        }
        for (; i < length; i++)
        {
            hash = (hash ^ frame.get(ValueLayout.JAVA_BYTE, i)) * 0x100000001b3L;
        }
        return hash;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
