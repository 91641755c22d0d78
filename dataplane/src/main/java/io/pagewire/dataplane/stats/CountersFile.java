package io.pagewire.dataplane.stats;

import org.agrona.IoUtil;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.ConcurrentCountersManager;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.agrona.concurrent.status.CountersReader.COUNTER_LENGTH;
import static org.agrona.concurrent.status.CountersReader.METADATA_LENGTH;

/**
 * The counters of one forwarder in a memory-mapped file, so that {@code pagewire stat} in another process reads
 * them while the forwarder runs (the idea of Aeron's CnC file). The owner {@link #create creates} the file and
 * allocates counters through {@link #manager()}; readers {@link #attach attach} to it read-only and see the same
 * memory through {@link #reader()}.
 * <p>
 * Layout: a header, then an Agrona {@link CountersReader} metadata buffer and values buffer. Header fields are in the
 * host's native byte order (the file never leaves the host), as are Agrona's buffers.
 * <pre>
 *   0                   8           12          16                      24                      32          36     40
 *   +-------------------+-----------+-----------+-----------------------+-----------------------+-----------+------+
 *   | magic "pagewire"  | version   | header    | pid (i64)             | start time ms (i64,   | metadata  |values|
 *   | (u64)             | (i32)     | length    |                       | epoch)                | length    |length|
 *   +-------------------+-----------+-----------+-----------------------+-----------------------+-----------+------+
 *   | reserved, zero, up to HEADER_LENGTH (128)                                                                    |
 *   +--------------------------------------------------------------------------------------------------------------+
 *   | metadata buffer: maxCounters records of METADATA_LENGTH (512) bytes: state, type id, key, label              |
 *   +--------------------------------------------------------------------------------------------------------------+
 *   | values buffer: maxCounters records of COUNTER_LENGTH (128) bytes: value, registration/owner/reference ids    |
 *   +--------------------------------------------------------------------------------------------------------------+
 * </pre>
 * Publication: the owner sizes and zero-fills the file, writes every header field, then writes {@code version} with a
 * volatile store; a reader loads {@code version} first with a volatile load, so a non-zero version means the rest of
 * the header is complete. Version 0 with magic 0 is a file still being created. Counters themselves are published
 * one by one by Agrona (record state written last, with release semantics).
 * <p>
 * Threading: values are written by their single writer (the dataplane) through {@code AtomicCounter}s; counters are
 * allocated and freed through {@link #manager()}, which is a {@link ConcurrentCountersManager} so control and
 * dataplane may both allocate. {@link #close()} unmaps the file: nothing may touch a counter of it afterwards (that
 * would be a fault outside the Java heap), so close it only after the dataplane has stopped.
 */
public final class CountersFile implements AutoCloseable
{
    /** The 8 bytes "pagewire" read as a little-endian u64. */
    public static final long MAGIC = 0x6572_6977_6567_6170L;
    /** Layout version this code writes and reads. */
    public static final int VERSION = 1;

    /** Offset of the magic (u64). */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the version (i32); written last, volatile; 0 while the file is being created. */
    public static final int VERSION_OFFSET = 8;
    /** Offset of the header length (i32). */
    public static final int HEADER_LENGTH_OFFSET = 12;
    /** Offset of the owner's process id (i64). */
    public static final int PID_OFFSET = 16;
    /** Offset of the owner's start time (i64, ms since the epoch). */
    public static final int START_TIME_MS_OFFSET = 24;
    /** Offset of the metadata buffer length in bytes (i32). */
    public static final int METADATA_LENGTH_OFFSET = 32;
    /** Offset of the values buffer length in bytes (i32). */
    public static final int VALUES_LENGTH_OFFSET = 36;
    /** Length of the header; the metadata buffer starts here, aligned for Agrona (values must be 8-aligned). */
    public static final int HEADER_LENGTH = 128;

    /** Most counters a file may hold (640 MiB of file): keeps every length an int. */
    public static final int MAX_COUNTERS = 1 << 20;
    /** How long a freed counter id stays unused, so a reader does not see one counter turn into another. */
    public static final long FREE_TO_REUSE_TIMEOUT_MS = 1_000;

    private static final int ZERO_FILL_CHUNK = 64 * 1024;

    private final Path file;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final CountersReader reader;
    private final CountersManager manager;
    private boolean closed;

    private CountersFile(
        final Path file,
        final MappedByteBuffer mapped,
        final UnsafeBuffer header,
        final CountersReader reader,
        final CountersManager manager)
    {
        this.file = file;
        this.mapped = mapped;
        this.header = header;
        this.reader = reader;
        this.manager = manager;
    }

