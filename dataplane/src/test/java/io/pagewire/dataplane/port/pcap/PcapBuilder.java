package io.pagewire.dataplane.port.pcap;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Crafts classic pcap files byte by byte, independently of {@link PcapWriter}: any byte order, either resolution,
 * any header field, and records whose caplen need not match their data (to make hostile files). Shared with control
 * tests through the dataplane test-jar.
 */
public final class PcapBuilder
{
    private final ByteOrder order;
    private final boolean nanoseconds;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int magic;
    private int major = PcapFormat.VERSION_MAJOR;
    private int minor = PcapFormat.VERSION_MINOR;
    private int snaplen = 65535;
    private int linktype = PcapFormat.LINKTYPE_ETHERNET;
    private boolean headerWritten;

    /**
     * @param order       the byte order every field is written in.
     * @param nanoseconds nanosecond magic and fractions, else microsecond.
     */
    public PcapBuilder(final ByteOrder order, final boolean nanoseconds)
    {
        this.order = order;
        this.nanoseconds = nanoseconds;
        this.magic = nanoseconds ? PcapFormat.MAGIC_NANOSECONDS : PcapFormat.MAGIC_MICROSECONDS;
    }

    /** Sets the magic written (before the first record). */
    public PcapBuilder magic(final int magic)
    {
        this.magic = magic;
        return this;
    }

    /** Sets the version written (before the first record). */
    public PcapBuilder version(final int major, final int minor)
    {
        this.major = major;
        this.minor = minor;
        return this;
    }

    /** Sets the snaplen written (before the first record). */
    public PcapBuilder snaplen(final int snaplen)
    {
        this.snaplen = snaplen;
        return this;
    }

    /** Sets the whole linktype field written (before the first record). */
    public PcapBuilder linktype(final int linktype)
    {
        this.linktype = linktype;
        return this;
    }

    private void header()
    {
        if (!headerWritten)
        {
            headerWritten = true;
            final ByteBuffer header = ByteBuffer.allocate(PcapFormat.FILE_HEADER_LENGTH).order(order);
            header.putInt(magic).putShort((short)major).putShort((short)minor).putInt(0).putInt(0)
                .putInt(snaplen).putInt(linktype);
            out.writeBytes(header.array());
        }
    }

    /**
     * Adds a record with {@code caplen = origlen = frame.length}.
     *
     * @param timestampNs the frame's time in ns since the epoch (truncated to us in a microsecond file).
     * @param frame       the frame bytes.
     */
    public PcapBuilder record(final long timestampNs, final byte[] frame)
    {
        return record(timestampNs, frame.length, frame.length, frame);
    }

    /**
     * Adds a record header with the given lengths followed by {@code data} (which need not be caplen long).
     */
    public PcapBuilder record(final long timestampNs, final int caplen, final int origlen, final byte[] data)
    {
        header();
        final ByteBuffer record = ByteBuffer.allocate(PcapFormat.RECORD_HEADER_LENGTH).order(order);
        final long seconds = timestampNs / 1_000_000_000L;
        final long fraction = timestampNs % 1_000_000_000L;
        record.putInt((int)seconds).putInt((int)(nanoseconds ? fraction : fraction / 1000)).putInt(caplen)
            .putInt(origlen);
        out.writeBytes(record.array());
        out.writeBytes(data);
        return this;
    }

    /** Appends raw bytes (a partial record header, garbage). */
    public PcapBuilder raw(final byte[] bytes)
    {
        header();
        out.writeBytes(bytes);
        return this;
    }

    /** @return the file's bytes so far (the header even without records). */
    public byte[] bytes()
    {
        header();
        return out.toByteArray();
    }

    /** Writes the file and returns its path. */
    public Path write(final Path path)
    {
        try
        {
            Files.write(path, bytes());
            return path;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * @param length bytes.
     * @param seed   varies the content.
     * @return an Ethernet-looking frame: broadcast destination, a locally administered source, EtherType 0x88b6
     * (IEEE local experimental 2: not pagewire's own test frames, which use 0x88b5), then a pattern.
     */
    public static byte[] frame(final int length, final int seed)
    {
        final byte[] frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)(seed * 31 + i * 7);
        }
        for (int i = 0; i < Math.min(6, length); i++)
        {
            frame[i] = (byte)0xff;
        }
        if (length >= 14)
        {
            frame[6] = 0x02;
            frame[12] = (byte)0x88;
            frame[13] = (byte)0xb6;
        }
        return frame;
    }
}
