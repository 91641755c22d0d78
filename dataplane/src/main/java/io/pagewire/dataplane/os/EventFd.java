package io.pagewire.dataplane.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An eventfd(2): the vhost-user kick (driver → device) and call (device → driver) notifications, and the vring error
 * fd. {@link #signal()} adds 1 to the counter, {@link #drain()} reads and resets it.
 * <p>
 * {@link #signal()} and {@link #drain()} allocate nothing: each has its own 8-byte buffer and errno call state,
 * allocated with the object, so one thread may signal while another drains (the dataplane signals a call fd while
 * control may drain it, or the reverse for a kick fd). The descriptor is non-blocking: a drain with nothing pending
 * returns 0 rather than blocking.
 * <p>
 * A peer that shares the descriptor can make it blocking again and fill or empty the counter; neither call then
 * blocks for longer than {@link PeerWriteWatchdog} allows, and the eventfd reports itself {@link #blocked()}: its
 * owner counts that and drops the peer.
 */
public final class EventFd implements AutoCloseable
{
    private static final long COUNTER_BYTES = 8;
    private static final String EVENTFD_LINK = "anon_inode:[eventfd]";

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MemorySegment signalValue;
    private final MemorySegment signalState;
    private final MemorySegment drainValue;
    private final MemorySegment drainState;
    /** Set by the thread whose write or read was interrupted; read by any. */
    private volatile boolean blocked;

    private EventFd(final int fd)
    {
        this.fd = fd;
        // An automatic arena: the buffers live as long as this object, and may be used from any thread.
        final Arena arena = Arena.ofAuto();
        signalValue = arena.allocate(ValueLayout.JAVA_LONG);
        signalValue.set(ValueLayout.JAVA_LONG, 0, 1L);
        signalState = Libc.callState(arena);
        drainValue = arena.allocate(ValueLayout.JAVA_LONG);
        drainState = Libc.callState(arena);
    }

    /**
     * @return a new eventfd with counter 0, {@code EFD_NONBLOCK | EFD_CLOEXEC}.
     * @throws OsException when eventfd fails (EMFILE, ENFILE, ENOMEM).
     */
    public static EventFd create()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final int fd = Libc.eventfd(state, 0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
            if (fd < 0)
            {
                throw new OsException("eventfd", Libc.errno(state));
            }
            return new EventFd(fd);
        }
    }

    /**
     * Takes ownership of an eventfd received from a peer (for example a vhost-user {@code SET_VRING_KICK} fd).
     * <p>
     * If it is blocking, it is made non-blocking ({@code O_NONBLOCK}) so that {@link #drain()} on an empty counter
     * and {@link #signal()} on a full one return at once. The flag belongs to the open file description, which the
     * peer shares and may clear again: {@link PeerWriteWatchdog} is the backstop for that.
     * <p>
     * Anything but an eventfd is refused (/proc/self/fd/N must read {@code anon_inode:[eventfd]}), as Linux vhost
     * refuses it (eventfd_ctx_fdget): a pipe or socket would make "one write of 8 bytes" mean something else.
     *
     * @param fd an eventfd descriptor; closed by this object from now on, also when this method throws.
     * @return the wrapper.
     * @throws IllegalArgumentException when /proc shows that fd is not an eventfd.
     * @throws OsException              when its flags cannot be read or set.
     */
    public static EventFd wrap(final int fd)
    {
        try
        {
            checkIsEventFd(fd);
            PeerWriteWatchdog.start();
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment state = Libc.callState(arena);
                final int flags = Libc.fcntlGetFlags(state, fd);
                if (flags < 0)
                {
                    throw new OsException("fcntl(" + fd + ", F_GETFL)", Libc.errno(state));
                }
                if ((flags & Libc.O_NONBLOCK) == 0 && Libc.fcntlSetFlags(state, fd, flags | Libc.O_NONBLOCK) != 0)
                {
                    throw new OsException("fcntl(" + fd + ", F_SETFL, O_NONBLOCK)", Libc.errno(state));
                }
            }
            return new EventFd(fd);
        }
        catch (final RuntimeException e)
        {
            Fds.closeQuietly(fd);
            throw e;
        }
    }

    private static void checkIsEventFd(final int fd)
    {
        if (!isEventFd(fd))
        {
            throw new IllegalArgumentException("fd " + fd + " is not an eventfd: it is " + describe(fd));
        }
    }

    /**
     * @param fd any descriptor of this process.
     * @return whether /proc/self/fd/N shows it is an eventfd ({@code anon_inode:[eventfd]}); false when it is
     *         something else, not open, or /proc cannot say.
     */
    public static boolean isEventFd(final int fd)
    {
        return EVENTFD_LINK.equals(describe(fd));
    }

    /**
     * @param fd any descriptor of this process.
     * @return what /proc/self/fd/N links to ({@code pipe:[1234]}, {@code /memfd:name}, ...), or why that cannot be
     *         read; for messages.
     */
    public static String describe(final int fd)
    {
        try
        {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            // Not open, or no /proc to ask: what cannot be shown to be an eventfd is not taken for one.
            return "unknown (/proc/self/fd/" + fd + " cannot be read: " + e + ")";
        }
    }

    /**
     * @return the descriptor, to pass to a peer (it stays owned by this object).
     */
    public int fd()
    {
        return fd;
    }

    /** {@link #signal()}: the counter went up by 1. */
    public static final int SIGNALLED = 0;
    /**
     * {@link #signal()}: the counter is full (EAGAIN: at 0xfffffffffffffffe, the reader is 2^64 - 2 signals behind),
     * so a notification is pending already; nothing was written. Only a peer that filled the counter causes this.
     */
    public static final int FULL = 1;
    /**
     * {@link #signal()}: the write slept (the peer cleared O_NONBLOCK on the shared file description and filled the
     * counter) and {@link PeerWriteWatchdog} interrupted it; nothing was written, and this eventfd is
     * {@link #blocked()} from now on.
     */
    public static final int BLOCKED = 2;
    /** {@link #signal()}: not attempted, because an earlier write {@link #BLOCKED}. */
    public static final int SKIPPED = 3;

    /**
     * Adds 1 to the counter, waking whoever polls the fd. Allocation-free; safe from any thread; never blocks for
     * more than about two {@link PeerWriteWatchdog#SCAN_PERIOD_NS} periods, whatever the peer did to the fd.
     * <p>
     * One write(2) per call: O_NONBLOCK, set by {@link #wrap}, makes a full counter an EAGAIN ({@link #FULL}); if the
     * peer cleared O_NONBLOCK, the write is guarded by {@link PeerWriteWatchdog}, which interrupts it when it sleeps
     * ({@link #BLOCKED}); after that the fd is not written again ({@link #SKIPPED}).
     *
     * @return {@link #SIGNALLED}, {@link #FULL}, {@link #BLOCKED} or {@link #SKIPPED}.
     * @throws OsException when write fails otherwise.
     */
    public int signal()
    {
        checkOpen();
        if (blocked)
        {
            return SKIPPED;
        }
        final PeerWriteWatchdog.Slot slot = PeerWriteWatchdog.slot();
        final long written;
        try
        {
            slot.enter();
            written = Libc.write(signalState, fd, signalValue, COUNTER_BYTES);
        }
        finally
        {
            // Also when an asynchronous error (a memory fault of the dataplane's, delivered as the call returns)
            // leaves the write: a slot left "in write" would be signalled outside any write.
            slot.exit();
        }
        if (written == COUNTER_BYTES)
        {
            return SIGNALLED;
        }
        final int errno = Libc.errno(signalState);
        if (errno == Libc.EAGAIN)
        {
            return FULL;
        }
        if (errno == Libc.EINTR)
        {
            // Only a write that slept returns EINTR, and a write to an eventfd sleeps only when the fd is blocking
            // and the counter full: the peer did both. Not retried: it would sleep again.
            blocked = true;
            return BLOCKED;
        }
        throw new OsException("write(eventfd " + fd + ")", errno);
    }

    /**
     * @return whether a write or read of this eventfd slept and was interrupted: the peer made it blocking and
     *         filled (or emptied) it. It is not written or read again.
     */
    public boolean blocked()
    {
        return blocked;
    }

    /**
     * Reads and resets the counter. Allocation-free; guarded like {@link #signal()}: a read that sleeps (a peer
     * cleared O_NONBLOCK and nothing is pending) is interrupted, marks the eventfd {@link #blocked()} and returns 0.
     *
     * @return the number of signals since the last drain, 0 when none is pending (or the eventfd is blocked).
     * @throws OsException when read fails otherwise.
     */
    public long drain()
    {
        checkOpen();
        if (blocked)
        {
            return 0;
        }
        final PeerWriteWatchdog.Slot slot = PeerWriteWatchdog.slot();
        final long read;
        try
        {
            slot.enter();
            read = Libc.read(drainState, fd, drainValue, COUNTER_BYTES);
        }
        finally
        {
            slot.exit();
        }
        if (read == COUNTER_BYTES)
        {
            return drainValue.get(ValueLayout.JAVA_LONG, 0);
        }
        final int errno = Libc.errno(drainState);
        if (errno == Libc.EAGAIN)
        {
            return 0;
        }
        if (errno == Libc.EINTR)
        {
            blocked = true;
            return 0;
        }
        throw new OsException("read(eventfd " + fd + ")", errno);
    }

    /**
     * Closes the descriptor; later calls do nothing. No thread may be inside {@link #signal()} or {@link #drain()}.
     */
    @Override
    public void close()
    {
        if (closed.compareAndSet(false, true))
        {
            Fds.close(fd);
        }
    }

    private void checkOpen()
    {
        if (closed.get())
        {
            throw new IllegalStateException("eventfd " + fd + " is closed");
        }
    }

    @Override
    public String toString()
    {
        return "EventFd[" + fd + (closed.get() ? ", closed]" : "]");
    }
}
