package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
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
    void aFullCounterIsReportedFullNotWaitedFor()
    {
        try (EventFd ours = EventFd.create(); EventFd peer = EventFd.wrap(dup(ours.fd())))
        {
            fill(peer.fd());
            assertEquals(EventFd.FULL, ours.signal(), "EAGAIN: a notification is pending already");
            assertEquals(EventFd.FULL, ours.signal());
            assertFalse(ours.blocked());
            assertEquals(FULL_COUNTER, peer.drain());
            assertEquals(EventFd.SIGNALLED, ours.signal(), "room again");
            assertEquals(1, peer.drain());
        }
    }

    /**
     * The frontend shares the open file description: it clears O_NONBLOCK after pagewire set it, and fills the
     * counter, so write(2) of 1 sleeps until someone reads. The watchdog interrupts it; the fd is not written again.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aSignalThatBlocksBecauseThePeerClearedNonBlockAndFilledTheCounterIsInterrupted() throws Exception
    {
        try (EventFd ours = EventFd.create(); EventFd peer = EventFd.wrap(dup(ours.fd())))
        {
            fill(peer.fd());
            clearNonBlock(peer.fd());
            assertEquals(0, fdinfoFlags(ours.fd()) & 04000, "one open file description: ours is blocking now too");
            final long interruptsBefore = PeerWriteWatchdog.interrupts();

            assertEquals(EventFd.BLOCKED, ours.signal(), "the write slept and was interrupted");
            assertTrue(ours.blocked());
            assertTrue(PeerWriteWatchdog.interrupts() > interruptsBefore, "the watchdog sent the signal");
            assertEquals(EventFd.SKIPPED, ours.signal(), "not written again");
            assertEquals(FULL_COUNTER, peer.drain(), "nothing was added: the counter is as the peer left it");

            // The thread that was interrupted carries on: sleeping, and a blocking syscall that completes.
            Thread.sleep(3 * PeerWriteWatchdog.SCAN_PERIOD_NS / 1_000_000);
            try (EventFd other = EventFd.create())
            {
                other.signal();
                assertEquals(1, other.drain());
            }
        }
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aDrainThatBlocksBecauseThePeerClearedNonBlockIsInterrupted() throws Exception
    {
        try (EventFd ours = EventFd.create(); EventFd peer = EventFd.wrap(dup(ours.fd())))
        {
            clearNonBlock(peer.fd());
            assertEquals(0, ours.drain(), "nothing pending; the read slept and was interrupted");
            assertTrue(ours.blocked());
            assertEquals(EventFd.SKIPPED, ours.signal());
        }
    }

    @Test
    void aPipeIsRefusedWithAClearMessage() throws Exception
    {
        final int before = Fds.openFdCount();
        final int[] pipe = pipe();
        try
        {
            final IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> EventFd.wrap(pipe[1]));
            assertTrue(e.getMessage().matches("fd " + pipe[1] + " is not an eventfd: it is pipe:\\[\\d+]"),
                e.getMessage());
            assertFalse(EventFd.isEventFd(pipe[0]));
        }
        finally
        {
            Fds.closeQuietly(pipe[0]);
        }
        assertEquals(before, Fds.openFdCount(), "the refused write end was closed by wrap, the read end here");
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

    /** The highest value an eventfd counter holds: a write of 1 more would block (or fail with EAGAIN). */
    static final long FULL_COUNTER = 0xffff_ffff_ffff_fffeL;

    /** Writes what makes the counter {@link #FULL_COUNTER}, as a hostile peer does. */
    static void fill(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final var value = arena.allocate(ValueLayout.JAVA_LONG);
            value.set(ValueLayout.JAVA_LONG, 0, FULL_COUNTER);
            assertEquals(8, Libc.write(Libc.callState(arena), fd, value, 8), "filling the counter");
        }
    }

    /** Clears O_NONBLOCK on the open file description {@code fd} refers to, as a hostile peer can. */
    static void clearNonBlock(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final var state = Libc.callState(arena);
            final int flags = Libc.fcntlGetFlags(state, fd);
            assertTrue(flags >= 0);
            assertEquals(0, Libc.fcntlSetFlags(state, fd, flags & ~Libc.O_NONBLOCK));
        }
    }

    /** @return a pipe: read end, write end. */
    @SuppressWarnings("restricted")
    static int[] pipe()
    {
        final Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined())
        {
            final var fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            final int result = (int)linker.downcallHandle(linker.defaultLookup().find("pipe").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS)).invokeExact(fds);
            assertEquals(0, result, "pipe");
            return new int[] {fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)};
        }
        catch (final Throwable t)
        {
            throw new AssertionError(t);
        }
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
    static int dup(final int fd)
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
