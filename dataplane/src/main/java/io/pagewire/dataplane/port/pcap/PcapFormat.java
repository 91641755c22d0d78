package io.pagewire.dataplane.port.pcap;

/**
 * Byte layout of a classic libpcap capture file (draft-ietf-opsawg-pcap, "the pcap capture file format"): a 24-byte
 * file header, then records of a 16-byte header and the captured bytes. Every field is in the byte order of the
 * writer, which the reader learns from the magic number; the magic also says whether the second timestamp field
 * counts microseconds or nanoseconds.
 * <pre>
 * File header (24 bytes)
 *   0               4       6       8               12              16              20              24
 *   +---------------+-------+-------+---------------+---------------+---------------+---------------+
 *   | magic (u32)   |major  |minor  | thiszone      | sigfigs       | snaplen (u32) | linktype (u32)|
 *   | a1b2c3d4 us   |(u16) 2|(u16) 4| (i32) 0       | (u32) 0       |               | 1 = Ethernet  |
 *   | a1b23c4d ns   |       |       |               |               |               |               |
 *   +---------------+-------+-------+---------------+---------------+---------------+---------------+
 *
 * Record header (16 bytes), followed by caplen bytes of frame
 *   0               4               8               12              16
 *   +---------------+---------------+---------------+---------------+
 *   | ts seconds    | ts fraction   | caplen (u32)  | origlen (u32) |
 *   | (u32)         | us or ns      | bytes in file | bytes on wire |
 *   +---------------+---------------+---------------+---------------+
 * </pre>
 * The linktype field's low 26 bits are the link type; bit 26 says the frames end in an FCS whose length in 16-bit
 * words is in bits 28..31. pcapng files (block type 0x0a0d0d0a first) are a different format, which
 * {@link PcapngConverter} turns into this one.
 */
public final class PcapFormat
{
    /** Magic of a microsecond-resolution file, as the writer's byte order reads it. */
    public static final int MAGIC_MICROSECONDS = 0xa1b2c3d4;
    /** Magic of a nanosecond-resolution file, as the writer's byte order reads it. */
    public static final int MAGIC_NANOSECONDS = 0xa1b23c4d;
    /** First four bytes of a pcapng file (the section header block type, the same in both byte orders). */
    public static final int PCAPNG_BLOCK_TYPE = 0x0a0d0d0a;

    /** The file format version this reader and writer speak: 2.4. */
    public static final int VERSION_MAJOR = 2;
    /** Minor version written. */
    public static final int VERSION_MINOR = 4;

    /** Offset of the magic (u32). */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the major version (u16). */
    public static final int VERSION_MAJOR_OFFSET = 4;
    /** Offset of the minor version (u16). */
    public static final int VERSION_MINOR_OFFSET = 6;
    /** Offset of thiszone (i32, always 0 in practice). */
    public static final int THISZONE_OFFSET = 8;
    /** Offset of sigfigs (u32, always 0). */
    public static final int SIGFIGS_OFFSET = 12;
    /** Offset of the snapshot length (u32): no record's caplen should exceed it. */
    public static final int SNAPLEN_OFFSET = 16;
    /** Offset of the link type and FCS information (u32). */
    public static final int LINKTYPE_OFFSET = 20;
    /** Length of the file header; the first record starts here. */
    public static final int FILE_HEADER_LENGTH = 24;

    /** Offset of the timestamp's seconds (u32) in a record header. */
    public static final int TS_SECONDS_OFFSET = 0;
    /** Offset of the timestamp's fraction (u32, microseconds or nanoseconds by the magic). */
    public static final int TS_FRACTION_OFFSET = 4;
    /** Offset of the captured length (u32): bytes of frame that follow the record header. */
    public static final int CAPLEN_OFFSET = 8;
    /** Offset of the original length (u32): the frame's length on the wire. */
    public static final int ORIGLEN_OFFSET = 12;
    /** Length of a record header; the frame starts here. */
    public static final int RECORD_HEADER_LENGTH = 16;

    /** LINKTYPE_ETHERNET: frames start with the Ethernet header (no preamble, no FCS). */
    public static final int LINKTYPE_ETHERNET = 1;
    /** Bits of the linktype field that hold the link type. */
    public static final int LINKTYPE_MASK = 0x03FF_FFFF;
    /** Bit of the linktype field saying the frames carry an FCS. */
    public static final int FCS_PRESENT_FLAG = 0x0400_0000;

    /**
     * The largest caplen libpcap accepts (its MAXIMUM_SNAPLEN): a record claiming more is corrupt, and a snaplen of
     * 0 or above it means this.
     */
    public static final int MAXIMUM_SNAPLEN = 262144;

    /** Snapshot length pagewire writes: its largest frame ({@code VirtioNetHeader.MAX_FRAME_LENGTH}). */
    public static final int WRITE_SNAPLEN = 65535;

    private PcapFormat()
    {
    }

    /**
     * @param linktype the link type (low bits of the linktype field).
     * @return its LINKTYPE_ name for the common ones (for error messages), else "linktype N".
     */
    public static String linktypeName(final int linktype)
    {
        return switch (linktype)
        {
            case 0 -> "NULL (BSD loopback)";
            case 1 -> "ETHERNET";
            case 101 -> "RAW (IP without link header)";
            case 105 -> "IEEE802_11";
            case 113 -> "LINUX_SLL (Linux cooked capture, tcpdump -i any)";
            case 127 -> "IEEE802_11_RADIOTAP";
            case 228 -> "IPV4";
            case 229 -> "IPV6";
            case 276 -> "LINUX_SLL2 (Linux cooked capture v2, tcpdump -i any)";
            default -> "linktype " + linktype;
        };
    }
}
