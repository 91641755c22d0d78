package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** The scheduler's counts for a thread, read from /proc by its Linux thread id. */
class ThreadSchedulingTest
{
    @Test
    void aSpinningThreadIsSeenOnItsCpuByItsOwnTid() throws Exception
    {
        final AtomicInteger tid = new AtomicInteger(-2);
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread spinner = new Thread(() ->
        {
            tid.set(ThreadScheduling.currentTid());
            while (!stop.get())
            {
                Thread.onSpinWait();
            }
        });
        spinner.start();
        while (tid.get() == -2)
        {
            Thread.onSpinWait();
        }
        final int mine = ThreadScheduling.currentTid();
        assertTrue(tid.get() > 0 && mine > 0 && tid.get() != mine, "two threads, two Linux ids: " + tid + " " + mine);
        final ThreadScheduling.Sample first = ThreadScheduling.read(tid.get());
        Thread.sleep(300);
        final ThreadScheduling.Sample second = ThreadScheduling.read(tid.get());
        stop.set(true);
        spinner.join();

        assertNotNull(first);
        assertNotNull(second);
        // It spun for 300 ms of wall time: some CPU time, and never more than the wall time plus a scheduler tick.
        final long cpuNs = second.cpuNs() - first.cpuNs();
        assertTrue(cpuNs > 0 && cpuNs < 400_000_000L, "cpu ns " + cpuNs);
        assertTrue(second.runnableWaitNs() >= first.runnableWaitNs());
        assertTrue(second.involuntarySwitches() >= first.involuntarySwitches() && first.involuntarySwitches() >= 0);
        assertTrue(second.waitShare() >= 0 && second.waitShare() < 1);
        // join() returns when the Java thread is done; the OS thread exits a moment later.
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (ThreadScheduling.read(tid.get()) != null && System.nanoTime() - deadline < 0)
        {
            Thread.sleep(1);
        }
        assertNull(ThreadScheduling.read(tid.get()), "an ended thread has no /proc entry");
        assertNull(ThreadScheduling.read(-1));
    }

    @Test
    void machineStealIsAShareOfTotalCpuTime()
    {
        final double[] stealAndTotal = ThreadScheduling.machineStealAndTotalSeconds();
        assertNotNull(stealAndTotal);
        assertTrue(stealAndTotal[0] >= 0 && stealAndTotal[0] <= stealAndTotal[1], stealAndTotal[0] + " of " +
            stealAndTotal[1]);
    }
}
