package io.pagewire.dataplane.port.pcap;

import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;

/**
 * Reads a pcapng file (draft-ietf-opsawg-pcapng) into the bytes of the equivalent classic pcap file (little-endian,
 * nanosecond timestamps, Ethernet), so that {@link PcapFile} replays both the same way: pcapng input is converted
 * in memory once at open, which costs memory about the size of the file.
 * <p>
 * Blocks are walked with every length checked against the file (a block that runs past the end, a total length that
 * is not a multiple of 4 or disagrees with its trailing copy, a packet longer than its block, an unknown interface,
 * are each refused naming the block and its offset). Enhanced and simple packet blocks become records; section
 * headers set the byte order (each section may differ); interface descriptions give each interface's link type
 * (Ethernet only) and timestamp resolution ({@code if_tsresol}); other blocks (statistics, name resolution, custom)
 * are skipped.
 * <pre>
 * Block: type (u32) | total length (u32) | body | total length (u32), lengths a multiple of 4
 *   SHB 0x0a0d0d0a: byte-order magic 0x1a2b3c4d (u32) | major 1 (u16) | minor (u16) | section length (i64) | options
 *   IDB 1:          link type (u16) | reserved (u16) | snaplen (u32) | options (if_tsresol = code 9)
 *   EPB 6:          interface (u32) | ts high (u32) | ts low (u32) | caplen (u32) | origlen (u32) | data, padded
 *   SPB 3:          origlen (u32) | data, padded (interface 0; caplen = min(origlen, snaplen, room))
 * </pre>
 */
final class PcapngConverter
{
    static final int SECTION_HEADER_BLOCK = PcapFormat.PCAPNG_BLOCK_TYPE;
    static final int INTERFACE_DESCRIPTION_BLOCK = 1;
    static final int SIMPLE_PACKET_BLOCK = 3;
    static final int ENHANCED_PACKET_BLOCK = 6;
    static final int BYTE_ORDER_MAGIC = 0x1a2b3c4d;
    private static final int OPTION_END = 0;
    private static final int OPTION_IF_TSRESOL = 9;
    private static final int MAX_INTERFACES = 4096;

    private PcapngConverter()
    {
    }