    /**
     * @param maxCounters how many counters the file holds.
     * @return the length of a file holding {@code maxCounters} counters.
     */
    public static long fileLength(final int maxCounters)
    {
        return HEADER_LENGTH + (long)maxCounters * (METADATA_LENGTH + COUNTER_LENGTH);
    }

    /**
     * Creates the file (replacing one left at the same path), owned by this process, readable and writable by its
     * user only, and maps it. Its pages are allocated now, so a full {@code /dev/shm} fails here with an exception
     * rather than later with a fault.
     *
     * @param file        where to create it; its directory must exist.
     * @param maxCounters how many counters it holds, 1..{@value #MAX_COUNTERS}.
     * @return the owner's view: {@link #manager()} allocates counters.
     * @throws IllegalArgumentException if {@code maxCounters} is out of range.
     * @throws UncheckedIOException     if the file cannot be created or sized.
     */
    public static CountersFile create(final Path file, final int maxCounters)
    {
        if (maxCounters < 1 || maxCounters > MAX_COUNTERS)
        {
            throw new IllegalArgumentException("maxCounters=" + maxCounters + ": must be in 1.." + MAX_COUNTERS);
        }
        final int metadataLength = maxCounters * METADATA_LENGTH;
        final int valuesLength = maxCounters * COUNTER_LENGTH;
        final long fileLength = fileLength(maxCounters);

        final MappedByteBuffer mapped;
        try
        {
            // Unlink, never truncate: a reader still mapping an old file keeps its pages; truncating them would
            // fault that reader.
            Files.deleteIfExists(file);
            final Set<OpenOption> options =
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
            try (FileChannel channel = FileChannel.open(file, options, ownerOnly(file)))
            {
                zeroFill(channel, fileLength);
                mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, fileLength);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create counters file " + file + ": " + ex.getMessage(), ex);
        }

        final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
        header.putLong(MAGIC_OFFSET, MAGIC);
        header.putInt(HEADER_LENGTH_OFFSET, HEADER_LENGTH);
        header.putLong(PID_OFFSET, ProcessHandle.current().pid());
        header.putLong(START_TIME_MS_OFFSET, System.currentTimeMillis());
        header.putInt(METADATA_LENGTH_OFFSET, metadataLength);
        header.putInt(VALUES_LENGTH_OFFSET, valuesLength);
        // Release: a reader that loads a non-zero version (volatile) sees every header field above.
        header.putIntVolatile(VERSION_OFFSET, VERSION);

        final CountersManager manager = new ConcurrentCountersManager(
            new UnsafeBuffer(mapped, HEADER_LENGTH, metadataLength),
            new UnsafeBuffer(mapped, HEADER_LENGTH + metadataLength, valuesLength),
            StandardCharsets.UTF_8,
            SystemEpochClock.INSTANCE,
            FREE_TO_REUSE_TIMEOUT_MS);
        return new CountersFile(file, mapped, header, manager, manager);
    }

