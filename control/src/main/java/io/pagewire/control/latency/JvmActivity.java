package io.pagewire.control.latency;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/**
 * Garbage collections in the JVM since a starting point, from the {@link GarbageCollectorMXBean}s: how many and how
 * long they took. Beans that count concurrent cycles (ZGC's and Shenandoah's "... Cycles") are left out, so that
 * the time is pause time; G1's and the serial/parallel collectors' beans count pauses.
 */
public final class JvmActivity
{
    private final long countAtStart;
    private final long timeMsAtStart;

    private JvmActivity(final long countAtStart, final long timeMsAtStart)
    {
        this.countAtStart = countAtStart;
        this.timeMsAtStart = timeMsAtStart;
    }

    /** @return a starting point: now. */
    public static JvmActivity start()
    {
        return new JvmActivity(totalCount(), totalTimeMs());
    }

    /** @return collections since the start. */
    public long gcCount()
    {
        return totalCount() - countAtStart;
    }

    /** @return milliseconds of collection pauses since the start. */
    public long gcPauseMs()
    {
        return totalTimeMs() - timeMsAtStart;
    }

    private static long totalCount()
    {
        long count = 0;
        for (final GarbageCollectorMXBean bean : ManagementFactory.getGarbageCollectorMXBeans())
        {
            if (!bean.getName().endsWith("Cycles"))
            {
                count += Math.max(0, bean.getCollectionCount());
            }
        }
        return count;
    }

    private static long totalTimeMs()
    {
        long time = 0;
        for (final GarbageCollectorMXBean bean : ManagementFactory.getGarbageCollectorMXBeans())
        {
            if (!bean.getName().endsWith("Cycles"))
            {
                time += Math.max(0, bean.getCollectionTime());
            }
        }
        return time;
    }
}
