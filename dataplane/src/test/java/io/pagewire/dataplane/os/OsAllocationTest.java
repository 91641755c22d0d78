package io.pagewire.dataplane.os;

import io.pagewire.dataplane.fixture.AllocationMeter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The calls the dataplane makes allocate nothing once warmed up: {@link EventFd#signal()} (the call notification,
 * once per burst) and, nice to have for the control thread, {@link EventFd#drain()} and socket send/receive.
 * <p>
 * Measured with {@link AllocationMeter}: windows of {@value #CALLS} calls, up to {@value #ATTEMPTS} of them.
 */
@ExtendWith(NoFdLeaks.class)
class OsAllocationTest
{
    private static final int CALLS = 100_000;
    private static final int ATTEMPTS = 3;

    @TempDir
    Path dir;

    @Test
    void eventFdSignalAllocatesNothing()
    {
        try (EventFd eventFd = EventFd.create())
        {
            assertAllocationFree("EventFd.signal", n ->
            {
                for (long i = 0; i < n; i++)
                {
                    eventFd.signal();
                }
                return n;
            });
            assertTrue(eventFd.drain() >= CALLS, "the signals reached the counter");
        }
    }

    @Test
    void eventFdDrainAllocatesNothing()
    {
        try (EventFd eventFd = EventFd.create())
        {
            assertAllocationFree("EventFd.signal+drain", n ->
            {
                long drained = 0;
                for (long i = 0; i < n; i++)
                {
                    eventFd.signal();
                    drained += eventFd.drain();
                    drained += eventFd.drain();
                }
                return drained;
            });
        }
    }

    @Test
    void socketSendAndReceiveAllocateNothing()
    {
        final Path path = dir.resolve("alloc.sock");
        try (Arena arena = Arena.ofConfined();
             UnixSocket listener = UnixSocket.listen(path);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept())
        {
            final MemorySegment out = arena.allocate(64);
            final MemorySegment in = arena.allocate(64);
            final int[] fds = new int[UnixSocket.MAX_FDS];
            assertAllocationFree("UnixSocket.send+awaitReadable+receive", n ->
            {
                long received = 0;
                for (long i = 0; i < n; i++)
                {
                    out.set(ValueLayout.JAVA_LONG, 0, i);
                    client.send(out.address(), 64, null, 0);
                    if (!server.awaitReadable(1000))
                    {
                        throw new AssertionError("nothing to read");
                    }
                    received += server.receive(in.address(), 64, fds);
                    if (in.get(ValueLayout.JAVA_LONG, 0) != i)
                    {
                        throw new AssertionError("wrong bytes at " + i);
                    }
                }
                return received;
            });
        }
    }

    private static void assertAllocationFree(final String what, final LongUnaryOperator calls)
    {
        final long warmupResult = calls.applyAsLong(CALLS);
        assertTrue(warmupResult > 0);
        AllocationMeter.assertSomeWindowAllocatesNothing(what, ATTEMPTS, () ->
        {
            calls.applyAsLong(CALLS);
            return CALLS;
        });
    }
}
