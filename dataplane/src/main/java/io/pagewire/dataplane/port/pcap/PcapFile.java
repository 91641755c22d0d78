package io.pagewire.dataplane.port.pcap;

import org.agrona.UnsafeApi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A classic pcap file ({@link PcapFormat}) mapped read-only and validated whole at {@link #open}: every record header
 * is read once and checked against the file's size, so replaying it later reads only memory known to be inside the
 * mapping (frames are handed to the dataplane as addresses straight into it, never copied).
 * <p>
 * A pcapng file is read too: it is converted to the classic format in memory at open ({@link PcapngConverter}),
 * which costs memory about the size of the file.
 * <p>
 * What makes the file unusable is refused at open with a {@link PcapFormatException}: not a pcap file, a
 * version other than 2.x, a link type other than Ethernet or one with an FCS, a record header or frame that runs
 * past the end of the file (a capture cut short), a caplen above {@link PcapFormat#MAXIMUM_SNAPLEN} (corrupt).
 * Records that are well-formed but cannot be a frame, caplen 0 or above the file's own snaplen, are
 * {@linkplain #isDeliverable skipped} at replay and counted as bad records.
 * <p>
 * Validation reads the whole file once, which also brings it into the page cache: replay then does not wait for the
 * disk unless the file is larger than memory. The file must not be truncated while mapped (a read past its new end
 * would fault).
 */
public final class PcapFile implements AutoCloseable
{
    private final Path path;
    private final Arena arena;
    private final long address;
    private final long length;
    private final boolean bigEndian;
    private final boolean nanoseconds;
    private final int snaplen;
    private final long records;
    private final long deliverableRecords;
    private final long firstTimestampNs;
    private final long lastTimestampNs;

    private PcapFile(
        final Path path,
        final Arena arena,
        final long address,
        final long length,
        final boolean bigEndian,
        final boolean nanoseconds,
        final int snaplen,
        final long records,
        final long deliverableRecords,
        final long firstTimestampNs,
        final long lastTimestampNs)
    {
        this.path = path;
        this.arena = arena;
        this.address = address;
        this.length = length;
        this.bigEndian = bigEndian;
        this.nanoseconds = nanoseconds;
        this.snaplen = snaplen;
        this.records = records;
        this.deliverableRecords = deliverableRecords;
        this.firstTimestampNs = firstTimestampNs;
        this.lastTimestampNs = lastTimestampNs;
    }

    /**
     * Maps the file and validates its header and every record header.
     *
     * @param path the capture to replay.
     * @return the open file.
     * @throws PcapFormatException  naming the file, the record and the rule when the file cannot be replayed.
     * @throws UncheckedIOException when the file cannot be opened or mapped.
     */
    public static PcapFile open(final Path path)
    {
        final long size;
        final Arena arena = Arena.ofShared();
        final MemorySegment segment;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ))
        {
            size = channel.size();
            if (size < PcapFormat.FILE_HEADER_LENGTH)
            {
                arena.close();
                throw new PcapFormatException(path + " is not a pcap file: it is " + size +
                    " bytes, shorter than the " + PcapFormat.FILE_HEADER_LENGTH + "-byte pcap file header");
            }
            segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        }
        catch (final NoSuchFileException ex)
        {
            arena.close();
            throw new UncheckedIOException("pcap file " + path + " does not exist", ex);
        }
        catch (final IOException ex)
        {
            arena.close();
            throw new UncheckedIOException("cannot map pcap file " + path + ": " + ex, ex);
        }
        try
        {
            if (UnsafeApi.getInt(segment.address()) == PcapFormat.PCAPNG_BLOCK_TYPE)
            {
                return openPcapng(path, arena, segment.address(), size);
            }
            return validate(path, arena, segment.address(), size);
        }
        catch (final RuntimeException ex)
        {
            if (arena.scope().isAlive())
            {
                arena.close();
            }
            throw ex;
        }
    }

    /** pcapng: converted to classic pcap in memory (validated on the way), the mapping of the file released. */
    private static PcapFile openPcapng(final Path path, final Arena mapped, final long address, final long size)
    {
        final byte[] classic = PcapngConverter.toClassic(path, address, size);
        mapped.close();
        final Arena arena = Arena.ofShared();
        try
        {
            final MemorySegment copy = arena.allocate(classic.length, 64);
            MemorySegment.copy(MemorySegment.ofArray(classic), 0, copy, 0, classic.length);
            return validate(path, arena, copy.address(), classic.length);
        }
        catch (final RuntimeException ex)
        {
            arena.close();
            throw ex;
        }
    }

    private static PcapFile validate(final Path path, final Arena arena, final long address, final long size)
    {
        final int nativeMagic = UnsafeApi.getInt(address);
        final boolean nativeBigEndian = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;
        final boolean bigEndian;
        final boolean nanoseconds;
        if (nativeMagic == PcapFormat.MAGIC_MICROSECONDS || nativeMagic == PcapFormat.MAGIC_NANOSECONDS)
        {
            bigEndian = nativeBigEndian;
            nanoseconds = nativeMagic == PcapFormat.MAGIC_NANOSECONDS;
        }
        else if (Integer.reverseBytes(nativeMagic) == PcapFormat.MAGIC_MICROSECONDS ||
            Integer.reverseBytes(nativeMagic) == PcapFormat.MAGIC_NANOSECONDS)
        {
            bigEndian = !nativeBigEndian;
            nanoseconds = Integer.reverseBytes(nativeMagic) == PcapFormat.MAGIC_NANOSECONDS;
        }
        else
        {
            throw new PcapFormatException(String.format(
                "%s is not a pcap file: magic 0x%08x, expected a1b2c3d4 (microseconds) or a1b23c4d (nanoseconds) " +
                "in either byte order, or a pcapng section header (0a0d0d0a)", path, Integer.reverseBytes(nativeMagic)));
        }

        final int major = UnsafeApi.getShortUnaligned(null, address + PcapFormat.VERSION_MAJOR_OFFSET, bigEndian) &
            0xFFFF;
        final int minor = UnsafeApi.getShortUnaligned(null, address + PcapFormat.VERSION_MINOR_OFFSET, bigEndian) &
            0xFFFF;
        if (major != PcapFormat.VERSION_MAJOR)
        {
            throw new PcapFormatException(path + ": pcap version " + major + "." + minor +
                ", this reader reads version 2.x");
        }
        final int linkField = UnsafeApi.getIntUnaligned(null, address + PcapFormat.LINKTYPE_OFFSET, bigEndian);
        final int linktype = linkField & PcapFormat.LINKTYPE_MASK;
        if (linktype != PcapFormat.LINKTYPE_ETHERNET)
        {
            throw new PcapFormatException(path + ": link type " + linktype + " (" +
                PcapFormat.linktypeName(linktype) + "): nic.pcap.read replays Ethernet captures (link type 1) only");
        }
        if ((linkField & PcapFormat.FCS_PRESENT_FLAG) != 0)
        {
            throw new PcapFormatException(path + ": the frames carry an FCS (" + 2 * (linkField >>> 28) +
                " bytes); nic.pcap.read replays frames without FCS only");
        }
        final long rawSnaplen = Integer.toUnsignedLong(
            UnsafeApi.getIntUnaligned(null, address + PcapFormat.SNAPLEN_OFFSET, bigEndian));
        // As libpcap: a snaplen of 0 or beyond the maximum means the maximum.
        final int snaplen = rawSnaplen == 0 || rawSnaplen > PcapFormat.MAXIMUM_SNAPLEN ?
            PcapFormat.MAXIMUM_SNAPLEN : (int)rawSnaplen;

        long records = 0;
        long deliverable = 0;
        long firstTimestampNs = 0;
        long lastTimestampNs = 0;
        long offset = PcapFormat.FILE_HEADER_LENGTH;
        while (offset < size)
        {
            final long remaining = size - offset;
            if (remaining < PcapFormat.RECORD_HEADER_LENGTH)
            {
                throw new PcapFormatException(path + ": record " + (records + 1) + " at offset " + offset +
                    ": only " + remaining + " of the " + PcapFormat.RECORD_HEADER_LENGTH +
                    "-byte record header are in the file: it is truncated (a capture cut short?)");
            }
            final long caplen = Integer.toUnsignedLong(
                UnsafeApi.getIntUnaligned(null, address + offset + PcapFormat.CAPLEN_OFFSET, bigEndian));
            if (caplen > PcapFormat.MAXIMUM_SNAPLEN)
            {
                throw new PcapFormatException(path + ": record " + (records + 1) + " at offset " + offset +
                    ": caplen " + caplen + " is above the " + PcapFormat.MAXIMUM_SNAPLEN +
                    "-byte maximum any capture has: the file is corrupt");
            }
            if (caplen > remaining - PcapFormat.RECORD_HEADER_LENGTH)
            {
                throw new PcapFormatException(path + ": record " + (records + 1) + " at offset " + offset +
                    ": caplen " + caplen + " but only " + (remaining - PcapFormat.RECORD_HEADER_LENGTH) +
                    " bytes follow its header: the file is truncated (a capture cut short?)");
            }
            if (caplen != 0 && caplen <= snaplen)
            {
                final long timestampNs = timestampNs(address + offset, bigEndian, nanoseconds);
                if (deliverable == 0)
                {
                    firstTimestampNs = timestampNs;
                }
                lastTimestampNs = Math.max(lastTimestampNs, timestampNs);
                deliverable++;
            }
            records++;
            offset += PcapFormat.RECORD_HEADER_LENGTH + caplen;
        }
        return new PcapFile(path, arena, address, size, bigEndian, nanoseconds, snaplen, records, deliverable,
            firstTimestampNs, Math.max(firstTimestampNs, lastTimestampNs));
    }

    private static long timestampNs(final long recordAddress, final boolean bigEndian, final boolean nanoseconds)
    {
        final long seconds = Integer.toUnsignedLong(
            UnsafeApi.getIntUnaligned(null, recordAddress + PcapFormat.TS_SECONDS_OFFSET, bigEndian));
        final long fraction = Integer.toUnsignedLong(
            UnsafeApi.getIntUnaligned(null, recordAddress + PcapFormat.TS_FRACTION_OFFSET, bigEndian));
        // u32 seconds * 10^9 < 4.3 * 10^18 and the fraction adds at most 4.3 * 10^12: no overflow of a signed long.
        return seconds * 1_000_000_000L + (nanoseconds ? fraction : fraction * 1000L);
    }

    /** @return offset of the first record (may equal {@link #length()}: no records). */
    public long firstRecordOffset()
    {
        return PcapFormat.FILE_HEADER_LENGTH;
    }

    /**
     * @param recordOffset offset of a record, from {@link #firstRecordOffset()} or {@link #nextRecordOffset}.
     * @return its caplen: the bytes of frame after the record header.
     */
    public int caplen(final long recordOffset)
    {
        return UnsafeApi.getIntUnaligned(null, address + recordOffset + PcapFormat.CAPLEN_OFFSET, bigEndian);
    }

    /**
     * @param recordOffset offset of a record.
     * @param caplen       its {@link #caplen}.
     * @return offset of the record after it; {@link #length()} after the last.
     */
    public static long nextRecordOffset(final long recordOffset, final int caplen)
    {
        return recordOffset + PcapFormat.RECORD_HEADER_LENGTH + caplen;
    }

    /**
     * @param caplen a record's caplen.
     * @return whether the record is a frame to replay (caplen 1..snaplen); other records are skipped as bad.
     */
    public boolean isDeliverable(final int caplen)
    {
        return caplen != 0 && caplen <= snaplen;
    }

    /** @return the record's timestamp in ns since the epoch, whatever the file's resolution. */
    public long timestampNs(final long recordOffset)
    {
        return timestampNs(address + recordOffset, bigEndian, nanoseconds);
    }

    /** @return host address of the record's frame bytes, inside the read-only mapping. */
    public long frameAddress(final long recordOffset)
    {
        return address + recordOffset + PcapFormat.RECORD_HEADER_LENGTH;
    }

    /** @return the file. */
    public Path path()
    {
        return path;
    }

    /** @return bytes in the file; records end exactly here. */
    public long length()
    {
        return length;
    }

    /** @return whether the file is big-endian. */
    public boolean bigEndian()
    {
        return bigEndian;
    }

    /** @return whether timestamps count nanoseconds (else microseconds). */
    public boolean nanoseconds()
    {
        return nanoseconds;
    }

    /** @return the snapshot length in effect (the header's, or {@link PcapFormat#MAXIMUM_SNAPLEN} for 0). */
    public int snaplen()
    {
        return snaplen;
    }

    /** @return records in the file. */
    public long records()
    {
        return records;
    }

    /** @return records replayed as frames (the others are bad: caplen 0 or above the snaplen). */
    public long deliverableRecords()
    {
        return deliverableRecords;
    }

    /** @return timestamp of the first deliverable record, ns since the epoch (0 when there is none). */
    public long firstTimestampNs()
    {
        return firstTimestampNs;
    }

    /** @return latest timestamp of any deliverable record, ns since the epoch. */
    public long lastTimestampNs()
    {
        return lastTimestampNs;
    }

    /** Unmaps the file (frees the converted copy of a pcapng file): nothing may read a frame address afterwards. */
    @Override
    public void close()
    {
        if (arena.scope().isAlive())
        {
            arena.close();
        }
    }

    @Override
    public String toString()
    {
        return path + " (" + records + " records" +
            (deliverableRecords != records ? ", " + (records - deliverableRecords) + " bad" : "") + ", " +
            (bigEndian ? "big" : "little") + "-endian, " + (nanoseconds ? "ns" : "us") + ", snaplen " + snaplen + ")";
    }
}
