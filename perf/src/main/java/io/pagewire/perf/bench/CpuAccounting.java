package io.pagewire.perf.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time from {@code /proc}: the whole machine's busy time and given processes' own, so a benchmark sample can say
 * how much CPU went to something other than the processes it measures ("foreign" load: another tenant, a build,
 * the hypervisor's steal time).
 */
final class CpuAccounting
{
    /** Clock ticks per second of {@code /proc} times (USER_HZ, 100 on Linux x86-64). */
    private static final double TICKS_PER_SECOND = 100.0;

    private CpuAccounting()
    {
    }

    /**
     * @return CPU-seconds the machine spent busy (everything but idle and iowait; steal counts as busy: someone else
     * had the CPU), or NaN when {@code /proc/stat} cannot be read.
     */
    static double machineBusySeconds()
    {
        try
        {
            final String first = Files.readAllLines(Path.of("/proc/stat")).getFirst();
            final String[] f = first.trim().split("\\s+");
            long busy = 0;
            for (int i = 1; i < f.length && i <= 8; i++)
            {
                if (i != 4 && i != 5) // idle, iowait
                {
                    busy += Long.parseLong(f[i]);
                }
            }
            return busy / TICKS_PER_SECOND;
        }
        catch (final IOException | RuntimeException e)
        {
            return Double.NaN;
        }
    }

    /**
     * @return CPU-seconds (user + system) the processes have used so far; a process that is gone counts 0.
     */
    static double processSeconds(final List<Long> pids)
    {
        double total = 0;
        for (final long pid : pids)
        {
            total += processSeconds(pid);
        }
        return total;
    }

    /**
     * @return CPU-seconds (user + system) of this process's children that have exited and been waited for (and
     * theirs): {@code cutime + cstime} of {@code /proc/self/stat}; 0 when it cannot be read.
     */
    static double reapedChildrenSeconds()
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc/self/stat"));
            final String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / TICKS_PER_SECOND; // cutime, cstime
        }
        catch (final IOException | RuntimeException e)
        {
            return 0;
        }
    }

    private static double processSeconds(final long pid)
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
            final String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND; // utime, stime
        }
        catch (final IOException | RuntimeException e)
        {
            return 0;
        }
    }
}
