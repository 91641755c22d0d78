package io.pagewire.dataplane.guest;

import org.HdrHistogram.Histogram;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/** The recorder on a fake clock: values, clamping, and the interval handoff (nothing lost, nothing counted twice). */
class LatencyRecorderTest
{
    private final CachedNanoClock clock = new CachedNanoClock();
    private final LatencyRecorder recorder = new LatencyRecorder(clock);

    private void record(final long sendNs)
    {
        recorder.beginBatch();
        recorder.recordSince(sendNs);
        recorder.endBatch();
    }

    @Test
    void recordsTheTimeSinceTheIntendedSendTime()
    {
        clock.update(1_000_000);
        record(1_000_000 - 5_000);
        record(1_000_000 - 7_000);
        final Histogram interval = recorder.intervalHistogram(null);
        assertEquals(2, interval.getTotalCount());
        assertTrue(interval.valuesAreEquivalent(5_000, interval.getMinValue()), "min " + interval.getMinValue());
        assertTrue(interval.valuesAreEquivalent(7_000, interval.getMaxValue()), "max " + interval.getMaxValue());
    }

    @Test
    void aFrameWhoseIntendedSendTimeIsOldShowsAsALargeValue()
    {
        final long now = TimeUnit.SECONDS.toNanos(100);
        clock.update(now);
        recorder.beginBatch();
        for (int i = 0; i < 999; i++)
        {
            recorder.recordSince(now - 2_000);
        }
        // Due 250 ms ago (for example, while the sender stalled): coordinated omission would hide it.
        recorder.recordSince(now - TimeUnit.MILLISECONDS.toNanos(250));
        recorder.endBatch();
        final Histogram interval = recorder.intervalHistogram(null);
        assertEquals(1000, interval.getTotalCount());
        assertTrue(interval.getValueAtPercentile(50) < 3_000);
        assertTrue(interval.valuesAreEquivalent(TimeUnit.MILLISECONDS.toNanos(250), interval.getMaxValue()));
        assertTrue(interval.getValueAtPercentile(99.99) >= TimeUnit.MILLISECONDS.toNanos(249));
    }

    @Test
    void valuesOutsideTheRangeAreClampedNotThrown()
    {
        clock.update(10);
        record(20);
        record(10 - 2 * LatencyRecorder.HIGHEST_TRACKABLE_NS);
        final Histogram interval = recorder.intervalHistogram(null);
        assertEquals(2, interval.getTotalCount());
        assertEquals(0, interval.getMinValue());
        assertTrue(interval.valuesAreEquivalent(LatencyRecorder.HIGHEST_TRACKABLE_NS, interval.getMaxValue()));
    }

    @Test
    void intervalsHoldWhatWasRecordedSinceThePreviousOne()
    {
        clock.update(1_000);
        record(0);
        record(0);
        Histogram interval = recorder.intervalHistogram(null);
        assertEquals(2, interval.getTotalCount());
        record(0);
        interval = recorder.intervalHistogram(interval);
        assertEquals(1, interval.getTotalCount(), "the recycled histogram was reset");
        assertTrue(interval.getEndTimeStamp() >= interval.getStartTimeStamp());
        assertTrue(interval.getStartTimeStamp() > 0);
        assertEquals(0, recorder.intervalHistogram(interval).getTotalCount());
    }

    @Test
    void aConcurrentReaderSeesEveryValueExactlyOnce() throws Exception
    {
        clock.update(1_000);
        final long values = 2_000_000;
        final AtomicBoolean done = new AtomicBoolean();
        final CountDownLatch started = new CountDownLatch(1);
        final AtomicLong failure = new AtomicLong();
        final Thread writer = Thread.ofPlatform().start(() ->
        {
            started.countDown();
            for (long i = 0; i < values; i += 16)
            {
                recorder.beginBatch();
                for (int k = 0; k < 16; k++)
                {
                    recorder.recordSince(0);
                }
                recorder.endBatch();
            }
            done.set(true);
        });
        started.await();
        long seen = 0;
        Histogram interval = null;
        while (!done.get())
        {
            interval = recorder.intervalHistogram(interval);
            seen += interval.getTotalCount();
            if (interval.getTotalCount() != 0 && interval.getMaxValue() > 1_001)
            {
                failure.incrementAndGet();
            }
        }
        writer.join();
        seen += recorder.intervalHistogram(interval).getTotalCount();
        assertEquals(values, seen);
        assertEquals(0, failure.get());
    }
}
