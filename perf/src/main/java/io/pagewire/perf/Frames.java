package io.pagewire.perf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Shared benchmark setup: the burst size, off-heap frames filled once with pseudo-random bytes, tear-down checks. */
final class Frames
{
    /** Chains (or frames) a dataplane handles per burst, as in DESIGN.md's duty cycle. */
    static final int BURST = 32;

    private Frames()
    {
    }

    /** @return a segment of {@code length} pseudo-random bytes from {@code seed}, 64-byte aligned. */
    static MemorySegment random(final Arena arena, final int length, final long seed)
    {
        final MemorySegment frame = arena.allocate(Math.max(length, 1), 64);
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte)random.nextInt());
        }
        return frame;
    }

    /**
     * Fails a trial whose benchmark did not do what it claims (a tear-down check, never on the measured path).
     *
     * @throws IllegalStateException with {@code message} when {@code condition} is false.
     */
    static void check(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalStateException(message);
        }
    }
}
