package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The signal that interrupts a write to a peer's descriptor that blocks ({@link PeerWriteWatchdog}), and the glibc
 * downcalls it needs: sigaction, tgkill, gettid, getpid, sigtimedwait. Kept apart from {@link Libc} because nothing
 * else uses signals.
 * <p>
 * <b>The signal</b> is {@link #INTERRUPT_SIGNAL}, a real-time signal near SIGRTMAX: glibc reserves the first two
 * real-time signals (32, 33: thread cancellation and setxid) and HotSpot uses none (its suspend/resume signal is
 * SIGUSR2 unless {@code _JAVA_SR_SIGNUM} says otherwise, which {@link #install()} checks). Its disposition must be
 * SIG_DFL when pagewire installs its own, or installing fails: someone else owns it.
 * <p>
 * <b>The handler</b> is glibc's {@code getpid}: a function on POSIX's async-signal-safe list that touches neither
 * memory nor errno (it takes no argument, so the signal number in the first argument register is ignored). No Java
 * code runs in signal context (an upcall there could meet a thread in any VM state). What matters is only that a
 * handler exists, so the signal is neither ignored nor fatal, and that it is installed <b>without SA_RESTART</b>: a
 * write(2) sleeping on a full eventfd (or pipe) then returns EINTR instead of being restarted (signal(7),
 * "Interruption of system calls and library functions by signal handlers").
 */
final class Signals
{
    /** SIGRTMAX - 1 (glibc's SIGRTMAX is 64 on Linux x86_64). */
    static final int INTERRUPT_SIGNAL = 63;

    private static final long SIG_DFL = 0L;
    private static final int EAGAIN = 11;
    /** struct sigaction of glibc x86_64: sa_handler (8), sa_mask (128), sa_flags (int, 4 + 4 padding), sa_restorer. */
    private static final long SIGACTION_SIZE = 152;
    private static final long SA_HANDLER_OFFSET = 0;
    private static final long SA_FLAGS_OFFSET = 136;
    /** sigset_t of glibc: 1024 bits. */
    private static final long SIGSET_SIZE = 128;

    private static final MethodHandle SIGACTION;
    private static final MethodHandle TGKILL;
    private static final MethodHandle GETTID;
    private static final MethodHandle GETPID;
    private static final MethodHandle SIGTIMEDWAIT;
    private static final MemorySegment GETPID_ADDRESS;

    static
    {
        final Linker linker = Linker.nativeLinker();
        GETPID_ADDRESS = linker.defaultLookup().find("getpid")
            .orElseThrow(() -> new UnsupportedOperationException("libc has no getpid"));
        SIGACTION = downcall(linker, "sigaction", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        TGKILL = downcall(linker, "tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        GETTID = downcall(linker, "gettid", FunctionDescriptor.of(JAVA_INT));
        GETPID = downcall(linker, "getpid", FunctionDescriptor.of(JAVA_INT));
        SIGTIMEDWAIT = downcall(linker, "sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    private Signals()
    {
    }

    @SuppressWarnings("restricted") // as in Libc: the JVM runs with native access
    private static MethodHandle downcall(final Linker linker, final String name, final FunctionDescriptor descriptor)
    {
        final MemorySegment address = linker.defaultLookup().find(name)
            .orElseThrow(() -> new UnsupportedOperationException("libc has no " + name));
        return linker.downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"));
    }

    /**
     * Installs the do-nothing handler for {@link #INTERRUPT_SIGNAL}, without SA_RESTART. Once per process.
     *
     * @throws IllegalStateException when the signal already has a disposition other than SIG_DFL (another component
     *                               of this process uses it) or the JVM's suspend/resume signal was moved onto it.
     * @throws OsException           when sigaction fails.
     */
    static void install()
    {
        final String srSignal = System.getenv("_JAVA_SR_SIGNUM");
        if (srSignal != null && srSignal.trim().equals(Integer.toString(INTERRUPT_SIGNAL)))
        {
            throw new IllegalStateException("_JAVA_SR_SIGNUM=" + srSignal + ": signal " + INTERRUPT_SIGNAL +
                " is pagewire's peer-write interrupt signal; choose another one for the JVM");
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment old = arena.allocate(SIGACTION_SIZE, 8);
            if (sigaction(state, INTERRUPT_SIGNAL, MemorySegment.NULL, old) != 0)
            {
                throw new OsException("sigaction(" + INTERRUPT_SIGNAL + ", NULL, &old)", Libc.errno(state));
            }
            final long oldHandler = old.get(ValueLayout.JAVA_LONG, SA_HANDLER_OFFSET);
            if (oldHandler == GETPID_ADDRESS.address())
            {
                return; // installed already (a second class loader in tests)
            }
            if (oldHandler != SIG_DFL)
            {
                throw new IllegalStateException("signal " + INTERRUPT_SIGNAL + " already has a handler (0x" +
                    Long.toHexString(oldHandler) + "): pagewire needs it to interrupt writes to peers' descriptors");
            }
            // Zero-filled: empty sa_mask (only the signal itself is blocked while the handler runs) and sa_flags 0,
            // so no SA_RESTART (the point), no SA_SIGINFO, no SA_ONSTACK. glibc's wrapper adds its own restorer.
            final MemorySegment action = arena.allocate(SIGACTION_SIZE, 8);
            action.set(ValueLayout.JAVA_LONG, SA_HANDLER_OFFSET, GETPID_ADDRESS.address());
            action.set(ValueLayout.JAVA_INT, SA_FLAGS_OFFSET, 0);
            if (sigaction(state, INTERRUPT_SIGNAL, action, MemorySegment.NULL) != 0)
            {
                throw new OsException("sigaction(" + INTERRUPT_SIGNAL + ")", Libc.errno(state));
            }
        }
    }

    /**
     * @return the handler address of {@link #INTERRUPT_SIGNAL} now (for tests: 0 is SIG_DFL).
     */
    static long currentHandler()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment old = arena.allocate(SIGACTION_SIZE, 8);
            if (sigaction(state, INTERRUPT_SIGNAL, MemorySegment.NULL, old) != 0)
            {
                throw new OsException("sigaction(" + INTERRUPT_SIGNAL + ", NULL, &old)", Libc.errno(state));
            }
            return old.get(ValueLayout.JAVA_LONG, SA_HANDLER_OFFSET);
        }
    }

    /** @return the address of the handler {@link #install()} installs. */
    static long handlerAddress()
    {
        return GETPID_ADDRESS.address();
    }

    /**
     * @param arena where to allocate.
     * @return a sigset_t holding only {@link #INTERRUPT_SIGNAL}, for {@link #consumePending}.
     */
    static MemorySegment interruptSignalSet(final Arena arena)
    {
        final MemorySegment set = arena.allocate(SIGSET_SIZE, 8);
        final int bit = INTERRUPT_SIGNAL - 1; // sigaddset: signal n is bit n - 1
        set.set(ValueLayout.JAVA_LONG, (bit / 64) * 8L, 1L << (bit % 64));
        return set;
    }

    /**
     * @param arena where to allocate.
     * @return a struct timespec of zero: sigtimedwait polls.
     */
    static MemorySegment zeroTimeout(final Arena arena)
    {
        return arena.allocate(16, 8);
    }

    /**
     * Takes {@link #INTERRUPT_SIGNAL} off the calling thread's pending set, if it is there, without running the
     * handler: sigtimedwait with a zero timeout dequeues a pending signal whether or not it is blocked.
     *
     * @return whether one was pending.
     */
    static boolean consumePending(final MemorySegment state, final MemorySegment set, final MemorySegment zero)
    {
        while (true)
        {
            final int result;
            try
            {
                result = (int)SIGTIMEDWAIT.invokeExact(state, set, MemorySegment.NULL, zero);
            }
            catch (final Throwable t)
            {
                throw rethrow(t);
            }
            if (result == INTERRUPT_SIGNAL)
            {
                return true;
            }
            // EAGAIN: nothing pending. EINTR: the signal arrived meanwhile and its handler ran: gone too.
            final int errno = Libc.errno(state);
            if (errno == EAGAIN || errno == Libc.EINTR)
            {
                return false;
            }
            throw new OsException("sigtimedwait(" + INTERRUPT_SIGNAL + ")", errno);
        }
    }

    /**
     * Sends {@link #INTERRUPT_SIGNAL} to one thread of this process.
     *
     * @return 0, or -1 with errno in {@code state} (ESRCH: that thread is gone).
     */
    static int tgkill(final MemorySegment state, final int pid, final int tid)
    {
        try
        {
            return (int)TGKILL.invokeExact(state, pid, tid, INTERRUPT_SIGNAL);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** @return the calling thread's kernel thread id. */
    static int gettid(final MemorySegment state)
    {
        try
        {
            return (int)GETTID.invokeExact(state);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /** @return this process's id. */
    static int getpid(final MemorySegment state)
    {
        try
        {
            return (int)GETPID.invokeExact(state);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    private static int sigaction(final MemorySegment state, final int signal, final MemorySegment action,
        final MemorySegment old)
    {
        try
        {
            return (int)SIGACTION.invokeExact(state, signal, action, old);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(final Throwable t)
    {
        if (t instanceof RuntimeException e)
        {
            return e;
        }
        if (t instanceof Error e)
        {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
