package io.pagewire.dataplane.port.pcap;

import net.openhft.chronicle.bytes.MappedBytes;
import net.openhft.chronicle.core.io.BackgroundResourceReleaser;
import org.agrona.BufferUtil;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The transmit side of the pcap port: records every frame the dataplane hands it to a classic pcap file
 * ({@link PcapFormat}, little-endian, link type Ethernet, snaplen {@link PcapFormat#WRITE_SNAPLEN}, microsecond or
 * nanosecond timestamps) without ever making the dataplane wait for the disk.
 * <p>
 * Two threads. The dataplane {@linkplain #claim claims} room for a record in an in-memory single-producer
 * single-consumer ring (Agrona's {@link OneToOneRingBuffer}, allocated and touched up front, so claiming is a few
 * stores and never a page fault or a syscall), the frame is copied straight into it, and {@link #commit} writes the
 * 16-byte pcap record header in front of it and publishes it. A writer thread ({@code pagewire-pcap-writer}, backing
 * off to 1 ms parks when idle) copies committed records as they are into the file, a Chronicle {@link MappedBytes}
 * that maps and grows the file {@link #CHUNK_SIZE} bytes at a time: page faults, file growth and writeback happen on
 * that thread only. When the ring is full (the disk cannot keep up) the frame is written to a scratch buffer instead
 * and counted as a {@linkplain #writeDrops() write drop}: nothing is lost silently. {@link #close()} stops the
 * writer thread after it has written every committed record, then truncates the file to the exact length written
 * (the mapping grew it to a chunk boundary).
 * <p>
 * Timestamps are wall-clock: the epoch time read once at open plus the {@link System#nanoTime()} elapsed since, so
 * they advance at the dataplane's clock and never jump. The dataplane passes the time of its duty cycle, so frames
 * transmitted in one cycle share a timestamp.
 */
public final class PcapWriter implements AutoCloseable
{
    /** Default bytes of the ring between the dataplane and the writer thread: ~13 ms of 10 Gb/s. */
    public static final int DEFAULT_RING_CAPACITY = 16 * 1024 * 1024;
    /** Smallest ring: its largest record (an eighth of it, Agrona's rule) must hold the largest frame. */
    public static final int MIN_RING_CAPACITY = 1024 * 1024;
    /** Bytes the output file is mapped and grown by at a time. */
    public static final long CHUNK_SIZE = 32L * 1024 * 1024;
    /** Bytes each chunk's mapping reaches into the next, so a record straddling a chunk boundary is one copy. */
    private static final long CHUNK_OVERLAP = 1024 * 1024;
    /** Ring message type of a pcap record. */
    private static final int RECORD_MSG_TYPE = 1;
    /** Records the writer thread copies per duty cycle at most (bounds its latency to notice close). */
    private static final int WRITE_BATCH = 4096;

    static
    {
        // Chronicle logs through SLF4J; without a provider (pagewire has none) SLF4J prints a three-line warning on
        // first use. Keep the CLI's output clean unless someone asked for SLF4J's own reporting.
        if (System.getProperty("slf4j.internal.verbosity") == null)
        {
            System.setProperty("slf4j.internal.verbosity", "ERROR");
        }
    }

    private final Path path;
    private final boolean nanoseconds;
    private final OneToOneRingBuffer ring;
    private final UnsafeBuffer ringBuffer;
    private final UnsafeBuffer scratch;
    private final long epochOffsetNs;
    private final WriterAgent agent;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private AgentRunner runner;
    private boolean closed;

    private int claimedIndex = -1;
    private long claimedNowNs;
    private long writeDrops;
    private long framesCommitted;

    private PcapWriter(
        final Path path,
        final boolean nanoseconds,
        final int ringCapacity,
        final MappedBytes bytes,
        final long epochOffsetNs,
        final AtomicCounter framesWritten,
        final AtomicCounter writeErrors)
    {
        this.path = path;
        this.epochOffsetNs = epochOffsetNs;
        this.nanoseconds = nanoseconds;
        // allocateDirect zeroes the memory, so every page of the ring is touched here and not on the dataplane.
        this.ringBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
            ringCapacity + RingBufferDescriptor.TRAILER_LENGTH, 64));
        this.ring = new OneToOneRingBuffer(ringBuffer);
        this.scratch = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
            align(PcapFormat.RECORD_HEADER_LENGTH + PcapFormat.WRITE_SNAPLEN), 64));
        this.agent = new WriterAgent(path, ring, bytes, framesWritten, writeErrors);
    }

    private static int align(final int length)
    {
        return (length + 63) & ~63;
    }

    /**
     * Creates (or replaces) the file, writes the pcap file header and prepares the ring; starts no thread yet.
     *
     * @param path          the output file.
     * @param nanoseconds   nanosecond timestamps (magic a1b23c4d), else microseconds (a1b2c3d4).
     * @param ringCapacity  bytes of the ring to the writer thread: a power of two, at least {@link #MIN_RING_CAPACITY}.
     * @param framesWritten counter of frames in the file, written by the writer thread; or null.
     * @param writeErrors   counter of committed frames lost to an I/O error, written by the writer thread; or null.
     * @return the writer.
     * @throws UncheckedIOException     naming the file when it cannot be created or mapped.
     * @throws IllegalArgumentException when the ring capacity is not a power of two of at least the minimum.
     */
    public static PcapWriter open(
        final Path path,
        final boolean nanoseconds,
        final int ringCapacity,
        final AtomicCounter framesWritten,
        final AtomicCounter writeErrors)
    {
        final Instant now = Instant.now();
        final long epochNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        return open(path, nanoseconds, ringCapacity, epochNs - System.nanoTime(), framesWritten, writeErrors);
    }

    /**
     * {@link #open(Path, boolean, int, AtomicCounter, AtomicCounter)} with a given clock: a frame claimed at
     * {@code nowNs} is stamped {@code epochOffsetNs + nowNs} ns since the epoch.
     *
     * @param path          the output file.
     * @param nanoseconds   nanosecond timestamps, else microseconds.
     * @param ringCapacity  bytes of the ring to the writer thread.
     * @param epochOffsetNs epoch time minus {@link System#nanoTime()}, in ns.
     * @param framesWritten counter of frames in the file, or null.
     * @param writeErrors   counter of frames lost to an I/O error, or null.
     * @return the writer.
     */
    public static PcapWriter open(
        final Path path,
        final boolean nanoseconds,
        final int ringCapacity,
        final long epochOffsetNs,
        final AtomicCounter framesWritten,
        final AtomicCounter writeErrors)
    {
        if (ringCapacity < MIN_RING_CAPACITY || Integer.bitCount(ringCapacity) != 1)
        {
            throw new IllegalArgumentException("pcap writer ring capacity=" + ringCapacity +
                ": must be a power of two of at least " + MIN_RING_CAPACITY);
        }
        final MappedBytes bytes;
        try
        {
            // A file that exists is replaced whole (MappedBytes would otherwise keep its old bytes past our end).
            Files.deleteIfExists(path);
            bytes = MappedBytes.mappedBytes(path.toFile(), CHUNK_SIZE, CHUNK_OVERLAP);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create pcap file " + path + ": " + ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            throw new UncheckedIOException("cannot create pcap file " + path + ": " + ex.getMessage(),
                new IOException(ex));
        }
        try
        {
            final UnsafeBuffer header = new UnsafeBuffer(new byte[PcapFormat.FILE_HEADER_LENGTH]);
            writeFileHeader(header, 0, nanoseconds, PcapFormat.WRITE_SNAPLEN);
            bytes.write(header.byteArray());
            // The writer thread owns the bytes from now on (Chronicle checks single-threaded use).
            bytes.singleThreadedCheckReset();
            return new PcapWriter(path, nanoseconds, ringCapacity, bytes, epochOffsetNs, framesWritten, writeErrors);
        }
        catch (final RuntimeException ex)
        {
            bytes.close();
            BackgroundResourceReleaser.releasePendingResources();
            throw ex;
        }
    }

    /**
     * Writes a little-endian pcap file header (version 2.4, thiszone 0, sigfigs 0, link type Ethernet).
     *
     * @param buffer      where to write.
     * @param offset      offset of the header in {@code buffer}.
     * @param nanoseconds nanosecond magic, else microsecond.
     * @param snaplen     the snapshot length to declare.
     */
    public static void writeFileHeader(
        final UnsafeBuffer buffer, final int offset, final boolean nanoseconds, final int snaplen)
    {
        final ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        buffer.putInt(offset + PcapFormat.MAGIC_OFFSET,
            nanoseconds ? PcapFormat.MAGIC_NANOSECONDS : PcapFormat.MAGIC_MICROSECONDS, le);
        buffer.putShort(offset + PcapFormat.VERSION_MAJOR_OFFSET, (short)PcapFormat.VERSION_MAJOR, le);
        buffer.putShort(offset + PcapFormat.VERSION_MINOR_OFFSET, (short)PcapFormat.VERSION_MINOR, le);
        buffer.putInt(offset + PcapFormat.THISZONE_OFFSET, 0, le);
        buffer.putInt(offset + PcapFormat.SIGFIGS_OFFSET, 0, le);
        buffer.putInt(offset + PcapFormat.SNAPLEN_OFFSET, snaplen, le);
        buffer.putInt(offset + PcapFormat.LINKTYPE_OFFSET, PcapFormat.LINKTYPE_ETHERNET, le);
    }

    /**
     * Writes a little-endian pcap record header.
     *
     * @param buffer      where to write.
     * @param offset      offset of the record header in {@code buffer}.
     * @param epochNs     the frame's time, ns since the epoch.
     * @param nanoseconds nanosecond fraction, else microsecond (truncated).
     * @param caplen      bytes of frame that follow.
     * @param origlen     the frame's length on the wire.
     */
    public static void writeRecordHeader(
        final UnsafeBuffer buffer,
        final int offset,
        final long epochNs,
        final boolean nanoseconds,
        final int caplen,
        final int origlen)
    {
        final ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        final long seconds = epochNs / 1_000_000_000L;
        final long fractionNs = epochNs - seconds * 1_000_000_000L;
        buffer.putInt(offset + PcapFormat.TS_SECONDS_OFFSET, (int)seconds, le);
        buffer.putInt(offset + PcapFormat.TS_FRACTION_OFFSET, (int)(nanoseconds ? fractionNs : fractionNs / 1000), le);
        buffer.putInt(offset + PcapFormat.CAPLEN_OFFSET, caplen, le);
        buffer.putInt(offset + PcapFormat.ORIGLEN_OFFSET, origlen, le);
    }

    /**
     * Starts the writer thread.
     *
     * @param errorHandler told (on the writer thread) about a failure; also kept for {@link #failure()}.
     */
    public void start(final ErrorHandler errorHandler)
    {
        if (runner != null)
        {
            throw new IllegalStateException("pcap writer for " + path + " already started");
        }
        runner = new AgentRunner(
            new BackoffIdleStrategy(1, 1, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)),
            (throwable) ->
            {
                failure.compareAndSet(null, throwable);
                if (errorHandler != null)
                {
                    errorHandler.onError(throwable);
                }
            },
            null, agent);
        AgentRunner.startOnThread(runner);
    }

    /**
     * Reserves room for one frame's record. Dataplane thread only; never blocks.
     *
     * @param frameLength bytes of the frame, at most {@link PcapFormat#WRITE_SNAPLEN}.
     * @param nowNs       {@link System#nanoTime()} to stamp the frame with.
     * @return where to copy the frame: into the ring, or into a scratch buffer when the ring is full (the frame is
     * then counted as a write drop at {@link #commit}). Never 0: the guest's queue never waits for the disk.
     */
    public long claim(final int frameLength, final long nowNs)
    {
        final int index = ring.tryClaim(RECORD_MSG_TYPE, PcapFormat.RECORD_HEADER_LENGTH + frameLength);
        claimedIndex = index;
        claimedNowNs = nowNs;
        return (index < 0 ? scratch.addressOffset() : ringBuffer.addressOffset() + index) +
            PcapFormat.RECORD_HEADER_LENGTH;
    }

    /**
     * Publishes the record claimed last, now that its frame is written: writes its header and commits it to the
     * writer thread, or counts a write drop when the ring was full.
     *
     * @param frameLength bytes of the frame, as claimed.
     */
    public void commit(final int frameLength)
    {
        final int index = claimedIndex;
        if (index < 0)
        {
            writeDrops++;
            return;
        }
        writeRecordHeader(ringBuffer, index, epochOffsetNs + claimedNowNs, nanoseconds, frameLength, frameLength);
        // Release: the header and frame bytes are visible to the writer thread before the record is.
        ring.commit(index);
        claimedIndex = -1;
        framesCommitted++;
    }

    /**
     * Gives the record claimed last back unwritten: the ring turns it into padding the writer thread skips (a claimed
     * record is the ring's until committed or aborted, and the writer thread would wait at it). Nothing is counted.
     */
    public void abandon()
    {
        final int index = claimedIndex;
        claimedIndex = -1;
        if (index >= 0)
        {
            ring.abort(index);
        }
    }

    /** @return frames the ring had no room for (dataplane thread's count). */
    public long writeDrops()
    {
        return writeDrops;
    }

    /** @return frames committed to the ring (dataplane thread's count). */
    public long framesCommitted()
    {
        return framesCommitted;
    }

    /** @return frames the writer thread has written to the file so far (any thread; exact after close). */
    public long framesWritten()
    {
        return agent.framesWrittenVolatile();
    }

    /** @return the first failure of the writer thread, or null. */
    public Throwable failure()
    {
        return failure.get();
    }

    /** @return the output file. */
    public Path path()
    {
        return path;
    }

    /** @return whether timestamps are nanoseconds. */
    public boolean nanoseconds()
    {
        return nanoseconds;
    }

    /**
     * Writes every committed record, stops the writer thread and truncates the file to its exact length. The
     * dataplane must have stopped using this writer. Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (runner != null)
        {
            // The writer thread drains the ring and finishes the file in onClose().
            runner.close();
        }
        else
        {
            agent.onClose();
        }
        final Throwable closeFailure = agent.closeFailure();
        if (closeFailure != null)
        {
            failure.compareAndSet(null, closeFailure);
        }
    }

    /** The writer thread: ring to file. */
    private static final class WriterAgent implements Agent, MessageHandler
    {
        private final Path path;
        private final OneToOneRingBuffer ring;
        private final MappedBytes bytes;
        private final AtomicCounter framesWrittenCounter;
        private final AtomicCounter writeErrorsCounter;
        private volatile long framesWrittenVolatile;
        private long framesWritten;
        private long writeErrors;
        private boolean failed;
        private boolean finished;
        private Throwable closeFailure;

        WriterAgent(
            final Path path,
            final OneToOneRingBuffer ring,
            final MappedBytes bytes,
            final AtomicCounter framesWritten,
            final AtomicCounter writeErrors)
        {
            this.path = path;
            this.ring = ring;
            this.bytes = bytes;
            this.framesWrittenCounter = framesWritten;
            this.writeErrorsCounter = writeErrors;
        }

        @Override
        public int doWork()
        {
            final int records = ring.read(this, WRITE_BATCH);
            if (records > 0)
            {
                publish();
            }
            return records;
        }

        private void publish()
        {
            framesWrittenVolatile = framesWritten;
            if (framesWrittenCounter != null)
            {
                framesWrittenCounter.setRelease(framesWritten);
            }
            if (writeErrorsCounter != null)
            {
                writeErrorsCounter.setRelease(writeErrors);
            }
        }

        @Override
        public void onMessage(final int msgTypeId, final org.agrona.MutableDirectBuffer buffer, final int index,
            final int length)
        {
            if (failed)
            {
                writeErrors++;
                return;
            }
            try
            {
                bytes.unsafeWrite(buffer.addressOffset() + index, length);
                framesWritten++;
            }
            catch (final RuntimeException | InternalError ex)
            {
                // Disk full or the file gone: count every record from here on, report the cause once.
                failed = true;
                writeErrors++;
                throw new UncheckedIOException("pcap file " + path + ": writing stopped after " + framesWritten +
                    " frames: " + ex, new IOException(ex));
            }
        }

        @Override
        public void onClose()
        {
            if (finished)
            {
                return;
            }
            finished = true;
            try
            {
                while (ring.read(this) > 0)
                {
                    // Everything committed before the dataplane stopped goes into the file.
                }
            }
            catch (final RuntimeException ex)
            {
                closeFailure = ex;
                // The rest of the ring is lost with the file; it is counted.
                ring.read((type, buffer, index, length) -> writeErrors++);
            }
            publish();
            final long end = bytes.writePosition();
            bytes.close();
            // Chronicle unmaps and closes the file on its background releaser thread; wait for it, so the file is
            // whole and its descriptor closed when close() returns.
            BackgroundResourceReleaser.releasePendingResources();
            try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw"))
            {
                // The mapping grew the file to a chunk boundary; a reader must find exactly the records.
                file.setLength(end);
            }
            catch (final IOException ex)
            {
                if (closeFailure == null)
                {
                    closeFailure = new UncheckedIOException("cannot truncate pcap file " + path + " to " + end +
                        " bytes", ex);
                }
            }
        }

        @Override
        public String roleName()
        {
            return "pagewire-pcap-writer";
        }

        long framesWrittenVolatile()
        {
            return framesWrittenVolatile;
        }

        Throwable closeFailure()
        {
            return closeFailure;
        }
    }
}
