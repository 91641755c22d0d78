package io.pagewire.dataplane.os;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the Linux scheduler counted for a thread of this process, from {@code /proc}: CPU time, time spent runnable
 * but waiting for a CPU, and involuntary context switches (preemptions). For a busy-polling thread, which never
 * sleeps, the waiting time is exactly the time it was kept off its CPU by something else: the other busy thread, the
 * control thread, the JIT, a GC, the kernel. That is where a latency tail of milliseconds comes from on a machine
 * with as many busy threads as cores; the machine's steal time says how much the hypervisor took on top.
 * <p>
 * Read by the control thread at the end of a run, never on the data path.
 */
public final class ThreadScheduling
{
    /** Clock ticks per second of {@code /proc/stat} (USER_HZ, 100 on Linux x86-64). */
    private static final double TICKS_PER_SECOND = 100.0;

    /**
     * @param cpuNs               nanoseconds on a CPU ({@code /proc/self/task/TID/schedstat}, first field).
     * @param runnableWaitNs      nanoseconds runnable and waiting for a CPU (second field).
     * @param involuntarySwitches times the thread was preempted ({@code nonvoluntary_ctxt_switches} of its status),
     *                            -1 when the status has no such line.
     */
    public record Sample(long cpuNs, long runnableWaitNs, long involuntarySwitches)
    {
        /** @return the share of the thread's runnable time it spent waiting, 0..1 (0 when it never ran). */
        public double waitShare()
        {
            final long runnable = cpuNs + runnableWaitNs;
            return runnable == 0 ? 0 : (double)runnableWaitNs / runnable;
        }
    }

    private ThreadScheduling()
    {
    }

    /**
     * @return the calling thread's Linux thread id (the kernel's, not {@link Thread#threadId()}), or -1 when
     * {@code /proc/thread-self} cannot be read.
     */
    public static int currentTid()
    {
        try
        {
            // A link to "PID/task/TID".
            return Integer.parseInt(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString());
        }
        catch (final IOException | RuntimeException ex)
        {
            return -1;
        }
    }

    /**
     * @param tid a thread of this process, as {@link #currentTid()} gave it.
     * @return what the scheduler counted for it so far, or null when the thread is gone or {@code /proc} unreadable.
     */
    public static Sample read(final int tid)
    {
        if (tid < 0)
        {
            return null;
        }
        final Path task = Path.of("/proc/self/task", Integer.toString(tid));
        try
        {
            final String[] schedstat = Files.readString(task.resolve("schedstat")).trim().split("\\s+");
            long involuntary = -1;
            for (final String line : Files.readAllLines(task.resolve("status")))
            {
                if (line.startsWith("nonvoluntary_ctxt_switches:"))
                {
                    involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                }
            }
            return new Sample(Long.parseLong(schedstat[0]), Long.parseLong(schedstat[1]), involuntary);
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }

    /**
     * @return the machine's steal time so far in seconds summed over its CPUs (the hypervisor ran someone else while
     * this VM wanted the CPU), and its total CPU time, as {@code {steal, total}}; null when {@code /proc/stat} cannot
     * be read.
     */
    public static double[] machineStealAndTotalSeconds()
    {
        try (var lines = Files.lines(Path.of("/proc/stat")))
        {
            final String[] f = lines.findFirst().orElseThrow().trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < f.length && i <= 8; i++) // user nice system idle iowait irq softirq steal
            {
                total += Long.parseLong(f[i]);
            }
            return new double[] {f.length > 8 ? Long.parseLong(f[8]) / TICKS_PER_SECOND : 0, total / TICKS_PER_SECOND};
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }
}
