package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * What a peer's memory fd is backed by, for deciding whether it is safe to map and to touch from a dataplane thread:
 * the file system it lives on ({@code fstatfs(2)}'s {@code f_type}), and a private duplicate of it that lets this
 * process check, after a fault, whether the file still backs its mapping ({@code fstat(2)}'s {@code st_size}).
 * <p>
 * Only memory-backed files are safe: a page fault on tmpfs/shmem (memfd, /dev/shm) or hugetlbfs is served from RAM or
 * fails at once (SIGBUS), while a fault on a FUSE or network file waits for a server the peer may control, and would
 * stall the dataplane thread forever. None of this is on the data path; each call allocates its call state.
 */
public final class MemoryFiles
{
    /** {@code TMPFS_MAGIC} (linux/magic.h): tmpfs, /dev/shm, and the internal shmem mount memfds live on. */
    public static final long TMPFS_MAGIC = 0x01021994L;
    /** {@code HUGETLBFS_MAGIC} (linux/magic.h): hugetlbfs, and memfds created with MFD_HUGETLB. */
    public static final long HUGETLBFS_MAGIC = 0x958458f6L;

    /** {@code F_DUPFD_CLOEXEC} (fcntl.h). */
    private static final int F_DUPFD_CLOEXEC = 1030;
    /** {@code sizeof(struct statfs)} on Linux x86_64 is 120; room for more. */
    private static final long STATFS_SIZE = 128;
    /** {@code f_type}, a {@code __fsword_t} (long) at offset 0 of {@code struct statfs} on x86_64. */
    private static final long STATFS_F_TYPE = 0;

    private static final MethodHandle FSTATFS;

    static
    {
        final Linker linker = Linker.nativeLinker();
        FSTATFS = downcall(linker, "fstatfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }

    private MemoryFiles()
    {
    }

    @SuppressWarnings("restricted") // as Libc: native access is granted to the whole JVM
    private static MethodHandle downcall(final Linker linker, final String name, final FunctionDescriptor descriptor)
    {
        final MemorySegment address = linker.defaultLookup().find(name)
            .orElseThrow(() -> new UnsupportedOperationException("libc has no " + name));
        return linker.downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"));
    }

    /**
     * @param fd any descriptor.
     * @return the magic number of the file system it lives on ({@code fstatfs(2)} {@code f_type}), e.g.
     *         {@link #TMPFS_MAGIC}.
     * @throws OsException when fstatfs fails.
     */
    public static long fileSystemType(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment statfs = arena.allocate(STATFS_SIZE, 8);
            final int result;
            try
            {
                result = (int)FSTATFS.invokeExact(state, fd, statfs);
            }
            catch (final Throwable t)
            {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
            if (result != 0)
            {
                throw new OsException("fstatfs(" + fd + ")", Libc.errno(state));
            }
            return statfs.get(ValueLayout.JAVA_LONG, STATFS_F_TYPE);
        }
    }

    /**
     * @param fileSystemType a {@code f_type} from {@link #fileSystemType(int)}.
     * @return whether faults on a file there are served from memory (tmpfs/shmem or hugetlbfs): never a wait on I/O.
     */
    public static boolean isMemoryBacked(final long fileSystemType)
    {
        return fileSystemType == TMPFS_MAGIC || fileSystemType == HUGETLBFS_MAGIC;
    }

    /**
     * @param fileSystemType a {@code f_type}.
     * @return its name for messages: "tmpfs", "hugetlbfs", a few well-known others, or the magic in hex.
     */
    public static String describe(final long fileSystemType)
    {
        final String name;
        if (fileSystemType == TMPFS_MAGIC)
        {
            name = "tmpfs";
        }
        else if (fileSystemType == HUGETLBFS_MAGIC)
        {
            name = "hugetlbfs";
        }
        else if (fileSystemType == 0x65735546L)
        {
            name = "fuse";
        }
        else if (fileSystemType == 0x6969L)
        {
            name = "nfs";
        }
        else if (fileSystemType == 0xEF53L)
        {
            name = "ext4";
        }
        else if (fileSystemType == 0x58465342L)
        {
            name = "xfs";
        }
        else if (fileSystemType == 0x9123683EL)
        {
            name = "btrfs";
        }
        else if (fileSystemType == 0x794C7630L)
        {
            name = "overlayfs";
        }
        else
        {
            name = null;
        }
        final String magic = "0x" + Long.toHexString(fileSystemType);
        return name == null ? "file system magic " + magic : name + " (magic " + magic + ")";
    }

    /**
     * @param fd any descriptor.
     * @return a new descriptor of the same open file, close-on-exec; the caller owns it.
     * @throws OsException when fcntl(F_DUPFD_CLOEXEC) fails (EMFILE).
     */
    public static int duplicate(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final int copy = Libc.fcntl(state, fd, F_DUPFD_CLOEXEC, 0);
            if (copy < 0)
            {
                throw new OsException("fcntl(" + fd + ", F_DUPFD_CLOEXEC)", Libc.errno(state));
            }
            return copy;
        }
    }

    /**
     * Sets a file's size ({@code ftruncate(2)}): what a frontend does to its own memory; tests use it to shrink memory
     * under a mapping, as a hostile frontend would.
     *
     * @param fd   the file.
     * @param size its new size in bytes.
     * @throws OsException when ftruncate fails (EPERM: sealed against shrinking or growing).
     */
    public static void truncate(final int fd, final long size)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            if (Libc.ftruncate(state, fd, size) != 0)
            {
                throw new OsException("ftruncate(" + fd + ", " + size + ")", Libc.errno(state));
            }
        }
    }

    /**
     * Whether a file still backs a mapping of its first {@code end} bytes: a peer that shrank it (ftruncate) makes
     * every access beyond the new end a SIGBUS.
     *
     * @param fd  the file (a duplicate kept for this check).
     * @param end the end of the mapped range in the file (mmap offset + length).
     * @return whether the file is still at least {@code end} bytes long; false also when fstat fails.
     */
    public static boolean backs(final int fd, final long end)
    {
        try
        {
            return Fds.size(fd) >= end;
        }
        catch (final RuntimeException e)
        {
            return false;
        }
    }
}
