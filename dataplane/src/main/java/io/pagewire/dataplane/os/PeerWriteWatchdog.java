package io.pagewire.dataplane.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The backstop that keeps a write to a peer's descriptor from blocking a pagewire thread for more than a few ms.
 * <p>
 * <b>Why it is needed.</b> A vhost-user frontend shares the open file description of every eventfd it sends (call,
 * err): it can clear O_NONBLOCK after pagewire set it, and fill the counter to 0xfffffffffffffffe, and then a write
 * of 1 sleeps until someone reads the counter (eventfd(2)). Nothing cheap can rule that out beforehand: the flags
 * and the counter belong to the peer as much as to us and can change between any check and the write (poll(POLLOUT)
 * or fcntl(F_GETFL) first would race with the peer); the fd cannot be reopened as our own file description
 * (/proc/self/fd/N of an eventfd gives ENXIO); pwritev2(RWF_NOWAIT) on an eventfd is EOPNOTSUPP.
 * <p>
 * <b>What it does.</b> Each writing thread has a {@link Slot}; a guarded write marks the slot before the syscall
 * and clears it after (a release store and a CAS: no syscall, no allocation). A daemon thread wakes every
 * {@link #SCAN_PERIOD_NS} and looks at the slots; a write that is still the same write one scan later (so it has
 * lasted at least one period), by a thread that is not runnable (a preempted writer is not sleeping in write(2)),
 * gets {@link Signals#INTERRUPT_SIGNAL} sent to its thread (tgkill), repeated every period until the write returns.
 * The handler is installed without SA_RESTART, so the sleeping write returns EINTR; the writer treats EINTR as "this
 * fd was made blocking and filled: hostile" (a non-blocking write to an eventfd never sleeps, so it never returns
 * EINTR), stops writing to it, and its owner disconnects the peer.
 * <p>
 * <b>Why it is airtight.</b> The signal only ever reaches a thread while its slot says it is inside (or just around)
 * the guarded write: the watchdog moves the slot to KILLING with a CAS before tgkill and to KILLED after; the writer
 * leaves with a CAS from IN_WRITE to IDLE, and when that fails (the watchdog got there first) it waits out KILLING
 * and takes the signal off its pending set with sigtimedwait (zero timeout) if the handler has not run yet. So no
 * other syscall of that thread (a futex wait, a socket call) is ever interrupted by it. Delivery before the write
 * started (the thread was stopped between marking the slot and the syscall, e.g. at a safepoint) only runs the
 * harmless handler in user space; the next period signals again. A false positive costs nothing: a write that did
 * not sleep is not interrupted, whatever its duration.
 * <p>
 * <b>HotSpot.</b> The handler is a libc function, so the JVM never runs in signal context for it; HotSpot uses no
 * real-time signal, and a thread in a downcall is in native state, where a signal is what it is for any C program.
 * {@code PeerWriteWatchdogTest} checks that other threads (one sleeping, one blocked in an eventfd read) and the
 * interrupted thread carry on, and {@code VhostUserPeerFdProcessTest} that {@code pagewire run} does.
 */
public final class PeerWriteWatchdog
{
    /** How often the watchdog looks at the slots: a blocked write lasts at most about two periods. */
    public static final long SCAN_PERIOD_NS = 5_000_000L;

    private static final long IDLE = 0;
    private static final long IN_WRITE = 1;
    private static final long KILLING = 2;
    private static final long KILLED = 3;
    private static final long STATE_MASK = 3;

    private static final CopyOnWriteArrayList<Slot> SLOTS = new CopyOnWriteArrayList<>();
    private static final AtomicLong INTERRUPTS = new AtomicLong();
    private static final ThreadLocal<Slot> SLOT = ThreadLocal.withInitial(PeerWriteWatchdog::newSlot);
    private static final int PID;

