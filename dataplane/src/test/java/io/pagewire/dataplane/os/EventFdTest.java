package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoFdLeaks.class)
class EventFdTest
{
    @Test
    void drainReturnsTheNumberOfSignalsThenZero()
    {
        try (EventFd eventFd = EventFd.create())
        {
            assertEquals(0, eventFd.drain(), "nothing pending: 0, not a block");
            eventFd.signal();
            eventFd.signal();
            eventFd.signal();
            assertEquals(3, eventFd.drain());
            assertEquals(0, eventFd.drain());
            eventFd.signal();
            assertEquals(1, eventFd.drain());
        }
    }

    @Test
    void createdNonBlockingAndCloseOnExec() throws Exception
    {
        try (EventFd eventFd = EventFd.create())
        {
            assertEquals("anon_inode:[eventfd]",
                Files.readSymbolicLink(Path.of("/proc/self/fd/" + eventFd.fd())).toString());
            final int flags = fdinfoFlags(eventFd.fd());
            assertEquals(04000, flags & 04000, "O_NONBLOCK");
            assertEquals(02000000, flags & 02000000, "O_CLOEXEC");
        }
    }

    @Test
    void wrapMakesABlockingEventfdNonBlocking() throws Exception
    {
        final int blocking;
        try (Arena arena = Arena.ofConfined())
        {
            blocking = Libc.eventfd(Libc.callState(arena), 0, 0);
        }
        assertTrue(blocking >= 0);
        assertEquals(0, fdinfoFlags(blocking) & 04000, "made blocking for the test");
        try (EventFd eventFd = EventFd.wrap(blocking))
        {
            assertEquals(blocking, eventFd.fd());
            assertEquals(04000, fdinfoFlags(blocking) & 04000);
            assertEquals(0, eventFd.drain(), "would block forever if wrap left it blocking");
            eventFd.signal();
            assertEquals(1, eventFd.drain());
        }
    }

    @Test
    void wrapRefusesAndClosesAnFdThatIsNotAnEventfd()
    {
        final int before = Fds.openFdCount();
        final int memfd = Fds.memfdCreate("not-an-eventfd", 8);
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EventFd.wrap(memfd));
        assertTrue(e.getMessage().startsWith("fd " + memfd + " is not an eventfd: it is /memfd:not-an-eventfd"),
            e.getMessage());
        assertEquals(before, Fds.openFdCount(), "wrap took ownership, so it closed the fd it refused");
    }

    @Test
    void twoWrappersOfOneCounterSeeEachOther()
    {
        try (EventFd created = EventFd.create(); EventFd peer = EventFd.wrap(dup(created.fd())))
        {
            peer.signal();
            peer.signal();
            assertEquals(2, created.drain());
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseIsRefused()
    {
        final EventFd eventFd = EventFd.create();
        eventFd.close();
        eventFd.close();
        assertThrows(IllegalStateException.class, eventFd::signal);
        assertThrows(IllegalStateException.class, eventFd::drain);
    }

    static int fdinfoFlags(final int fd) throws Exception
    {
        for (final String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)))
        {
            if (line.startsWith("flags:"))
            {
                return Integer.parseInt(line.substring("flags:".length()).trim(), 8);
            }
        }
        throw new AssertionError("no flags in /proc/self/fdinfo/" + fd);
    }

    /** A second descriptor for the same eventfd, as a peer holds after receiving it. */
    @SuppressWarnings("restricted")
    private static int dup(final int fd)
    {
        final Linker linker = Linker.nativeLinker();
        final int copy;
        try
        {
            copy = (int)linker.downcallHandle(linker.defaultLookup().find("dup").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)).invokeExact(fd);
        }
        catch (final Throwable t)
        {
            throw new AssertionError(t);
        }
        assertTrue(copy >= 0, "dup failed");
        return copy;
    }
}
