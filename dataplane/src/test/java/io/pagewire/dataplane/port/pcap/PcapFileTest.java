package io.pagewire.dataplane.port.pcap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reader on crafted files: both byte orders and resolutions decode to the same frames and times; every way a
 * file can be unusable is refused at open with a message naming the file, the record and its offset.
 */
class PcapFileTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final long T0 = 1_700_000_000_123_456_789L;

    @TempDir
    Path dir;

    static byte[] read(final long address, final int length)
    {
        return ALL.asSlice(address, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @CsvSource({"LITTLE_ENDIAN,false", "LITTLE_ENDIAN,true", "BIG_ENDIAN,false", "BIG_ENDIAN,true"})
    void decodesEveryByteOrderAndResolution(final String orderName, final boolean nanoseconds)
    {
        final ByteOrder order = "BIG_ENDIAN".equals(orderName) ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        final byte[][] frames = {PcapBuilder.frame(60, 1), PcapBuilder.frame(1514, 2), PcapBuilder.frame(97, 3)};
        final long[] times = {T0, T0 + 1_000_000, T0 + 2_500_001_000L};
        final PcapBuilder builder = new PcapBuilder(order, nanoseconds).snaplen(1600);
        for (int i = 0; i < frames.length; i++)
        {
            builder.record(times[i], frames[i]);
        }
        try (PcapFile file = PcapFile.open(builder.write(dir.resolve("f.pcap"))))
        {
            assertEquals(order == ByteOrder.BIG_ENDIAN, file.bigEndian());
            assertEquals(nanoseconds, file.nanoseconds());
            assertEquals(1600, file.snaplen());
            assertEquals(3, file.records());
            assertEquals(3, file.deliverableRecords());
            final long resolution = nanoseconds ? 1 : 1000;
            assertEquals(T0 / resolution * resolution, file.firstTimestampNs());
            assertEquals(times[2] / resolution * resolution, file.lastTimestampNs());
            long offset = file.firstRecordOffset();
            for (int i = 0; i < frames.length; i++)
            {
                final int caplen = file.caplen(offset);
                assertEquals(frames[i].length, caplen);
                assertEquals(times[i] / resolution * resolution, file.timestampNs(offset));
                assertArrayEquals(frames[i], read(file.frameAddress(offset), caplen), "frame " + i);
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
            assertEquals(file.length(), offset);
        }
    }

    @Test
    void emptyCaptureHasNoRecords()
    {
        try (PcapFile file = PcapFile.open(new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).write(dir.resolve("e"))))
        {
            assertEquals(0, file.records());
            assertEquals(PcapFormat.FILE_HEADER_LENGTH, file.length());
        }
    }

    @Test
    void truncatedLastRecordIsRefusedNamingTheRecord()
    {
        final byte[] whole = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false)
            .record(T0, PcapBuilder.frame(100, 1)).record(T0 + 1, PcapBuilder.frame(200, 2)).bytes();
        final Path path = write("cut.pcap", Arrays.copyOf(whole, whole.length - 50));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        final long offset = 24 + 16 + 100;
        assertTrue(ex.getMessage().contains(path.toString()), ex.getMessage());
        assertTrue(ex.getMessage().contains("record 2 at offset " + offset + ": caplen 200 but only 150 bytes"),
            ex.getMessage());
        assertTrue(ex.getMessage().contains("truncated"), ex.getMessage());
    }

    @Test
    void truncatedRecordHeaderIsRefused()
    {
        final Path path = new PcapBuilder(ByteOrder.BIG_ENDIAN, true).record(T0, PcapBuilder.frame(64, 1))
            .raw(new byte[10]).write(dir.resolve("cut-header.pcap"));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("record 2 at offset " + (24 + 16 + 64) + ": only 10 of the 16-byte " +
            "record header"), ex.getMessage());
    }

    @Test
    void caplenAboveTheMaximumIsCorrupt()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false)
            .record(T0, 0x7fff_0000, 60, new byte[60]).write(dir.resolve("huge.pcap"));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("record 1 at offset 24: caplen " + 0x7fff_0000 + " is above the 262144"),
            ex.getMessage());
        final Path negative = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false)
            .record(T0, 0xffff_fff0, 60, new byte[60]).write(dir.resolve("negative.pcap"));
        final PcapFormatException ex2 = assertThrows(PcapFormatException.class, () -> PcapFile.open(negative));
        assertTrue(ex2.getMessage().contains("caplen 4294967280"), ex2.getMessage());
    }

    @Test
    void caplenAboveSnaplenAndCaplenZeroAreBadRecordsNotErrors()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).snaplen(128)
            .record(T0, PcapBuilder.frame(100, 1))
            .record(T0 + 1000, 0, 0, new byte[0])
            .record(T0 + 2000, PcapBuilder.frame(129, 2))
            .record(T0 + 3000, PcapBuilder.frame(128, 3))
            .write(dir.resolve("bad.pcap"));
        try (PcapFile file = PcapFile.open(path))
        {
            assertEquals(4, file.records());
            assertEquals(2, file.deliverableRecords());
            assertTrue(file.isDeliverable(128));
            assertFalse(file.isDeliverable(129));
            assertFalse(file.isDeliverable(0));
            assertEquals(T0 / 1000 * 1000 + 3000, file.lastTimestampNs());
        }
    }

    @Test
    void snaplenZeroMeansTheMaximum()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).snaplen(0)
            .record(T0, PcapBuilder.frame(9000, 1)).write(dir.resolve("snap0.pcap"));
        try (PcapFile file = PcapFile.open(path))
        {
            assertEquals(PcapFormat.MAXIMUM_SNAPLEN, file.snaplen());
            assertEquals(1, file.deliverableRecords());
        }
    }

    @Test
    void wrongLinktypeIsRefusedByName()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).linktype(113)
            .record(T0, PcapBuilder.frame(60, 1)).write(dir.resolve("sll.pcap"));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("link type 113 (LINUX_SLL"), ex.getMessage());
        assertTrue(ex.getMessage().contains("Ethernet captures (link type 1) only"), ex.getMessage());
    }

    @Test
    void ethernetWithFcsIsRefused()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false)
            .linktype(PcapFormat.LINKTYPE_ETHERNET | PcapFormat.FCS_PRESENT_FLAG | (2 << 28))
            .record(T0, PcapBuilder.frame(64, 1)).write(dir.resolve("fcs.pcap"));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("FCS (4 bytes)"), ex.getMessage());
    }

    @Test
    void notAPcapIsRefusedWithTheMagic()
    {
        final Path path = write("text.pcap", "this is not a capture file at all".getBytes());
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("is not a pcap file: magic 0x74686973"), ex.getMessage());

        final Path tiny = write("tiny.pcap", new byte[] {(byte)0xd4, (byte)0xc3, (byte)0xb2, (byte)0xa1});
        final PcapFormatException ex2 = assertThrows(PcapFormatException.class, () -> PcapFile.open(tiny));
        assertTrue(ex2.getMessage().contains("4 bytes, shorter than the 24-byte pcap file header"), ex2.getMessage());
    }

    @Test
    void pcapngIsRefusedWithAConversionHint()
    {
        final byte[] shb = new byte[28];
        shb[0] = 0x0a;
        shb[1] = 0x0d;
        shb[2] = 0x0d;
        shb[3] = 0x0a;
        shb[8] = 0x4d;
        shb[9] = 0x3c;
        shb[10] = 0x2b;
        shb[11] = 0x1a;
        final Path path = write("x.pcapng", shb);
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("is a pcapng file"), ex.getMessage());
        assertTrue(ex.getMessage().contains("editcap -F pcap"), ex.getMessage());
    }

    @Test
    void otherVersionsAreRefused()
    {
        final Path path = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).version(1, 0)
            .record(T0, PcapBuilder.frame(60, 1)).write(dir.resolve("v1.pcap"));
        final PcapFormatException ex = assertThrows(PcapFormatException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains("pcap version 1.0"), ex.getMessage());
    }

    @Test
    void missingFileIsAnIoErrorNamingIt()
    {
        final Path path = dir.resolve("absent.pcap");
        final UncheckedIOException ex = assertThrows(UncheckedIOException.class, () -> PcapFile.open(path));
        assertTrue(ex.getMessage().contains(path + " does not exist"), ex.getMessage());
    }

    private Path write(final String name, final byte[] bytes)
    {
        try
        {
            return Files.write(dir.resolve(name), bytes);
        }
        catch (final java.io.IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
