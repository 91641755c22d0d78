package io.pagewire.control.latency;

import io.pagewire.dataplane.guest.LatencyRecorder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The control thread's side of latency profiling: once a second ({@link #sample()}) it takes the interval histogram
 * from the guest's {@link LatencyRecorder}, adds it to the run's total, appends it to the {@code .hlog} file
 * ({@link HistogramLogWriter}, readable by HdrHistogram's HistogramLogProcessor and plotters) and publishes a
 * {@link LatencySnapshot} of the total for other threads ({@code /metrics}).
 * <p>
 * Control-thread object except {@link #snapshot()}.
 */
public final class LatencyMonitor implements AutoCloseable
{
    private final LatencyRecorder recorder;
    private final Histogram total = LatencyRecorder.newHistogram();
    private final PrintStream logStream;
    private final HistogramLogWriter log;
    private Histogram interval;
    private volatile LatencySnapshot snapshot = LatencySnapshot.EMPTY;

    /**
     * @param recorder the recorder the guest writes.
     * @param logFile  the {@code .hlog} file to write (replaced), or null for none.
     * @throws IOException when the log file cannot be created.
     */
    public LatencyMonitor(final LatencyRecorder recorder, final Path logFile) throws IOException
    {
        this.recorder = recorder;
        if (logFile != null)
        {
            logStream = new PrintStream(Files.newOutputStream(logFile), false, "US-ASCII");
            log = new HistogramLogWriter(logStream);
            final long nowMs = System.currentTimeMillis();
            log.outputComment("pagewire latency: ns from a frame's intended send time to its consumption by the " +
                "embedded guest");
            log.outputLogFormatVersion();
            log.outputStartTime(nowMs);
            log.setBaseTime(nowMs);
            log.outputLegend();
        }
        else
        {
            logStream = null;
            log = null;
        }
        total.setStartTimeStamp(System.currentTimeMillis());
    }

    /** Takes what the guest recorded since the last sample (the writer is never blocked for long). */
    public void sample()
    {
        interval = recorder.intervalHistogram(interval);
        total.add(interval);
        total.setEndTimeStamp(interval.getEndTimeStamp());
        if (log != null && interval.getTotalCount() > 0)
        {
            log.outputIntervalHistogram(interval);
        }
        snapshot = LatencySnapshot.of(total);
    }

    /** @return every value recorded up to the last {@link #sample()}. */
    public Histogram total()
    {
        return total;
    }

    /** @return the percentiles of {@link #total()} at the last sample; any thread. */
    public LatencySnapshot snapshot()
    {
        return snapshot;
    }

    /** Flushes and closes the log file. */
    @Override
    public void close()
    {
        if (logStream != null)
        {
            logStream.close();
        }
    }
}
