package io.pagewire.control.latency;

import io.pagewire.dataplane.os.ThreadScheduling;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How much the busy threads were kept off their CPUs during a run, and how much the hypervisor took: the scheduling
 * side of a latency tail. Per busy thread, from {@link ThreadScheduling}: CPU time, time runnable but waiting (a
 * busy-polling thread never sleeps, so every waiting nanosecond is a gap in its polling) and preemptions, counted
 * over the thread's life; the machine's steal share from the start point.
 */
public final class SchedActivity
{
    private final double[] stealAtStart;

    private SchedActivity(final double[] stealAtStart)
    {
        this.stealAtStart = stealAtStart;
    }

    /** @return a starting point for the steal share: now. */
    public static SchedActivity start()
    {
        return new SchedActivity(ThreadScheduling.machineStealAndTotalSeconds());
    }

    /**
     * Reads the threads while they still run (a thread that has ended has no {@code /proc} entry).
     *
     * @param threads busy threads by role ({@code dataplane}, {@code peer}), Linux thread ids.
     * @return what the scheduler counted.
     */
    public Snapshot snapshot(final Map<String, Integer> threads)
    {
        final Map<String, ThreadScheduling.Sample> samples = new LinkedHashMap<>();
        threads.forEach((role, tid) ->
        {
            final ThreadScheduling.Sample sample = ThreadScheduling.read(tid);
            if (sample != null)
            {
                samples.put(role, sample);
            }
        });
        final double[] now = ThreadScheduling.machineStealAndTotalSeconds();
        final double steal = stealAtStart == null || now == null || now[1] <= stealAtStart[1] ? Double.NaN :
            (now[0] - stealAtStart[0]) / (now[1] - stealAtStart[1]);
        return new Snapshot(samples, steal);
    }

    /**
     * @param threads    per busy thread, what the scheduler counted over its life.
     * @param stealShare the machine's steal time as a share of all its CPU time over the run, 0..1; NaN if unknown.
     */
    public record Snapshot(Map<String, ThreadScheduling.Sample> threads, double stealShare)
    {
        /** @return the {@code sched} section of the summary JSON. */
        public Map<String, Object> json()
        {
            final Map<String, Object> json = new LinkedHashMap<>();
            threads.forEach((role, sample) ->
            {
                final Map<String, Object> thread = new LinkedHashMap<>();
                thread.put("cpu_s", sample.cpuNs() / 1e9);
                thread.put("runnable_wait_s", sample.runnableWaitNs() / 1e9);
                thread.put("runnable_wait_share", sample.waitShare());
                thread.put("involuntary_switches",
                    sample.involuntarySwitches() < 0 ? null : sample.involuntarySwitches());
                json.put(role, thread);
            });
            json.put("steal_share", Double.isNaN(stealShare) ? null : stealShare);
            return json;
        }

        /** @return one line: {@code dataplane 39.6 s on CPU, 0.41 s waiting (1.0 %), 1442 preemptions; ...}. */
        public String text()
        {
            final StringBuilder text = new StringBuilder();
            threads.forEach((role, sample) -> text.append(text.isEmpty() ? "" : "; ").append(String.format(Locale.ROOT,
                "%s %.1f s on CPU, %.3f s waiting for it (%.2f %%), %s preemptions", role, sample.cpuNs() / 1e9,
                sample.runnableWaitNs() / 1e9, 100 * sample.waitShare(),
                sample.involuntarySwitches() < 0 ? "?" : Long.toString(sample.involuntarySwitches()))));
            if (!Double.isNaN(stealShare))
            {
                text.append(text.isEmpty() ? "" : "; ").append(String.format(Locale.ROOT, "host steal %.2f %%",
                    100 * stealShare));
            }
            return text.isEmpty() ? "not measured (no /proc)" : text.toString();
        }
    }
}
