package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A shared, read-write mapping of (part of) a file descriptor: {@code mmap(NULL, length, PROT_READ | PROT_WRITE,
 * MAP_SHARED, fd, offset)}. This is how guest memory regions received over vhost-user (memfd or hugetlbfs fds) and
 * memif regions become addressable; the fd may be closed once mapped, the mapping keeps the memory.
 * <p>
 * The memory is reached through {@link #address()} (raw, for Agrona buffers) or {@link #segment()}. Neither is
 * guarded after {@link #close()}: whoever closes a mapping must first make sure nothing still uses it.
 */
public final class Mapping implements AutoCloseable
{
    private final long address;
    private final long length;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Mapping(final long address, final long length)
    {
        this.address = address;
        this.length = length;
    }

    /**
     * Maps {@code [offset, offset + length)} of a file.
     *
     * @param fd     the file; it stays open and owned by the caller.
     * @param offset where in the file the mapping starts: a multiple of the page size (of the huge page size for
     *               hugetlbfs, which the kernel checks).
     * @param length bytes to map, > 0; the file should be at least {@code offset + length} long (touching pages
     *               beyond its end raises SIGBUS).
     * @return the mapping.
     * @throws IllegalArgumentException naming offset or length when one is unusable.
     * @throws OsException when mmap fails.
     */
    public static Mapping map(final int fd, final long offset, final long length)
    {
        if (offset < 0 || offset % Libc.PAGE_SIZE != 0)
        {
            throw new IllegalArgumentException(
                "offset=" + offset + ": must be a non-negative multiple of the page size " + Libc.PAGE_SIZE);
        }
        if (length <= 0)
        {
            throw new IllegalArgumentException("length=" + length + ": must be > 0");
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final long address = Libc.mmap(
                state, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, offset);
            if (address == Libc.MAP_FAILED)
            {
                throw new OsException(
                    "mmap(fd " + fd + ", offset " + offset + ", length " + length + ")", Libc.errno(state));
            }
            return new Mapping(address, length);
        }
    }

    /**
     * @return the address of the first mapped byte.
     */
    public long address()
    {
        return address;
    }

    /**
     * @return the number of mapped bytes.
     */
    public long length()
    {
        return length;
    }

    /**
     * @return the mapped bytes as a segment of {@link #length()} bytes (mmap's address reinterpreted), unchecked
     *         after {@link #close()} like {@link #address()}.
     */
    @SuppressWarnings("restricted") // the size is the one mmap was given
    public MemorySegment segment()
    {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }

    /**
     * Cuts the mapping loose from its file without giving up the address range: the same addresses are mapped again,
     * atomically ({@code MAP_FIXED}), to private anonymous zero pages. A thread that still reads through an address it
     * took earlier reads zeros, and its writes land in private pages nobody else sees, instead of faulting on an
     * unmapped page. The file's pages are released (the peer that shared them may go), the range stays reserved
     * until {@link #close()}. memif no longer uses it: its regions stay whole until no thread can read them (a frame
     * handed out zero-copy must stay the peer's real bytes, issue 12).
     *
     * @throws IllegalStateException when closed.
     * @throws OsException when mmap fails (the original mapping then stays as it was).
     */
    public void detach()
    {
        if (closed.get())
        {
            throw new IllegalStateException("detach of a closed mapping: " + this);
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final long result = Libc.mmapAt(state, address, length, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED | Libc.MAP_NORESERVE, -1, 0);
            if (result != address)
            {
                throw new OsException("mmap(MAP_FIXED anonymous over " + this + ")", Libc.errno(state));
            }
        }
    }

    /**
     * Unmaps; later calls do nothing.
     *
     * @throws OsException when munmap fails (it does not for a mapping made here).
     */
    @Override
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            if (Libc.munmap(state, address, length) != 0)
            {
                throw new OsException("munmap(" + length + " bytes)", Libc.errno(state));
            }
        }
    }

    @Override
    public String toString()
    {
        return "Mapping[0x" + Long.toHexString(address) + ", " + length + " bytes" + (closed.get() ? ", closed]" : "]");
    }
}
