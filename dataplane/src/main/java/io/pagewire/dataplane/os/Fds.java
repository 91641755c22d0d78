package io.pagewire.dataplane.os;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Plain file descriptor helpers: close, size, memfd. None is on the data path; each allocates its call state.
 */
public final class Fds
{
    private Fds()
    {
    }

    /**
     * Closes a file descriptor.
     * <p>
     * EINTR is not retried and not reported: on Linux the descriptor is released before close(2) can be interrupted,
     * and a retry could close a descriptor another thread has just been given under the same number.
     *
     * @param fd the descriptor.
     * @throws OsException when close fails otherwise, for example EBADF for a descriptor that is not open.
     */
    public static void close(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            if (Libc.close(state, fd) != 0)
            {
                final int errno = Libc.errno(state);
                if (errno != Libc.EINTR)
                {
                    throw new OsException("close(" + fd + ")", errno);
                }
            }
        }
    }

    /**
     * Closes a file descriptor on a cleanup path, where a failure must not hide the error being cleaned up after.
     *
     * @param fd the descriptor; negative values are ignored.
     */
    public static void closeQuietly(final int fd)
    {
        if (fd < 0)
        {
            return;
        }
        try
        {
            close(fd);
        }
        catch (final RuntimeException ignored)
        {
            // Cleanup path: the descriptor is as closed as it will get.
        }
    }

    /**
     * @param fd a descriptor of a file, memfd or hugetlbfs file.
     * @return its size in bytes ({@code st_size} of fstat(2)).
     * @throws OsException when fstat fails.
     */
    public static long size(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            return fstat(arena, fd).get(ValueLayout.JAVA_LONG, LinuxStructs.STAT_ST_SIZE);
        }
    }

    /**
     * Creates an anonymous shared-memory file of the given size, as a vhost-user frontend does for guest memory.
     *
     * @param name a name for debugging (shows in /proc/self/fd as {@code /memfd:name}).
     * @param size its size in bytes, zero-filled.
     * @return the descriptor, close-on-exec; the caller owns it.
     * @throws OsException when memfd_create or ftruncate fails (the descriptor is closed in the second case).
     */
    public static int memfdCreate(final String name, final long size)
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size=" + size + ": must be >= 0");
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final int fd = Libc.memfdCreate(state, arena.allocateFrom(name), Libc.MFD_CLOEXEC);
            if (fd < 0)
            {
                throw new OsException("memfd_create(" + name + ")", Libc.errno(state));
            }
            if (Libc.ftruncate(state, fd, size) != 0)
            {
                final int errno = Libc.errno(state);
                closeQuietly(fd);
                throw new OsException("ftruncate(memfd " + name + ", " + size + ")", errno);
            }
            return fd;
        }
    }

    /** {@code F_SEAL_SHRINK}: the file cannot be made smaller (see {@link #seals}). */
    public static final int SEAL_SHRINK = Libc.F_SEAL_SHRINK;

    /**
     * Creates an anonymous shared-memory file that can never shrink ({@code MFD_ALLOW_SEALING}, then
     * {@code F_SEAL_SHRINK}), as memif regions are: a peer holding the fd cannot truncate it under this process's
     * mapping, which would make the next access a SIGBUS.
     *
     * @param name a name for debugging ({@code /memfd:name}).
     * @param size its size in bytes, zero-filled.
     * @return the descriptor, close-on-exec; the caller owns it.
     * @throws OsException when memfd_create, ftruncate or fcntl fails (the descriptor is closed then).
     */
    public static int memfdCreateSealed(final String name, final long size)
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size=" + size + ": must be >= 0");
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final int fd = Libc.memfdCreate(state, arena.allocateFrom(name), Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
            if (fd < 0)
            {
                throw new OsException("memfd_create(" + name + ")", Libc.errno(state));
            }
            // Size first: the seal forbids shrinking, growing from 0 stays allowed, but ordering it this way keeps
            // the file at its final size before anyone can see it.
            if (Libc.ftruncate(state, fd, size) != 0)
            {
                final int errno = Libc.errno(state);
                closeQuietly(fd);
                throw new OsException("ftruncate(memfd " + name + ", " + size + ")", errno);
            }
            if (Libc.fcntl(state, fd, Libc.F_ADD_SEALS, Libc.F_SEAL_SHRINK) != 0)
            {
                final int errno = Libc.errno(state);
                closeQuietly(fd);
                throw new OsException("fcntl(memfd " + name + ", F_ADD_SEALS, F_SEAL_SHRINK)", errno);
            }
            return fd;
        }
    }

    /**
     * @param fd any descriptor.
     * @return its seals ({@code fcntl(F_GET_SEALS)}, e.g. {@link #SEAL_SHRINK}), or -1 when the file cannot carry
     *         seals (not a memfd or shmem file: EINVAL).
     * @throws OsException when fcntl fails otherwise (EBADF).
     */
    public static int seals(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final int seals = Libc.fcntl(state, fd, Libc.F_GET_SEALS);
            if (seals < 0)
            {
                final int errno = Libc.errno(state);
                if (errno == Libc.EINVAL)
                {
                    return -1;
                }
                throw new OsException("fcntl(" + fd + ", F_GET_SEALS)", errno);
            }
            return seals;
        }
    }

    /**
     * @param fd any descriptor.
     * @return whether it is a regular file (a memfd is one; sockets, pipes, eventfds are not).
     * @throws OsException when fstat fails.
     */
    public static boolean isRegularFile(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            return (fstat(arena, fd).get(ValueLayout.JAVA_INT, LinuxStructs.STAT_ST_MODE) & Libc.S_IFMT) ==
                Libc.S_IFREG;
        }
    }

    /**
     * @param arena where the struct stat is allocated.
     * @param fd    any descriptor.
     * @return its struct stat (fstat(2)), read with the {@code LinuxStructs.STAT_*} offsets.
     * @throws OsException when fstat fails.
     */
    private static MemorySegment fstat(final Arena arena, final int fd)
    {
        final MemorySegment state = Libc.callState(arena);
        final MemorySegment stat = arena.allocate(LinuxStructs.STAT_SIZE, 8);
        if (Libc.fstat(state, fd, stat) != 0)
        {
            throw new OsException("fstat(" + fd + ")", Libc.errno(state));
        }
        return stat;
    }

    /**
     * @return the number of entries in /proc/self/fd, for leak checks in tests. Listing the directory opens one
     *         descriptor, which is counted, the same way on every call.
     */
    public static int openFdCount()
    {
        final String[] entries = new File("/proc/self/fd").list();
        if (entries == null)
        {
            throw new IllegalStateException("cannot list /proc/self/fd (is /proc mounted?)");
        }
        return entries.length;
    }
}
