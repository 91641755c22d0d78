package io.pagewire.perf.bench;

import io.pagewire.dataplane.os.Affinity;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measures the cross-core round trip between CPU 0 and CPU 1: two pinned threads bounce a counter through one cache
 * line. On this kind of machine it tells the two performance regimes apart (a "near" round trip of about 80-160 ns,
 * a "far" one of about 520 ns; throughput drops 2-4x in "far"), so benchmark samples are compared only within one
 * regime. Run it while nothing else busy-polls.
 */
final class RegimeProbe
{
    /** Round trips above this are "far". */
    static final double FAR_THRESHOLD_NS = 300;

    private static final int ROUND_TRIPS = 20_000;
    private static final int BATCHES = 5;

    private RegimeProbe()
    {
    }

    /**
     * @return the median over a few batches of the mean round-trip time in nanoseconds, or NaN when the threads
     * cannot be pinned (fewer than two CPUs).
     */
    static double roundTripNs()
    {
        if (Runtime.getRuntime().availableProcessors() < 2)
        {
            return Double.NaN;
        }
        final double[] batches = new double[BATCHES];
        for (int b = 0; b < BATCHES; b++)
        {
            batches[b] = batch();
        }
        Arrays.sort(batches);
        return batches[BATCHES / 2];
    }

    /** @return "near", "far", or "unknown" for a round trip. */
    static String regimeOf(final double roundTripNs)
    {
        return Double.isNaN(roundTripNs) ? "unknown" : roundTripNs > FAR_THRESHOLD_NS ? "far" : "near";
    }

    private static double batch()
    {
        final AtomicLong ball = new AtomicLong();
        final Thread echo = Thread.ofPlatform().name("pagewire-probe-echo").start(() ->
        {
            Affinity.pinCurrentThread(1);
            for (long expect = 1; expect < 2L * ROUND_TRIPS; expect += 2)
            {
                while (ball.get() != expect)
                {
                    Thread.onSpinWait();
                }
                ball.set(expect + 1);
            }
        });
        final Thread self = Thread.currentThread();
        final long[] elapsed = new long[1];
        final Thread serve = Thread.ofPlatform().name("pagewire-probe-serve").start(() ->
        {
            Affinity.pinCurrentThread(0);
            final long start = System.nanoTime();
            for (long next = 1; next < 2L * ROUND_TRIPS; next += 2)
            {
                ball.set(next);
                while (ball.get() != next + 1)
                {
                    Thread.onSpinWait();
                }
            }
            elapsed[0] = System.nanoTime() - start;
        });
        try
        {
            serve.join();
            echo.join();
        }
        catch (final InterruptedException e)
        {
            self.interrupt();
            return Double.NaN;
        }
        return (double)elapsed[0] / ROUND_TRIPS;
    }
}
