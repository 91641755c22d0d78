package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

class AffinityTest
{
    private static String allowedCpus() throws Exception
    {
        for (final String line : Files.readAllLines(Path.of("/proc/thread-self/status")))
        {
            if (line.startsWith("Cpus_allowed_list:"))
            {
                return line.substring("Cpus_allowed_list:".length()).trim();
            }
        }
        throw new AssertionError("no Cpus_allowed_list in /proc/thread-self/status");
    }

    @Test
    void pinsTheCallingThreadOnly() throws Exception
    {
        final String before = allowedCpus();
        final AtomicReference<Object> pinned = new AtomicReference<>();
        final Thread thread = Thread.ofPlatform().start(() ->
        {
            try
            {
                Affinity.pinCurrentThread(0);
                pinned.set(allowedCpus());
            }
            catch (final Throwable t)
            {
                pinned.set(t);
            }
        });
        thread.join();
        assertEquals("0", pinned.get(), "the pinned thread may run on CPU 0 only");
        assertEquals(before, allowedCpus(), "other threads keep their affinity");
    }

    @Test
    void aCpuTheProcessCannotUseIsAClearError() throws Exception
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread = Thread.ofPlatform().start(() ->
        {
            try
            {
                Affinity.pinCurrentThread(1000);
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        thread.join();
        assertInstanceOf(IllegalStateException.class, failure.get());
        assertTrue(failure.get().getMessage().startsWith("cannot pin to cpu 1000: sched_setaffinity failed with errno 22"),
            failure.get().getMessage());
        assertThrows(IllegalArgumentException.class, () -> Affinity.pinCurrentThread(-1));
    }
}
