package io.pagewire.control.latency;

import io.pagewire.dataplane.guest.LatencyRecorder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The two recorders of an embedded run and their monitors, without a forwarder: the writers are driven here. */
class LatencyRecordersTest
{
    @TempDir
    Path temp;

    /** Records {@code count} values of about {@code agoNs} into the recorder, as one batch. */
    private static void record(final LatencyRecorder recorder, final int count, final long agoNs)
    {
        recorder.beginBatch();
        for (int i = 0; i < count; i++)
        {
            recorder.recordSince(System.nanoTime() - agoNs);
        }
        recorder.endBatch();
    }

    @Test
    void monitoringDropsTheWarmUpAndSamplesBothRecorders() throws Exception
    {
        final LatencyRecorders recorders = new LatencyRecorders();
        assertNotSame(recorders.frames(), recorders.usedRing());
        record(recorders.frames(), 1000, 5_000_000);
        record(recorders.usedRing(), 100, 5_000_000);
        try (LatencyRecorders.Monitors monitors = recorders.monitor(null))
        {
            record(recorders.frames(), 30, 2_000_000);
            record(recorders.usedRing(), 3, 1_000_000);
            assertEquals(LatencySnapshot.EMPTY, monitors.frames().snapshot(), "nothing until the first sample");
            monitors.sample();
            record(recorders.frames(), 10, 2_000_000);
            monitors.sample();

            assertEquals(40, monitors.frames().snapshot().count());
            assertEquals(40, monitors.frames().total().getTotalCount());
            assertEquals(3, monitors.usedRing().snapshot().count());
            // What was recorded before monitor() (5 ms or more) is not in the totals; what came after (2 ms, 1 ms) is.
            // The upper bounds sit just under 5 ms, so a preemption inside the loop (this machine has two CPUs) cannot
            // fail the test; the lower ones allow for the histogram's 0.1 % precision.
            assertTrue(monitors.frames().snapshot().maxNs() < 4_990_000, monitors.frames().snapshot().toString());
            assertTrue(monitors.frames().snapshot().minNs() > 1_990_000, monitors.frames().snapshot().toString());
            assertTrue(monitors.usedRing().snapshot().maxNs() < 4_990_000, monitors.usedRing().snapshot().toString());
            assertTrue(monitors.usedRing().snapshot().minNs() > 990_000, monitors.usedRing().snapshot().toString());
        }
    }

    @Test
    void theFrameLatencyGoesToTheLogOneIntervalPerSample() throws Exception
    {
        final Path log = temp.resolve("frames.hlog");
        final LatencyRecorders recorders = new LatencyRecorders();
        try (LatencyRecorders.Monitors monitors = recorders.monitor(log))
        {
            record(recorders.frames(), 7, 1_000_000);
            record(recorders.usedRing(), 2, 1_000_000);
            monitors.sample();
            record(recorders.frames(), 5, 1_000_000);
            monitors.sample();
        }
        final HistogramLogReader reader = new HistogramLogReader(log.toFile());
        final Histogram first = (Histogram)reader.nextIntervalHistogram();
        final Histogram second = (Histogram)reader.nextIntervalHistogram();
        assertEquals(7, first.getTotalCount());
        assertEquals(5, second.getTotalCount());
        assertNull(reader.nextIntervalHistogram(), "the used-ring latency is not logged");
        assertTrue(Files.readString(log).startsWith("#pagewire latency"), Files.readString(log));
    }
}
