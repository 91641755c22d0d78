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

    /** A pcapng block: type, total length, body padded to 4, total length again, in {@code order}. */
    static byte[] block(final ByteOrder order, final int type, final byte[] body)
    {
        final int padded = (body.length + 3) & ~3;
        final java.nio.ByteBuffer block = java.nio.ByteBuffer.allocate(12 + padded).order(order);
        block.putInt(type).putInt(12 + padded).put(body).position(8 + padded);
        block.putInt(12 + padded);
        return block.array();
    }

    static byte[] pcapng(final ByteOrder order, final byte[]... blocks)
    {
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(block(order, 0x0a0d0d0a, java.nio.ByteBuffer.allocate(16).order(order)
            .putInt(0x1a2b3c4d).putShort((short)1).putShort((short)0).putLong(-1).array()));
        for (final byte[] block : blocks)
        {
            out.writeBytes(block);
        }
        return out.toByteArray();
    }

    static byte[] idb(final ByteOrder order, final int linktype, final int tsresol)
    {
        final java.nio.ByteBuffer body = java.nio.ByteBuffer.allocate(tsresol < 0 ? 8 : 20).order(order)
            .putShort((short)linktype).putShort((short)0).putInt(0);
        if (tsresol >= 0)
        {
            body.putShort((short)9).putShort((short)1).put((byte)tsresol).put(new byte[3]).putInt(0);
        }
        return block(order, 1, body.array());
    }

    static byte[] epb(final ByteOrder order, final int iface, final long units, final byte[] frame)
    {
        final java.nio.ByteBuffer body = java.nio.ByteBuffer.allocate(20 + frame.length).order(order)
            .putInt(iface).putInt((int)(units >>> 32)).putInt((int)units).putInt(frame.length).putInt(frame.length)
            .put(frame);
        return block(order, 6, body.array());
    }

    @ParameterizedTest
    @CsvSource({"LITTLE_ENDIAN", "BIG_ENDIAN"})
    void pcapngIsReadAsTheSameFramesAndTimes(final String orderName)
    {
        final ByteOrder order = "BIG_ENDIAN".equals(orderName) ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        final byte[] a = PcapBuilder.frame(60, 1);
        final byte[] b = PcapBuilder.frame(1514, 2);
        final byte[] c = PcapBuilder.frame(99, 3);
        final byte[] spb = java.nio.ByteBuffer.allocate(4 + c.length).order(order).putInt(c.length).put(c).array();
        final byte[] file = pcapng(order,
            idb(order, 1, -1),
            idb(order, 1, 9),
            idb(order, 1, 0x80 | 20),
            epb(order, 0, T0 / 1000, a),
            block(order, 5, new byte[12]),
            epb(order, 1, T0 + 7, b),
            block(order, 3, spb),
            epb(order, 2, 3L << 20, a));
        try (PcapFile pcap = PcapFile.open(write("f.pcapng", file)))
        {
            assertEquals(4, pcap.records());
            final long[] times = {T0 / 1000 * 1000, T0 + 7, T0 + 7, 3_000_000_000L};
            final byte[][] frames = {a, b, c, a};
            long offset = pcap.firstRecordOffset();
            for (int i = 0; i < 4; i++)
            {
                final int caplen = pcap.caplen(offset);
                assertArrayEquals(frames[i], read(pcap.frameAddress(offset), caplen), "frame " + i);
                assertEquals(times[i], pcap.timestampNs(offset), "time " + i);
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
        }
    }

    @Test
    void malformedPcapngIsRefusedNamingTheBlock()
    {
        final ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        final byte[] frame = PcapBuilder.frame(64, 1);
        final byte[] good = pcapng(le, idb(le, 1, -1), epb(le, 0, 1, frame));
        final String cut = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("cut.pcapng", Arrays.copyOf(good, good.length - 8)))).getMessage();
        assertTrue(cut.contains("pcapng block 3 at offset 48: block total length 96"), cut);

        final String sll = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("sll.pcapng", pcapng(le, idb(le, 113, -1), epb(le, 0, 1, frame))))).getMessage();
        assertTrue(sll.contains("interface 0 has link type 113"), sll);

        final String iface = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("if.pcapng", pcapng(le, idb(le, 1, -1), epb(le, 1, 1, frame))))).getMessage();
        assertTrue(iface.contains("packet of interface 1, but the section describes 1"), iface);

        final byte[] trailer = good.clone();
        trailer[trailer.length - 4] = 0x7c;
        final String mismatch = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("trailer.pcapng", trailer))).getMessage();
        assertTrue(mismatch.contains("but 124 at its end"), mismatch);

        final byte[] bigCaplen = good.clone();
        bigCaplen[48 + 8 + 12] = (byte)200;
        final String caplen = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("caplen.pcapng", bigCaplen))).getMessage();
        assertTrue(caplen.contains("caplen 200 but the block holds 64"), caplen);

        final byte[] shb = new byte[28];
        shb[0] = 0x0a;
        shb[1] = 0x0d;
        shb[2] = 0x0d;
        shb[3] = 0x0a;
        final String magic = assertThrows(PcapFormatException.class,
            () -> PcapFile.open(write("magic.pcapng", shb))).getMessage();
        assertTrue(magic.contains("byte-order magic 0x00000000"), magic);
    }

    @Test
    void mutatedPcapngFilesAreRefusedOrReadInsideTheFile()
    {
        final ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        final java.io.ByteArrayOutputStream blocks = new java.io.ByteArrayOutputStream();
        blocks.writeBytes(idb(le, 1, 9));
        for (int i = 0; i < 30; i++)
        {
            blocks.writeBytes(epb(le, 0, T0 + i, PcapBuilder.frame(1 + (i * 89) % 1500, i)));
        }
        final byte[] valid = pcapng(le, blocks.toByteArray());
        final java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        int refused = 0;
        for (int round = 0; round < 400; round++)
        {
            final byte[] bytes = valid.clone();
            for (int m = 0; m < 1 + random.nextInt(3); m++)
            {
                bytes[random.nextInt(bytes.length)] = (byte)random.nextInt(256);
            }
            final int length = random.nextInt(8) == 0 ? random.nextInt(bytes.length) : bytes.length;
            try (PcapFile file = PcapFile.open(write("m" + round + ".pcapng", Arrays.copyOf(bytes, length))))
            {
                long offset = file.firstRecordOffset();
                while (offset < file.length())
                {
                    final int caplen = file.caplen(offset);
                    assertTrue(caplen >= 0 && offset + 16 + caplen <= file.length(), "record inside the image");
                    offset = PcapFile.nextRecordOffset(offset, caplen);
                }
                assertEquals(file.length(), offset);
            }
            catch (final PcapFormatException ex)
            {
                refused++;
            }
        }
        assertTrue(refused > 50, "most mutations break the file: " + refused);
    }

    @Test
    void pcapngTimestampResolutions()
    {
        assertEquals(1_500_000_000L, PcapngConverter.toNanoseconds(1_500_000, 1_000_000, 0));
        assertEquals(42, PcapngConverter.toNanoseconds(42, 1_000_000_000L, 0));
        assertEquals(4, PcapngConverter.toNanoseconds(4_200, 1_000_000_000_000L, 0));
        assertEquals(1_000_000_000L, PcapngConverter.toNanoseconds(1L << 20, 0, 20));
        assertEquals(500_000_000L, PcapngConverter.toNanoseconds(1L << 19, 0, 20));
        // 2^-30 units near 2^62: the product with 10^9 needs 128 bits.
        assertEquals((1L << 32) * 1_000_000_000L, PcapngConverter.toNanoseconds(1L << 62, 0, 30));
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

    @Test
    void mutatedFilesAreRefusedOrWalkExactlyInsideTheFile() throws Exception
    {
        final PcapBuilder builder = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true).snaplen(2000);
        for (int i = 0; i < 40; i++)
        {
            builder.record(T0 + i * 1000L, PcapBuilder.frame(1 + (i * 97) % 1600, i));
        }
        final byte[] valid = builder.bytes();
        final java.util.SplittableRandom random = new java.util.SplittableRandom(99);
        int refused = 0;
        for (int round = 0; round < 500; round++)
        {
            final byte[] bytes = valid.clone();
            final int mutations = 1 + random.nextInt(4);
            for (int m = 0; m < mutations; m++)
            {
                // Mostly hit the length fields (the dangerous ones), sometimes anything, sometimes cut the file.
                final int kind = random.nextInt(3);
                if (kind == 0)
                {
                    bytes[24 + random.nextInt(bytes.length - 24)] = (byte)random.nextInt(256);
                }
                else if (kind == 1)
                {
                    bytes[random.nextInt(24)] = (byte)random.nextInt(256);
                }
                else
                {
                    final long offset = recordOffset(valid, random.nextInt(40));
                    bytes[(int)offset + 8 + random.nextInt(4)] = (byte)random.nextInt(256);
                }
            }
            final int length = random.nextInt(8) == 0 ? random.nextInt(bytes.length) : bytes.length;
            final Path path = write("m" + round + ".pcap", Arrays.copyOf(bytes, length));
            try (PcapFile file = PcapFile.open(path))
            {
                long offset = file.firstRecordOffset();
                long records = 0;
                while (offset < file.length())
                {
                    final int caplen = file.caplen(offset);
                    assertTrue(caplen >= 0 && offset + 16 + caplen <= file.length(), "record inside the file");
                    offset = PcapFile.nextRecordOffset(offset, caplen);
                    records++;
                }
                assertEquals(file.length(), offset, "the last record ends at the end of the file");
                assertEquals(file.records(), records);
            }
            catch (final PcapFormatException ex)
            {
                refused++;
                assertTrue(ex.getMessage().startsWith(path.toString()), ex.getMessage());
            }
            Files.delete(path);
        }
        assertTrue(refused > 100, "most mutations break the file: " + refused);
    }

    private static long recordOffset(final byte[] file, final int record)
    {
        long offset = 24;
        for (int i = 0; i < record; i++)
        {
            final int caplen = (file[(int)offset + 8] & 0xFF) | (file[(int)offset + 9] & 0xFF) << 8 |
                (file[(int)offset + 10] & 0xFF) << 16 | (file[(int)offset + 11] & 0xFF) << 24;
            offset += 16 + caplen;
        }
        return offset;
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