    /**
     * @param path    the file, for messages.
     * @param address where the file is mapped.
     * @param size    bytes of the file.
     * @return the classic pcap file's bytes.
     * @throws PcapFormatException naming the block and its offset when the file is malformed or not Ethernet.
     */
    static byte[] toClassic(final Path path, final long address, final long size)
    {
        if (size > Integer.MAX_VALUE - 64)
        {
            throw new PcapFormatException(path + ": pcapng file of " + size + " bytes is too large to convert in " +
                "memory; convert it with `editcap -F pcap " + path + " out.pcap`");
        }
        final ByteArrayOutputStream out = new ByteArrayOutputStream((int)Math.min(size + 64, 1 << 26));
        final UnsafeBuffer header = new UnsafeBuffer(new byte[PcapFormat.RECORD_HEADER_LENGTH]);
        final UnsafeBuffer fileHeader = new UnsafeBuffer(new byte[PcapFormat.FILE_HEADER_LENGTH]);
        PcapWriter.writeFileHeader(fileHeader, 0, true, PcapFormat.MAXIMUM_SNAPLEN);
        out.writeBytes(fileHeader.byteArray());

        final int[] linktypes = new int[MAX_INTERFACES];
        final int[] snaplens = new int[MAX_INTERFACES];
        final long[] unitsPerSecond = new long[MAX_INTERFACES];
        final int[] shifts = new int[MAX_INTERFACES];
        int interfaces = 0;
        boolean bigEndian = false;
        boolean inSection = false;
        long lastTimestampNs = 0;
        long block = 0;
        long offset = 0;
        final byte[] frame = new byte[PcapFormat.MAXIMUM_SNAPLEN];
        final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        while (offset < size)
        {
            block++;
            final String where = path + ": pcapng block " + block + " at offset " + offset;
            if (size - offset < 12)
            {
                throw new PcapFormatException(where + ": only " + (size - offset) +
                    " bytes left, a block has at least 12: the file is truncated");
            }
            final int rawType = UnsafeApi.getIntUnaligned(null, address + offset, false);
            if (rawType == SECTION_HEADER_BLOCK)
            {
                final int magic = UnsafeApi.getIntUnaligned(null, address + offset + 8, false);
                if (magic == BYTE_ORDER_MAGIC)
                {
                    bigEndian = false;
                }
                else if (Integer.reverseBytes(magic) == BYTE_ORDER_MAGIC)
                {
                    bigEndian = true;
                }
                else
                {
                    throw new PcapFormatException(String.format(
                        "%s: section header byte-order magic 0x%08x, expected 1a2b3c4d", where, magic));
                }
                inSection = true;
                interfaces = 0;
            }
            else if (!inSection)
            {
                throw new PcapFormatException(where + ": the file does not start with a section header block");
            }
            final int type = UnsafeApi.getIntUnaligned(null, address + offset, bigEndian);
            final long total = Integer.toUnsignedLong(UnsafeApi.getIntUnaligned(null, address + offset + 4, bigEndian));
            if (total < 12 || (total & 3) != 0 || total > size - offset)
            {
                throw new PcapFormatException(where + ": block total length " + total + " must be a multiple of 4 " +
                    "of at least 12 within the " + (size - offset) + " bytes left (truncated or corrupt)");
            }
            final long trailer = Integer.toUnsignedLong(
                UnsafeApi.getIntUnaligned(null, address + offset + total - 4, bigEndian));
            if (trailer != total)
            {
                throw new PcapFormatException(where + ": block total length " + total + " but " + trailer +
                    " at its end: corrupt");
            }
            final long body = offset + 8;
            final long bodyLength = total - 12;
            switch (type)
            {
                case SECTION_HEADER_BLOCK ->
                {
                    if (bodyLength < 16)
                    {
                        throw new PcapFormatException(where + ": section header body of " + bodyLength + " bytes");
                    }
                    final int major = UnsafeApi.getShortUnaligned(null, address + body + 4, bigEndian) & 0xFFFF;
                    if (major != 1)
                    {
                        throw new PcapFormatException(where + ": pcapng version " + major + ", this reader reads 1.x");
                    }
                }
                case INTERFACE_DESCRIPTION_BLOCK ->
                {
                    if (bodyLength < 8)
                    {
                        throw new PcapFormatException(where + ": interface description body of " + bodyLength +
                            " bytes, at least 8");
                    }
                    if (interfaces == MAX_INTERFACES)
                    {
                        throw new PcapFormatException(where + ": more than " + MAX_INTERFACES + " interfaces");
                    }
                    linktypes[interfaces] = UnsafeApi.getShortUnaligned(null, address + body, bigEndian) & 0xFFFF;
                    snaplens[interfaces] = UnsafeApi.getIntUnaligned(null, address + body + 4, bigEndian);
                    unitsPerSecond[interfaces] = 1_000_000;
                    shifts[interfaces] = 0;
                    readTsresol(where, address, body + 8, bodyLength - 8, bigEndian, unitsPerSecond, shifts,
                        interfaces);
                    interfaces++;
                }
                case ENHANCED_PACKET_BLOCK, SIMPLE_PACKET_BLOCK ->
                {
                    final boolean enhanced = type == ENHANCED_PACKET_BLOCK;
                    final int fixed = enhanced ? 20 : 4;
                    if (bodyLength < fixed)
                    {
                        throw new PcapFormatException(where + ": packet block body of " + bodyLength + " bytes");
                    }
                    final long iface = enhanced ?
                        Integer.toUnsignedLong(UnsafeApi.getIntUnaligned(null, address + body, bigEndian)) : 0;
                    if (iface >= interfaces)
                    {
                        throw new PcapFormatException(where + ": packet of interface " + iface + ", but the " +
                            "section describes " + interfaces + ": corrupt");
                    }
                    final int ifIndex = (int)iface;
                    if (linktypes[ifIndex] != PcapFormat.LINKTYPE_ETHERNET)
                    {
                        throw new PcapFormatException(where + ": interface " + iface + " has link type " +
                            linktypes[ifIndex] + " (" + PcapFormat.linktypeName(linktypes[ifIndex]) +
                            "): nic.pcap.read replays Ethernet captures (link type 1) only");
                    }
                    final long room = bodyLength - fixed;
                    long caplen;
                    final long origlen;
                    if (enhanced)
                    {
                        final long units = Integer.toUnsignedLong(
                            UnsafeApi.getIntUnaligned(null, address + body + 4, bigEndian)) << 32 |
                            Integer.toUnsignedLong(UnsafeApi.getIntUnaligned(null, address + body + 8, bigEndian));
                        lastTimestampNs = toNanoseconds(units, unitsPerSecond[ifIndex], shifts[ifIndex]);
                        caplen = Integer.toUnsignedLong(UnsafeApi.getIntUnaligned(null, address + body + 12, bigEndian));
                        origlen = Integer.toUnsignedLong(
                            UnsafeApi.getIntUnaligned(null, address + body + 16, bigEndian));
                        if (caplen > room)
                        {
                            throw new PcapFormatException(where + ": caplen " + caplen + " but the block holds " +
                                room + " bytes of packet: corrupt");
                        }
                    }
                    else
                    {
                        origlen = Integer.toUnsignedLong(UnsafeApi.getIntUnaligned(null, address + body, bigEndian));
                        final long snaplen = Integer.toUnsignedLong(snaplens[0]);
                        caplen = Math.min(origlen, room);
                        if (snaplen != 0)
                        {
                            caplen = Math.min(caplen, snaplen);
                        }
                    }
                    if (caplen > PcapFormat.MAXIMUM_SNAPLEN)
                    {
                        throw new PcapFormatException(where + ": caplen " + caplen + " is above the " +
                            PcapFormat.MAXIMUM_SNAPLEN + "-byte maximum any capture has: corrupt");
                    }
                    PcapWriter.writeRecordHeader(header, 0, lastTimestampNs, true, (int)caplen,
                        (int)Math.min(origlen, Integer.MAX_VALUE));
                    out.writeBytes(header.byteArray());
                    if (caplen > 0)
                    {
                        view.wrap(address + body + fixed, (int)caplen);
                        view.getBytes(0, frame, 0, (int)caplen);
                    }
                    out.write(frame, 0, (int)caplen);
                }
                default ->
                {
                    // Statistics, name resolution, decryption secrets, custom blocks: nothing to replay.
                }
            }
            offset += total;
        }
        return out.toByteArray();
    }