    static
    {
        Signals.install();
        try (Arena arena = Arena.ofConfined())
        {
            PID = Signals.getpid(Libc.callState(arena));
        }
        final Thread watchdog = new Thread(PeerWriteWatchdog::run, "pagewire-peer-write-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private PeerWriteWatchdog()
    {
    }

    /**
     * @return writes to peers' descriptors interrupted so far, in this process (signals sent: a write that stays
     *         blocked, or a thread stopped before its write started, gets one per period). Control copies it into the
     *         process's counters file; the watchdog itself writes no counter: it outlives every forwarder (and its
     *         mapped counters file) in the JVM.
     */
    public static long interrupts()
    {
        return INTERRUPTS.get();
    }

    /**
     * Installs the signal handler and starts the watchdog thread, if that has not happened yet: called where peer
     * fds are taken ({@link EventFd#wrap}), so the first signal on the dataplane thread does not do it.
     */
    public static void start()
    {
        // The class initialiser does the work.
    }

    /**
     * @return the calling thread's slot, created on its first guarded write. Allocation-free after that.
     */
    static Slot slot()
    {
        return SLOT.get();
    }

    private static Slot newSlot()
    {
        final Slot slot = new Slot(Thread.currentThread());
        SLOTS.add(slot);
        return slot;
    }

    private static void run()
    {
        final MemorySegment state = Libc.callState(Arena.ofAuto());
        while (true)
        {
            LockSupport.parkNanos(SCAN_PERIOD_NS);
            for (final Slot slot : SLOTS)
            {
                if (!slot.thread.isAlive())
                {
                    SLOTS.remove(slot);
                    continue;
                }
                scan(slot, state);
            }
        }
    }

    private static void scan(final Slot slot, final MemorySegment state)
    {
        final long word = slot.word.get();
        final long phase = word & STATE_MASK;
        if ((phase == IN_WRITE || phase == KILLED) && word == slot.lastSeen && !runnable(slot.tid))
        {
            // The same write as one period ago, and the thread is not merely waiting for a CPU: interrupt it (again).
            final long sequence = word & ~STATE_MASK;
            if (slot.word.compareAndSet(word, sequence | KILLING))
            {
                final int tid = slot.tid;
                if (tid > 0 && Signals.tgkill(state, PID, tid) == 0)
                {
                    INTERRUPTS.incrementAndGet();
                }
                slot.word.set(sequence | KILLED);
                slot.lastSeen = sequence | KILLED;
                return;
            }
        }
        slot.lastSeen = slot.word.get();
    }

    /**
     * A thread that is running or waiting for a CPU (state R in /proc/self/task/TID/stat) is not sleeping in a write,
     * whatever its slot says: on a loaded machine a writer is often preempted for longer than a period between its
     * enter and exit. Signalling it would be harmless but would send it down the rare path for nothing. A write that
     * sleeps on a full eventfd or pipe is in state S (TASK_INTERRUPTIBLE), so it is still signalled; a state that
     * cannot be read counts as not runnable (signal: the safe side).
     *
     * @param tid a kernel thread id of this process.
     * @return whether that thread is running or runnable now. Allocates; the watchdog thread only.
     */
    static boolean runnable(final int tid)
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
            // "tid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
            final int close = stat.lastIndexOf(')');
            return close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'R';
        }
        catch (final IOException | RuntimeException e)
        {
            return false;
        }
    }

    /**
     * One thread's guard word: its write sequence number and where it is ({@code IDLE}, {@code IN_WRITE}, and the
     * watchdog's {@code KILLING}, {@code KILLED}). Only the owning thread calls {@link #enter()} and {@link #exit()}.
     */
    static final class Slot
    {
        private final Thread thread;
        private final boolean virtual;
        private final AtomicLong word = new AtomicLong();
        private final MemorySegment state;
        private final MemorySegment signalSet;
        private final MemorySegment zeroTimeout;
        private volatile int tid;
        private long sequence;
        /** Watchdog thread only. */
        private long lastSeen = -1;

        private Slot(final Thread thread)
        {
            this.thread = thread;
            this.virtual = thread.isVirtual();
            final Arena arena = Arena.ofAuto();
            state = Libc.callState(arena);
            signalSet = Signals.interruptSignalSet(arena);
            zeroTimeout = Signals.zeroTimeout(arena);
            tid = Signals.gettid(state);
            // Links the rare path's downcall now, rather than on the writing thread the first time it is taken.
            Signals.consumePending(state, signalSet, zeroTimeout);
        }

        /**
         * Marks the start of a write that may block. Allocation-free: a release store.
         */
        void enter()
        {
            if (virtual)
            {
                // A virtual thread may run on another carrier each time; during the downcall it stays pinned to it.
                tid = Signals.gettid(state);
            }
            word.setRelease((++sequence << 2) | IN_WRITE);
        }

        /**
         * Marks the end of the write. When the watchdog signalled it meanwhile, waits until the signal is sent and
         * takes it off this thread's pending set, so it cannot interrupt a later call.
         */
        void exit()
        {
            final long inWrite = (sequence << 2) | IN_WRITE;
            if (word.compareAndSet(inWrite, sequence << 2))
            {
                return;
            }
            while (true)
            {
                final long current = word.get();
                if ((current & STATE_MASK) == KILLING)
                {
                    // The watchdog is between its CAS and the end of tgkill: microseconds, unless it lost its CPU,
                    // maybe to this very thread (both on one allowed CPU): give the CPU up.
                    Thread.yield();
                    continue;
                }
                if (word.compareAndSet(current, (current & ~STATE_MASK) | IDLE))
                {
                    break;
                }
            }
            // Real-time signals queue: take every instance still pending (normally none: each is delivered at this
            // thread's next return to user space, where its handler does nothing).
            while (Signals.consumePending(state, signalSet, zeroTimeout))
            {
                Thread.onSpinWait();
            }
        }
    }
}
