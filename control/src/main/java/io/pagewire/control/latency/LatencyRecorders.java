package io.pagewire.control.latency;

import io.pagewire.dataplane.guest.LatencyRecorder;
import org.agrona.concurrent.SystemNanoClock;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The latency plumbing of a run on the embedded guest, built here for {@code pagewire run --latency},
 * {@code pagewire bench latency} and the tests: two recorders on the clock the traffic source stamps intended send
 * times with, one for each frame's latency up to its consumption by the guest ({@code frames}) and one sampled per
 * receive burst up to the used-ring publication ({@code usedRing}), handed to the forwarder before it starts; and,
 * from {@link #monitor(Path)} on, a {@link LatencyMonitor} over each that the control thread samples once a second.
 */
public final class LatencyRecorders
{
    private final LatencyRecorder frames = new LatencyRecorder(SystemNanoClock.INSTANCE);
    private final LatencyRecorder usedRing = new LatencyRecorder(SystemNanoClock.INSTANCE);

    /** @return where the embedded guest records each frame's latency. */
    public LatencyRecorder frames()
    {
        return frames;
    }

    /** @return where the dataplane records, once per receive burst, the latency up to the used-ring publication. */
    public LatencyRecorder usedRing()
    {
        return usedRing;
    }

    /**
     * Starts measuring: what was recorded so far (a warm-up) is dropped, and what comes next is taken by monitors.
     *
     * @param framesLog the {@code .hlog} file the frame latency is also written to (replaced), or null for none.
     * @return the monitors, to sample once a second and close at the end of the run.
     * @throws IOException when the log file cannot be created.
     */
    public Monitors monitor(final Path framesLog) throws IOException
    {
        frames.intervalHistogram(null);
        usedRing.intervalHistogram(null);
        return new Monitors(new LatencyMonitor(frames, framesLog), new LatencyMonitor(usedRing, null));
    }

    /**
     * The two monitors of a measured run. Control-thread object except the monitors' snapshots.
     *
     * @param frames   over {@link LatencyRecorders#frames()}, with the {@code .hlog} file if any.
     * @param usedRing over {@link LatencyRecorders#usedRing()}.
     */
    public record Monitors(LatencyMonitor frames, LatencyMonitor usedRing) implements AutoCloseable
    {
        /** Takes both recorders' intervals into the run's totals. */
        public void sample()
        {
            frames.sample();
            usedRing.sample();
        }

        /** Flushes and closes the log file. */
        @Override
        public void close()
        {
            frames.close();
            usedRing.close();
        }
    }
}
