package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static io.pagewire.dataplane.os.EventFdTest.clearNonBlock;
import static io.pagewire.dataplane.os.EventFdTest.dup;
import static io.pagewire.dataplane.os.EventFdTest.fill;
import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoFdLeaks.class)
class PeerWriteWatchdogTest
{
    private static final int ROUNDS = 20;

    @Test
    void theInterruptSignalHasTheLibcHandler()
    {
        PeerWriteWatchdog.interrupts(); // initialises the class: installs the handler, starts the watchdog
        assertEquals(Signals.handlerAddress(), Signals.currentHandler(), "getpid, not SIG_DFL (which would kill)");
        assertNotEquals(0, Signals.handlerAddress());
    }

    /**
     * HotSpot tolerates the signal: the interrupted thread goes on running Java and blocking syscalls, and the signal
     * reaches no other thread (tgkill): a thread sleeping in a blocking read of an eventfd, which a signal without
     * SA_RESTART would end with EINTR, reads its value once it is written, after every round.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void repeatedInterruptsReachOnlyTheWritingThread() throws Exception
    {
        final int blockingFd;
        try (Arena arena = Arena.ofConfined())
        {
            blockingFd = Libc.eventfd(Libc.callState(arena), 0, Libc.EFD_CLOEXEC);
        }
        assertTrue(blockingFd >= 0);
        final AtomicLong readValue = new AtomicLong();
        final AtomicReference<String> readError = new AtomicReference<>();
        final CountDownLatch reading = new CountDownLatch(1);
        final Thread reader = Thread.ofPlatform().name("test-blocking-reader").start(() ->
        {
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment state = Libc.callState(arena);
                final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
                reading.countDown();
                final long read = Libc.read(state, blockingFd, value, 8); // no EINTR retry on purpose
                if (read == 8)
                {
                    readValue.set(value.get(ValueLayout.JAVA_LONG, 0));
                }
                else
                {
                    readError.set("read returned " + read + ", errno " + Libc.errno(state));
                }
            }
        });
        final Thread sleeper = Thread.ofPlatform().name("test-sleeper").start(() ->
        {
            try
            {
                Thread.sleep(60_000);
            }
            catch (final InterruptedException ignored)
            {
                // ended by the test
            }
        });
        try
        {
            reading.await();
            final long interruptsBefore = PeerWriteWatchdog.interrupts();
            for (int round = 0; round < ROUNDS; round++)
            {
                try (EventFd ours = EventFd.create(); EventFd peer = EventFd.wrap(dup(ours.fd())))
                {
                    fill(peer.fd());
                    clearNonBlock(peer.fd());
                    assertEquals(EventFd.BLOCKED, ours.signal(), "round " + round);
                }
                assertTrue(reader.isAlive(), "round " + round + ": " + readError.get());
                assertTrue(sleeper.isAlive(), "round " + round + ": the sleeping thread was not woken");
            }
            assertTrue(PeerWriteWatchdog.interrupts() - interruptsBefore >= ROUNDS);
        }
        finally
        {
            try (EventFd writer = EventFd.wrap(dup(blockingFd)))
            {
                writer.signal();
            }
            reader.join();
            sleeper.interrupt();
            sleeper.join();
            Fds.close(blockingFd);
        }
        assertNull(readError.get(), "the reader's read was never interrupted");
        assertEquals(1, readValue.get());
    }

    /**
     * The exit protocol: a thread whose slot says "in a write" while it actually sleeps elsewhere (here in
     * Thread.sleep, standing in for a writer stopped at a safepoint) is signalled; the JVM's sleep shrugs it off, and
     * after exit() no signal is left to interrupt the thread's next blocking syscall (a read that another thread
     * completes later: EINTR there would fail the test).
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void noSignalOutlivesTheGuardedCall() throws Exception
    {
        final PeerWriteWatchdog.Slot slot = PeerWriteWatchdog.slot();
        for (int round = 0; round < 5; round++)
        {
            final long interruptsBefore = PeerWriteWatchdog.interrupts();
            slot.enter();
            // Generous: on a loaded machine the watchdog thread may wait long for a CPU (the loop ends at once).
            final long until = System.nanoTime() + 10_000_000_000L;
            while (PeerWriteWatchdog.interrupts() == interruptsBefore && System.nanoTime() - until < 0)
            {
                Thread.sleep(1);
            }
            slot.exit();
            assertTrue(PeerWriteWatchdog.interrupts() > interruptsBefore, "round " + round + ": signalled");

            final int blockingFd;
            try (Arena arena = Arena.ofConfined())
            {
                blockingFd = Libc.eventfd(Libc.callState(arena), 0, Libc.EFD_CLOEXEC);
            }
            final Thread writer = Thread.ofPlatform().start(() ->
            {
                // A plain write, not EventFd.wrap: wrapping would set O_NONBLOCK on the open file description the
                // reader shares, and a read that started after that would return EAGAIN instead of blocking.
                try (Arena writerArena = Arena.ofConfined())
                {
                    Thread.sleep(3 * PeerWriteWatchdog.SCAN_PERIOD_NS / 1_000_000);
                    final MemorySegment one = writerArena.allocate(ValueLayout.JAVA_LONG);
                    one.set(ValueLayout.JAVA_LONG, 0, 1L);
                    final MemorySegment writerState = Libc.callState(writerArena);
                    if (Libc.write(writerState, blockingFd, one, 8) != 8)
                    {
                        throw new AssertionError("write: errno " + Libc.errno(writerState));
                    }
                }
                catch (final InterruptedException e)
                {
                    throw new AssertionError(e);
                }
            });
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment state = Libc.callState(arena);
                final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
                final long read = Libc.read(state, blockingFd, value, 8); // unguarded, no EINTR retry
                assertEquals(8, read, "round " + round + ": errno " + Libc.errno(state));
                assertEquals(1, value.get(ValueLayout.JAVA_LONG, 0));
            }
            finally
            {
                writer.join();
                Fds.close(blockingFd);
            }
        }
    }

    /** The watchdog leaves a preempted writer alone (R) and signals a sleeping one (S). */
    @Test
    void aRunningThreadIsRunnableAndASleepingOneIsNot() throws Exception
    {
        final int[] tid = new int[1];
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final Thread sleeper = Thread.ofPlatform().start(() ->
        {
            try (Arena arena = Arena.ofConfined())
            {
                tid[0] = Signals.gettid(Libc.callState(arena));
            }
            started.countDown();
            try
            {
                release.await();
            }
            catch (final InterruptedException ignored)
            {
                // ends the thread
            }
        });
        started.await();
        try (Arena arena = Arena.ofConfined())
        {
            assertTrue(PeerWriteWatchdog.runnable(Signals.gettid(Libc.callState(arena))), "this thread runs");
        }
        while (sleeper.getState() != Thread.State.WAITING)
        {
            Thread.onSpinWait();
        }
        // WAITING in Java may still be on its way into futex(2): poll until the kernel says S, bounded by the timeout.
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (PeerWriteWatchdog.runnable(tid[0]) && System.nanoTime() - deadline < 0)
        {
            Thread.sleep(1);
        }
        assertFalse(PeerWriteWatchdog.runnable(tid[0]), "a thread asleep in the kernel is not runnable");
        release.countDown();
        sleeper.join();
        assertFalse(PeerWriteWatchdog.runnable(Integer.MAX_VALUE), "no such thread: not runnable (signal side)");
    }

    /** Writes that do not block are not touched, however many: the guard costs a store and a CAS, no syscall. */
    @Test
    void writesThatDoNotBlockAreNeverInterrupted()
    {
        try (EventFd ours = EventFd.create(); EventFd peer = EventFd.wrap(dup(ours.fd())))
        {
            for (int i = 0; i < 100_000; i++)
            {
                assertEquals(EventFd.SIGNALLED, ours.signal());
            }
            assertEquals(100_000, peer.drain());
            assertFalse(ours.blocked());
        }
    }
}