    /**
     * Maps an existing counters file read-only, as {@code pagewire stat} does from another process, and checks that it
     * is a complete pagewire counters file of this version.
     *
     * @param file the file a forwarder created.
     * @return a reader's view: {@link #reader()}, {@link #pid()}, {@link #startTimeMs()}.
     * @throws CountersFileException with a one-line message naming the file if it is missing, unreadable, empty,
     *                               truncated, still being created, of another version, or not a counters file.
     */
    public static CountersFile attach(final Path file)
    {
        final MappedByteBuffer mapped;
        final long size;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            size = channel.size();
            if (size < HEADER_LENGTH)
            {
                throw invalid(file, 0 == size ?
                    "empty: the forwarder is still creating it, or died doing so" :
                    "truncated: " + size + " bytes, shorter than its " + HEADER_LENGTH + "-byte header");
            }
            if (size > fileLength(MAX_COUNTERS))
            {
                throw invalid(file, size + " bytes, more than any counters file (" + fileLength(MAX_COUNTERS) + ")");
            }
            mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        catch (final NoSuchFileException ex)
        {
            throw invalid(file, "does not exist");
        }
        catch (final AccessDeniedException ex)
        {
            throw invalid(file, "permission denied (is it another user's forwarder?)");
        }
        catch (final IOException ex)
        {
            throw new CountersFileException("counters file " + file + ": cannot be read: " + ex.getMessage(), ex);
        }

        try
        {
            return attach(file, mapped, size);
        }
        catch (final RuntimeException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    private static CountersFile attach(final Path file, final MappedByteBuffer mapped, final long size)
    {
        final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
        // Acquire: pairs with the owner's volatile store of the version, written after the rest of the header.
        final int version = header.getIntVolatile(VERSION_OFFSET);
        final long magic = header.getLong(MAGIC_OFFSET);
        if (0 == version && (0 == magic || MAGIC == magic))
        {
            throw invalid(file, "not ready: the forwarder is still creating it, or died doing so");
        }
        if (MAGIC != magic)
        {
            throw invalid(file, "not a pagewire counters file (magic 0x" + Long.toHexString(magic) +
                ", expected 0x" + Long.toHexString(MAGIC) + ")");
        }
        if (VERSION != version)
        {
            throw invalid(file, "layout version " + version + ", this pagewire reads version " + VERSION);
        }
        final int headerLength = header.getInt(HEADER_LENGTH_OFFSET);
        if (HEADER_LENGTH != headerLength)
        {
            throw invalid(file, "header length " + headerLength + ", expected " + HEADER_LENGTH);
        }
        final int metadataLength = header.getInt(METADATA_LENGTH_OFFSET);
        final int valuesLength = header.getInt(VALUES_LENGTH_OFFSET);
        if (valuesLength <= 0 || 0 != valuesLength % COUNTER_LENGTH)
        {
            throw invalid(file, "values buffer length " + valuesLength + " is not a positive multiple of " +
                COUNTER_LENGTH);
        }
        if ((long)metadataLength != (long)valuesLength * (METADATA_LENGTH / COUNTER_LENGTH))
        {
            throw invalid(file, "metadata buffer length " + metadataLength + " does not match values buffer length " +
                valuesLength);
        }
        final long expected = (long)HEADER_LENGTH + metadataLength + valuesLength;
        if (size != expected)
        {
            throw invalid(file, (size < expected ? "truncated: " : "wrong size: ") + size + " bytes, its header says " +
                expected);
        }

        final CountersReader reader = new CountersReader(
            new UnsafeBuffer(mapped, HEADER_LENGTH, metadataLength),
            new UnsafeBuffer(mapped, HEADER_LENGTH + metadataLength, valuesLength),
            StandardCharsets.UTF_8);
        return new CountersFile(file, mapped, header, reader, null);
    }

    /**
     * @return where the file is.
     */
    public Path file()
    {
        return file;
    }

    /**
     * @return true for the view {@link #create} returned, false for one {@link #attach} returned.
     */
    public boolean isOwner()
    {
        return null != manager;
    }

    /**
     * @return the manager that allocates and frees counters in this file (the owner's view only).
     * @throws IllegalStateException on an attached, read-only view.
     */
    public CountersManager manager()
    {
        if (null == manager)
        {
            throw new IllegalStateException("counters file " + file + " is attached read-only: no manager");
        }
        return manager;
    }

    /**
     * @return a reader over this file's counters (on the owner's view, the manager itself).
     */
    public CountersReader reader()
    {
        return reader;
    }

    /**
     * @return how many counters the file holds.
     */
    public int maxCounters()
    {
        return reader.maxCounterId() + 1;
    }

    /**
     * @return the process id of the forwarder that created the file.
     */
    public long pid()
    {
        return header.getLong(PID_OFFSET);
    }

    /**
     * @return when the forwarder created the file, in ms since the epoch.
     */
    public long startTimeMs()
    {
        return header.getLong(START_TIME_MS_OFFSET);
    }

    /**
     * @return true once {@link #close()} ran.
     */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * Unmaps the file; the file stays. Idempotent. Every counter, reader and manager of this file is unusable
     * afterwards: close only once nothing touches them.
     */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            IoUtil.unmap(mapped);
        }
    }

    /**
     * The owner's clean shutdown: unmaps the file, then deletes it. Readers still mapping it keep their pages.
     *
     * @throws UncheckedIOException if the file exists but cannot be deleted.
     */
    public void closeAndDelete()
    {
        close();
        try
        {
            Files.deleteIfExists(file);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot delete counters file " + file + ": " + ex.getMessage(), ex);
        }
    }

    @Override
    public String toString()
    {
        return "CountersFile{file=" + file + ", owner=" + isOwner() + ", closed=" + closed + '}';
    }

    private static CountersFileException invalid(final Path file, final String problem)
    {
        return new CountersFileException("counters file " + file + ": " + problem);
    }

    private static FileAttribute<?>[] ownerOnly(final Path file)
    {
        if (file.getFileSystem().supportedFileAttributeViews().contains("posix"))
        {
            return new FileAttribute<?>[]{ PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                "rw-------")) };
        }
        return new FileAttribute<?>[0];
    }

    private static void zeroFill(final FileChannel channel, final long length) throws IOException
    {
        final ByteBuffer zeros = ByteBuffer.allocateDirect((int)Math.min(ZERO_FILL_CHUNK, length));
        long position = 0;
        while (position < length)
        {
            zeros.clear().limit((int)Math.min(zeros.capacity(), length - position));
            position += channel.write(zeros, position);
        }
    }
}