    private static void readTsresol(
        final String where,
        final long address,
        final long options,
        final long length,
        final boolean bigEndian,
        final long[] unitsPerSecond,
        final int[] shifts,
        final int iface)
    {
        long offset = 0;
        while (length - offset >= 4)
        {
            final int code = UnsafeApi.getShortUnaligned(null, address + options + offset, bigEndian) & 0xFFFF;
            final int valueLength = UnsafeApi.getShortUnaligned(null, address + options + offset + 2, bigEndian) &
                0xFFFF;
            if (code == OPTION_END)
            {
                return;
            }
            if (valueLength > length - offset - 4)
            {
                throw new PcapFormatException(where + ": option " + code + " of " + valueLength +
                    " bytes runs past its block: corrupt");
            }
            if (code == OPTION_IF_TSRESOL && valueLength >= 1)
            {
                final int value = UnsafeApi.getByte(address + options + offset + 4) & 0xFF;
                if ((value & 0x80) != 0)
                {
                    final int power = value & 0x7F;
                    if (power > 62)
                    {
                        throw new PcapFormatException(where + ": if_tsresol 2^-" + power + " is not supported");
                    }
                    unitsPerSecond[iface] = 0;
                    shifts[iface] = power;
                }
                else
                {
                    if (value > 18)
                    {
                        throw new PcapFormatException(where + ": if_tsresol 10^-" + value + " is not supported");
                    }
                    long units = 1;
                    for (int i = 0; i < value; i++)
                    {
                        units *= 10;
                    }
                    unitsPerSecond[iface] = units;
                    shifts[iface] = 0;
                }
            }
            offset += 4 + ((valueLength + 3) & ~3);
        }
    }

    /** Timestamp units to ns: {@code units / unitsPerSecond} s, or {@code units / 2^shift} s when unitsPerSecond is 0. */
    static long toNanoseconds(final long units, final long unitsPerSecond, final int shift)
    {
        if (unitsPerSecond == 0)
        {
            // units * 10^9 / 2^shift without overflow: the 128-bit product shifted right.
            final long high = Math.unsignedMultiplyHigh(units, 1_000_000_000L);
            final long low = units * 1_000_000_000L;
            return shift == 0 ? low : (high << (64 - shift)) | (low >>> shift);
        }
        if (unitsPerSecond <= 1_000_000_000L)
        {
            return units * (1_000_000_000L / unitsPerSecond);
        }
        return units / (unitsPerSecond / 1_000_000_000L);
    }
}
