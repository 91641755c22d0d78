package io.pagewire.control.interop;

import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Waiting on counts that other processes and threads move (interop tests). Every wait is bounded; on two cores a
 * peer's polling thread may be descheduled for a long time, so the bounds are generous and the callers assert the
 * exact values afterwards: a lost frame still fails.
 */
final class Waits
{
    private Waits()
    {
    }

    /** Waits up to 60 s until {@code value} reaches {@code atLeast}; fails naming {@code what} otherwise. */
    static void await(final LongSupplier value, final long atLeast, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 60_000_000_000L;
        while (value.getAsLong() < atLeast)
        {
            assertTrue(System.nanoTime() - deadline < 0, "timed out waiting for " + what + ": " +
                value.getAsLong() + " < " + atLeast);
            Thread.sleep(10);
        }
    }

    /** Waits until a value stops changing for 500 ms (the rings have drained) and returns it. */
    static long settle(final LongSupplier value) throws InterruptedException
    {
        long last = value.getAsLong();
        long stableSince = System.nanoTime();
        while (System.nanoTime() - stableSince < 500_000_000L)
        {
            Thread.sleep(20);
            final long now = value.getAsLong();
            if (now != last)
            {
                last = now;
                stableSince = System.nanoTime();
            }
        }
        return last;
    }

    /**
     * Waits up to 20 s until a count reaches what it must reach, then a moment more (so an overshoot shows), and
     * returns what it is then; the caller asserts equality.
     */
    static long reach(final LongSupplier value, final long expected) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 20_000_000_000L;
        while (value.getAsLong() < expected && System.nanoTime() - deadline < 0)
        {
            Thread.sleep(10);
        }
        Thread.sleep(200);
        return value.getAsLong();
    }
}
