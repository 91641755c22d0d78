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
 */
public final class EventFd implements AutoCloseable
{
    private static final long COUNTER_BYTES = 8;

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MemorySegment signalValue;
    private final MemorySegment signalState;
    private final MemorySegment drainValue;
    private final MemorySegment drainState;

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
     * If it is blocking, it is made non-blocking ({@code O_NONBLOCK}) so {@link #drain()} never blocks; the flag
     * belongs to the open file description, which the peer shares, but eventfd peers (QEMU, DPDK) use non-blocking
     * eventfds themselves.
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
        final String target;
        try
        {
            target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            // No /proc to ask (or fd not open, which fcntl then reports with its errno).
            return;
        }
        if (!"anon_inode:[eventfd]".equals(target))
        {
            throw new IllegalArgumentException("fd " + fd + " is not an eventfd: it is " + target);
        }
    }

    /**
     * @return the descriptor, to pass to a peer (it stays owned by this object).
     */
    public int fd()
    {
        return fd;
    }

    /**
     * Adds 1 to the counter, waking whoever polls the fd. Allocation-free; safe from any thread.
     * A full counter (EAGAIN: the reader is 2^64 - 2 signals behind) already means "pending", so it is ignored.
     *
     * @throws OsException when write fails otherwise.
     */
    public void signal()
    {
        checkOpen();
        while (true)
        {
            final long written = Libc.write(signalState, fd, signalValue, COUNTER_BYTES);
            if (written == COUNTER_BYTES)
            {
                return;
            }
            final int errno = Libc.errno(signalState);
            if (errno == Libc.EAGAIN)
            {
                return;
            }
            if (errno != Libc.EINTR)
            {
                throw new OsException("write(eventfd " + fd + ")", errno);
            }
        }
    }

    /**
     * Reads and resets the counter. Allocation-free.
     *
     * @return the number of signals since the last drain, 0 when none is pending.
     * @throws OsException when read fails otherwise.
     */
    public long drain()
    {
        checkOpen();
        while (true)
        {
            final long read = Libc.read(drainState, fd, drainValue, COUNTER_BYTES);
            if (read == COUNTER_BYTES)
            {
                return drainValue.get(ValueLayout.JAVA_LONG, 0);
            }
            final int errno = Libc.errno(drainState);
            if (errno == Libc.EAGAIN)
            {
                return 0;
            }
            if (errno != Libc.EINTR)
            {
                throw new OsException("read(eventfd " + fd + ")", errno);
            }
        }
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
