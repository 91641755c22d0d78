package io.pagewire.dataplane.port;

import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A NIC port whose two rings live in one memory-mapped file, so a traffic source and sink in another thread or
 * another process can exchange frames with the dataplane. The dataplane {@linkplain #create creates} the file; the
 * other side {@linkplain #attach attaches} to it.
 * <p>
 * Directions are named after the guest's queues (DESIGN.md): the {@linkplain #rxRing() rx ring} carries frames
 * from the wire that the guest will receive (the peer produces, the dataplane consumes and delivers them to the
 * guest); the {@linkplain #txRing() tx ring} carries frames the guest transmitted (the dataplane produces, collecting
 * them from the guest, and the peer consumes). As a {@link NicPort} (and so a {@link io.pagewire.dataplane.tx.TxSink})
 * this port is the dataplane's side: the {@code rx…} methods consume the rx ring, {@code claim}/{@code commit}
 * produce on the tx ring. The peer uses {@code rxRing().claim/commit} and the tx ring's consumer methods directly,
 * on its own instance from {@link #attach} (each side of a ring keeps its own cached indices).
 *
 * <h2>File layout</h2>
 * Everything is little-endian. The file is {@code 64 + 2 * ringLength} bytes; all offsets below are from the start
 * of the file, which a reader maps whole.
 * <pre>
 * File header (64 bytes)
 *   offset size  field
 *    0     8     magic            "PWSHMNIC" in ASCII (u64 0x43494e4d48535750)
 *    8     4     version          1
 *   12     4     reserved         0
 *   16     8     rx ring offset   64
 *   24     8     rx ring length   ringLength = 192 + slotCount * slotSize
 *   32     8     tx ring offset   64 + ringLength
 *   40     8     tx ring length   ringLength
 *   48    16     reserved         0
 *
 * Each ring (at its offset, 64-byte aligned; see ShmFrameRingLayout)
 *   offset size  field
 *    0     8     magic            "PWFRRING" in ASCII (u64 0x474e495252465750)
 *    8     4     version          1
 *   12     4     slot count       a power of two in 2..65536
 *   16     4     slot size        a multiple of 64 in 128..131072 (slot header included)
 *   20    44     reserved         0
 *   64     8     producer index   frames committed since format (u64, free-running, never masked)
 *   72    56     padding          (the producer's cache line)
 *  128     8     consumer index   frames released since format (u64, free-running, never masked)
 *  136    56     padding          (the consumer's cache line)
 *  192           slots            slotCount * slotSize bytes; frame n is in slot (n &amp; (slotCount - 1))
 *
 * Each slot (slotSize bytes, at 192 + i * slotSize in its ring)
 *    0     4     length           bytes of frame, 0..slotSize - 8
 *    4     4     reserved         0
 *    8           frame            the frame bytes (Ethernet header first, no FCS)
 * </pre>
 * <h2>Protocol for the other side</h2>
 * Each ring has exactly one producer and one consumer. Indices only grow; compare them by u64 subtraction. At all
 * times {@code 0 <= producer - consumer <= slotCount}.
 * <ul>
 *   <li><b>To produce</b> (rx ring, for the peer): load the consumer index with acquire semantics (C11
 *       {@code atomic_load_explicit(..., memory_order_acquire)}); if {@code producer - consumer < slotCount}, write
 *       the frame at slot {@code producer & (slotCount - 1)} offset 8 and its length at offset 0 with plain stores,
 *       then store {@code producer + 1} to the producer index with release semantics
 *       ({@code memory_order_release}). Several frames may be written before one release store of the index.</li>
 *   <li><b>To consume</b> (tx ring, for the peer): load the producer index with acquire semantics; each slot from
 *       {@code consumer} up to it holds a complete frame; read them, then store the new consumer index with release
 *       semantics. Until then the slots are the consumer's and the producer will not reuse them.</li>
 *   <li>Creation: the dataplane writes each ring header, then the file header, and stores each magic last with
 *       release semantics. A peer that reads magic 0 attached too early and should retry.</li>
 * </ul>
 * On x86-64 acquire loads and release stores are plain aligned 8-byte {@code mov}s that the compiler must not
 * reorder (for example C11 atomics, or {@code volatile} plus a compiler barrier).
 * <p>
 * <b>Trust.</b> Every index and length the peer writes is validated where it is read (see {@link ShmFrameRing}), and
 * geometry and offsets are copied once at attach. What a shared file cannot stop is a peer that truncates it: the
 * next access to a page past the new end faults (SIGBUS). Against a hostile peer, back the port with a memfd sealed
 * against shrinking ({@code F_SEAL_SHRINK}), as memif does; this class maps a path.
 * <p>
 * Not thread-safe to {@link #close()} while any thread still uses the rings: close unmaps the file, after which the
 * rings' addresses are invalid (a crash, not an exception).
 */
public final class ShmNicPort implements NicPort, AutoCloseable
{
    /** "PWSHMNIC" in ASCII, read as a little-endian u64. */
    public static final long MAGIC = ShmFrameRingLayout.asciiMagic("PWSHMNIC");
    /** File layout version. */
    public static final int VERSION = 1;

    /** Offset of the file magic (u64). */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the file version (u32). */
    public static final int VERSION_OFFSET = 8;
    /** Offset of the rx ring's offset in the file (u64). */
    public static final int RX_RING_OFFSET_OFFSET = 16;
    /** Offset of the rx ring's length (u64). */
    public static final int RX_RING_LENGTH_OFFSET = 24;
    /** Offset of the tx ring's offset in the file (u64). */
    public static final int TX_RING_OFFSET_OFFSET = 32;
    /** Offset of the tx ring's length (u64). */
    public static final int TX_RING_LENGTH_OFFSET = 40;
    /** Length of the file header; the rx ring starts here in files this build creates. */
    public static final int FILE_HEADER_LENGTH = 64;

    /** Rings start on this boundary (their slots' cache-line alignment depends on it). */
    private static final int RING_ALIGNMENT = ShmFrameRingLayout.CACHE_LINE_LENGTH;

    private final Path file;
    private final MappedByteBuffer mapped;
    private final ShmFrameRing rxRing;
    private final ShmFrameRing txRing;
    private boolean closed;

    private ShmNicPort(
        final Path file, final MappedByteBuffer mapped, final ShmFrameRing rxRing, final ShmFrameRing txRing)
    {
        this.file = file;
        this.mapped = mapped;
        this.rxRing = rxRing;
        this.txRing = txRing;
    }

    /**
     * Creates the port file and formats both rings, empty. An existing file at {@code file} is deleted first, so a
     * process still mapping it keeps the old file and cannot write into the new one.
     *
     * @param file      where the file goes (a tmpfs such as {@code /dev/shm} keeps it out of the page cache's
     *                  writeback).
     * @param slotCount slots per ring, a power of two in 2..65536.
     * @param slotSize  bytes per slot, slot header included: a multiple of 64 in 128..131072; frames up to
     *                  {@code slotSize - 8} bytes fit.
     * @return the dataplane's side of the port.
     * @throws IllegalArgumentException naming the value when the geometry is invalid.
     * @throws UncheckedIOException     when the file cannot be created or mapped.
     */
    public static ShmNicPort create(final Path file, final int slotCount, final int slotSize)
    {
        final int ringLength = ShmFrameRingLayout.requiredLength(slotCount, slotSize);
        final long fileLength = FILE_HEADER_LENGTH + 2L * ringLength;
        if (fileLength > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("slot count=" + slotCount + ", slot size=" + slotSize +
                ": the port file would be " + fileLength + " bytes, more than one mapping holds (2 GiB)");
        }
        try
        {
            Files.deleteIfExists(file);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot replace shm NIC port file " + file, ex);
        }
        final MappedByteBuffer mapped;
        try
        {
            mapped = IoUtil.mapNewFile(file.toFile(), fileLength);
        }
        catch (final Exception ex)
        {
            throw unchecked(ex, "cannot create shm NIC port file " + file);
        }
        try
        {
            final long rxOffset = FILE_HEADER_LENGTH;
            final long txOffset = rxOffset + ringLength;
            ShmFrameRing.format(new UnsafeBuffer(mapped, (int)rxOffset, ringLength), slotCount, slotSize);
            ShmFrameRing.format(new UnsafeBuffer(mapped, (int)txOffset, ringLength), slotCount, slotSize);

            final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, FILE_HEADER_LENGTH);
            header.putInt(VERSION_OFFSET, VERSION);
            header.putLong(RX_RING_OFFSET_OFFSET, rxOffset);
            header.putLong(RX_RING_LENGTH_OFFSET, ringLength);
            header.putLong(TX_RING_OFFSET_OFFSET, txOffset);
            header.putLong(TX_RING_LENGTH_OFFSET, ringLength);
            // Release: the ring headers and the fields above are visible to whoever acquires this magic (attach).
            header.putLongRelease(MAGIC_OFFSET, MAGIC);

            return open(file, mapped, fileLength);
        }
        catch (final RuntimeException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    /**
     * Maps an existing port file, checking its header and both ring headers: the other side's view.
     *
     * @param file a file made by {@link #create} (or by another implementation of the layout above).
     * @return the port; its {@link #rxRing()} is produced and its {@link #txRing()} consumed by the caller.
     * @throws IllegalArgumentException naming the file and the bad value when it is not a valid port file.
     * @throws UncheckedIOException     when the file cannot be read or mapped.
     */
    public static ShmNicPort attach(final Path file)
    {
        final long fileLength;
        try
        {
            fileLength = Files.size(file);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot open shm NIC port file " + file, ex);
        }
        if (fileLength < FILE_HEADER_LENGTH || fileLength > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("shm NIC port file " + file + " is " + fileLength +
                " bytes: a port file has a " + FILE_HEADER_LENGTH + "-byte header and is at most 2 GiB");
        }
        final MappedByteBuffer mapped;
        try
        {
            mapped = IoUtil.mapExistingFile(file.toFile(), "shm NIC port");
        }
        catch (final Exception ex)
        {
            throw unchecked(ex, "cannot map shm NIC port file " + file);
        }
        try
        {
            return open(file, mapped, fileLength);
        }
        catch (final RuntimeException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    /** Agrona's IoUtil rethrows IOException undeclared; give callers the UncheckedIOException the Javadoc names. */
    private static RuntimeException unchecked(final Exception ex, final String message)
    {
        if (ex instanceof IOException io)
        {
            return new UncheckedIOException(message + ": " + io.getMessage(), io);
        }
        return (RuntimeException)ex;
    }

    private static ShmNicPort open(final Path file, final MappedByteBuffer mapped, final long fileLength)
    {
        final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, FILE_HEADER_LENGTH);
        // Acquire: pairs with the release store of the magic in create(); the rest of the header is visible.
        final long magic = header.getLongAcquire(MAGIC_OFFSET);
        if (magic != MAGIC)
        {
            throw new IllegalArgumentException(String.format(
                "%s is not a pagewire shm NIC port: magic=0x%016x%s, expected 0x%016x (\"PWSHMNIC\")",
                file, magic, magic == 0 ? " (not formatted yet)" : "", MAGIC));
        }
        final int version = header.getInt(VERSION_OFFSET);
        if (version != VERSION)
        {
            throw new IllegalArgumentException(
                file + ": shm NIC port version=" + version + ", this build reads version " + VERSION);
        }
        final long rxOffset = header.getLong(RX_RING_OFFSET_OFFSET);
        final long rxLength = header.getLong(RX_RING_LENGTH_OFFSET);
        final long txOffset = header.getLong(TX_RING_OFFSET_OFFSET);
        final long txLength = header.getLong(TX_RING_LENGTH_OFFSET);
        checkRingBounds(file, "rx", rxOffset, rxLength, fileLength);
        checkRingBounds(file, "tx", txOffset, txLength, fileLength);
        // Both are inside the file, so the sums cannot overflow.
        if (rxOffset < txOffset + txLength && txOffset < rxOffset + rxLength)
        {
            throw new IllegalArgumentException(file + ": rx ring [" + rxOffset + ", " + (rxOffset + rxLength) +
                ") overlaps tx ring [" + txOffset + ", " + (txOffset + txLength) + ")");
        }
        return new ShmNicPort(file, mapped, ring(file, "rx", mapped, rxOffset, rxLength),
            ring(file, "tx", mapped, txOffset, txLength));
    }

    private static void checkRingBounds(
        final Path file, final String name, final long offset, final long length, final long fileLength)
    {
        // Written so no sum can overflow: offset and length are peer input, any u64.
        if (offset < FILE_HEADER_LENGTH || offset > fileLength || (offset % RING_ALIGNMENT) != 0 ||
            length < ShmFrameRingLayout.HEADER_LENGTH || length > fileLength - offset)
        {
            throw new IllegalArgumentException(file + ": " + name + " ring offset=" + offset + ", length=" + length +
                ": must be a multiple of " + RING_ALIGNMENT + " from " + FILE_HEADER_LENGTH + " with at least " +
                ShmFrameRingLayout.HEADER_LENGTH + " bytes, inside the file's " + fileLength);
        }
    }

    private static ShmFrameRing ring(
        final Path file, final String name, final MappedByteBuffer mapped, final long offset, final long length)
    {
        try
        {
            return new ShmFrameRing(new UnsafeBuffer(mapped, (int)offset, (int)length));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException(file + ": " + name + " ring: " + ex.getMessage(), ex);
        }
    }

    /** @return the ring of frames from the wire for the guest: the peer produces, the dataplane consumes. */
    public ShmFrameRing rxRing()
    {
        return rxRing;
    }

    /** @return the ring of frames the guest transmitted: the dataplane produces, the peer consumes. */
    public ShmFrameRing txRing()
    {
        return txRing;
    }

    /** @return the port file. */
    public Path file()
    {
        return file;
    }

    /** @return the longest frame either ring holds (the rings of a port made by {@link #create} are alike). */
    public int maxFrameLength()
    {
        return Math.min(rxRing.maxFrameLength(), txRing.maxFrameLength());
    }

    /** Frames waiting on the rx ring ({@link ShmFrameRing#available}). */
    @Override
    public int rxAvailable()
    {
        return rxRing.available();
    }

    /** Address of the {@code i}-th waiting rx frame ({@link ShmFrameRing#frameAddress}). */
    @Override
    public long rxFrameAddress(final int i)
    {
        return rxRing.frameAddress(i);
    }

    /** Length of the {@code i}-th waiting rx frame, or -1 for a bad slot header ({@link ShmFrameRing#frameLength}). */
    @Override
    public int rxFrameLength(final int i)
    {
        return rxRing.frameLength(i);
    }

    /** Releases rx frames back to the peer ({@link ShmFrameRing#release}). */
    @Override
    public void rxRelease(final int count)
    {
        rxRing.release(count);
    }

    /**
     * Claims a slot on the tx ring ({@link ShmFrameRing#claim}).
     *
     * @return the address for the frame, or 0 when the tx ring is full or broken, or the frame is longer than
     * {@code txRing().maxFrameLength()}.
     */
    @Override
    public long claim(final int frameLength)
    {
        return txRing.claim(frameLength);
    }

    /** Publishes the frame claimed on the tx ring ({@link ShmFrameRing#commit}). */
    @Override
    public void commit(final int frameLength)
    {
        txRing.commit(frameLength);
    }

    /** Gives the slot claimed on the tx ring back ({@link ShmFrameRing#abandon}). */
    @Override
    public void abandon()
    {
        txRing.abandon();
    }

    /** Unmaps the file (idempotent). The file stays for other processes; see {@link #closeAndDelete()}. */
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
     * Unmaps and deletes the file. A process still attached keeps its mapping (and the file's pages) until it
     * unmaps.
     *
     * @throws UncheckedIOException when the file exists but cannot be deleted.
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
            throw new UncheckedIOException("cannot delete shm NIC port file " + file, ex);
        }
    }
}
