package io.pagewire.dataplane.port;

import io.pagewire.dataplane.memory.MemoryCopy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Test frames that prove their own integrity: {@code [sequence u64][checksum u64][payload]}. A pool of random
 * payloads of random lengths is written with a fresh sequence number per send; the checksum covers the sequence, the
 * length and every payload byte, so the receiver detects loss, duplication, reordering, truncation and any corrupt
 * byte. The sender uses the payload hash computed once per pool entry; the receiver hashes the bytes it got.
 */
final class ShmTestFrames implements AutoCloseable
{
    static final int MIN_LENGTH = 16;

    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final Arena arena = Arena.ofShared();
    private final long[] address;
    private final int[] length;
    private final long[] payloadHash;
    private final int mask;

    /**
     * @param count     pool entries, a power of two.
     * @param maxLength longest frame; lengths are uniform in {@code MIN_LENGTH..maxLength}.
     */
    ShmTestFrames(final int count, final int maxLength, final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        mask = count - 1;
        address = new long[count];
        length = new int[count];
        payloadHash = new long[count];
        for (int i = 0; i < count; i++)
        {
            length[i] = random.nextInt(MIN_LENGTH, maxLength + 1);
            final MemorySegment frame = arena.allocate(length[i], 8);
            for (int b = 0; b < length[i]; b++)
            {
                frame.set(ValueLayout.JAVA_BYTE, b, (byte)random.nextInt());
            }
            address[i] = frame.address();
            payloadHash[i] = payloadHash(address[i], length[i]);
        }
    }

    /** @return the length frame {@code sequence} has. */
    int lengthOf(final long sequence)
    {
        return length[(int)sequence & mask];
    }

    /** Writes frame {@code sequence} ({@link #lengthOf} bytes) at {@code destination}. */
    void writeTo(final long sequence, final long destination)
    {
        final int entry = (int)sequence & mask;
        MemoryCopy.copy(address[entry], destination, length[entry]);
        ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, destination, sequence);
        ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, destination + 8,
            checksum(sequence, length[entry], payloadHash[entry]));
    }

    /**
     * Checks a received frame.
     *
     * @return null when it is frame {@code expectedSequence}, intact; otherwise what is wrong.
     */
    String verify(final long expectedSequence, final long frame, final int frameLength)
    {
        if (frameLength < MIN_LENGTH)
        {
            return "frame " + expectedSequence + ": length " + frameLength;
        }
        final long sequence = ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, frame);
        if (sequence != expectedSequence)
        {
            return "sequence " + sequence + ", expected " + expectedSequence + " (lost, duplicated or reordered)";
        }
        if (frameLength != lengthOf(sequence))
        {
            return "frame " + sequence + ": length " + frameLength + ", sent " + lengthOf(sequence);
        }
        final long checksum = checksum(sequence, frameLength, payloadHash(frame, frameLength));
        if (ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, frame + 8) != checksum)
        {
            return "frame " + sequence + ": checksum mismatch (corrupt bytes)";
        }
        return null;
    }

    private static long checksum(final long sequence, final int frameLength, final long payloadHash)
    {
        return ((payloadHash ^ sequence) * 0x100000001b3L) ^ frameLength;
    }

    /** FNV-1a style over the payload (from byte 16) in 8-byte words, tail bytes one by one. */
    private static long payloadHash(final long frame, final int frameLength)
    {
        long hash = 0xcbf29ce484222325L;
        long i = MIN_LENGTH;
        for (; i + 8 <= frameLength; i += 8)
        {
            hash = (hash ^ ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, frame + i)) * 0x100000001b3L;
        }
        for (; i < frameLength; i++)
        {
            hash = (hash ^ ALL.get(ValueLayout.JAVA_BYTE, frame + i)) * 0x100000001b3L;
        }
        return hash;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
