package io.pagewire.dataplane.port.pcap;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The writer's output byte by byte against an independently built expectation ({@link PcapBuilder}), both
 * resolutions; a full ring drops and counts instead of waiting; the writer thread writes everything committed before
 * close, across mapping chunks, and the file ends exactly after the last record.
 */
class PcapWriterTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final long EPOCH_OFFSET = 1_700_000_000_000_000_000L;

    @TempDir
    Path dir;

    private static void put(final long address, final byte[] bytes)
    {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ALL, address, bytes.length);
    }

    private static void send(final PcapWriter writer, final byte[] frame, final long nowNs)
    {
        final long address = writer.claim(frame.length, nowNs);
        assertTrue(address != 0);
        put(address, frame);
        writer.commit(frame.length);
    }

    @Test
    void nanosecondOutputMatchesTheFormatByteForByte() throws Exception
    {
        checkByteForByte(true);
    }

    @Test
    void microsecondOutputMatchesTheFormatByteForByte() throws Exception
    {
        checkByteForByte(false);
    }

    private void checkByteForByte(final boolean nanoseconds) throws Exception
    {
        final Path path = dir.resolve("out.pcap");
        final byte[][] frames = {PcapBuilder.frame(60, 1), PcapBuilder.frame(1514, 2), PcapBuilder.frame(1, 3),
            PcapBuilder.frame(65535, 4)};
        final long[] nows = {123_456_789L, 1_000_000_001L, 2_999_999_999L, 3_000_000_000L};
        try (PcapWriter writer = PcapWriter.open(path, nanoseconds, PcapWriter.MIN_RING_CAPACITY, EPOCH_OFFSET,
            null, null))
        {
            writer.start(null);
            for (int i = 0; i < frames.length; i++)
            {
                send(writer, frames[i], nows[i]);
            }
            assertEquals(4, writer.framesCommitted());
        }
        final PcapBuilder expected = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, nanoseconds)
            .snaplen(PcapFormat.WRITE_SNAPLEN);
        for (int i = 0; i < frames.length; i++)
        {
            expected.record(EPOCH_OFFSET + nows[i], frames[i]);
        }
        final byte[] actual = Files.readAllBytes(path);
        assertEquals(expected.bytes().length, actual.length, "file length is exact");
        assertArrayEquals(expected.bytes(), actual);
        // Spot-check the header against the format's literal bytes, not only against the builder.
        final ByteBuffer header = ByteBuffer.wrap(actual).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, header.getInt(0));
        assertEquals(nanoseconds ? (byte)0x4d : (byte)0xd4, actual[0]);
        assertEquals(2, header.getShort(4));
        assertEquals(4, header.getShort(6));
        assertEquals(65535, header.getInt(16));
        assertEquals(1, header.getInt(20));
        assertEquals(1_700_000_000, header.getInt(24));
        assertEquals(nanoseconds ? 123_456_789 : 123_456, header.getInt(28));
        assertEquals(60, header.getInt(32));
        assertEquals(60, header.getInt(36));
    }

    /**
     * A record claimed and given back is not written and does not hold up the one behind it (a claimed record is the
     * ring's until committed or aborted: the writer thread would wait at it for good).
     */
    @Test
    void anAbandonedRecordIsSkipped() throws Exception
    {
        final Path path = dir.resolve("abandoned.pcap");
        final byte[] frame = PcapBuilder.frame(100, 9);
        try (PcapWriter writer = PcapWriter.open(path, true, PcapWriter.MIN_RING_CAPACITY, EPOCH_OFFSET, null, null))
        {
            writer.start(null);
            put(writer.claim(1514, 1), PcapBuilder.frame(1514, 8));
            writer.abandon();
            send(writer, frame, 2);
            assertEquals(1, writer.framesCommitted());
            assertEquals(0, writer.writeDrops());
        }
        final byte[] expected = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true).snaplen(PcapFormat.WRITE_SNAPLEN)
            .record(EPOCH_OFFSET + 2, frame).bytes();
        assertArrayEquals(expected, Files.readAllBytes(path));
    }

    @Test
    void aFullRingDropsAndCountsWithoutWaiting() throws Exception
    {
        final Path path = dir.resolve("full.pcap");
        final byte[] frame = PcapBuilder.frame(9000, 7);
        final long dropsAt;
        final long committed;
        try (PcapWriter writer = PcapWriter.open(path, true, PcapWriter.MIN_RING_CAPACITY, EPOCH_OFFSET, null, null))
        {
            // No writer thread yet: nothing drains the ring, so it must fill and then drop.
            int i = 0;
            while (writer.writeDrops() == 0)
            {
                send(writer, frame, i++);
                assertTrue(i < 1000, "the ring never filled");
            }
            send(writer, frame, i++);
            dropsAt = writer.writeDrops();
            committed = writer.framesCommitted();
            assertEquals(2, dropsAt);
            assertEquals(i - 2, committed);
            assertTrue(committed * (9000 + 16 + 8) > PcapWriter.MIN_RING_CAPACITY - 9024 - 8);
        }
        // Close drained the ring on the closing thread: every committed frame is in the file.
        try (PcapFile file = PcapFile.open(path))
        {
            assertEquals(committed, file.records());
            assertEquals(24 + committed * (16 + 9000), file.length());
        }
    }

    @Test
    void writerThreadWritesEverythingAcrossChunksAndCountsIt() throws Exception
    {
        final Path path = dir.resolve("big.pcap");
        final UnsafeBuffer countersMeta = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));
        final UnsafeBuffer countersValues = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 128));
        final CountersManager manager = new CountersManager(countersMeta, countersValues);
        final AtomicCounter written = PcapCounter.FRAMES_WRITTEN.allocate(manager, 0);
        final AtomicCounter errors = PcapCounter.WRITE_ERRORS.allocate(manager, 0);
        // More than one mapping chunk, in records of every size class, so some straddle a chunk boundary.
        final List<byte[]> frames = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; bytes < PcapWriter.CHUNK_SIZE + 4_000_000; i++)
        {
            final byte[] frame = PcapBuilder.frame(i % 13 == 0 ? 9000 + i % 500 : 60 + (i * 37) % 1455, i);
            frames.add(frame);
            bytes += 16 + frame.length;
        }
        try (PcapWriter writer = PcapWriter.open(path, true, 4 * 1024 * 1024, EPOCH_OFFSET, written, errors))
        {
            writer.start(null);
            long now = 0;
            int sent = 0;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (sent < frames.size())
            {
                final long before = writer.writeDrops();
                final byte[] frame = frames.get(sent);
                final long address = writer.claim(frame.length, now);
                put(address, frame);
                writer.commit(frame.length);
                if (writer.writeDrops() == before)
                {
                    sent++;
                    now += 1000;
                }
                else
                {
                    // The test, unlike the dataplane, retries: it wants every frame in the file.
                    Thread.yield();
                }
                assertTrue(System.nanoTime() - deadline < 0, "writer thread too slow");
            }
            assertEquals(frames.size(), writer.framesCommitted());
            final long target = frames.size();
            while (written.get() < target && System.nanoTime() - deadline < 0)
            {
                Thread.yield();
            }
            assertEquals(target, written.get());
            assertNull(writer.failure());
        }
        assertEquals(0, errors.get());
        assertEquals(24 + bytes, Files.size(path));
        try (PcapFile file = PcapFile.open(path))
        {
            assertEquals(frames.size(), file.records());
            long offset = file.firstRecordOffset();
            for (int i = 0; i < frames.size(); i++)
            {
                final int caplen = file.caplen(offset);
                assertEquals(frames.get(i).length, caplen, "record " + i);
                assertEquals(EPOCH_OFFSET + i * 1000L, file.timestampNs(offset));
                if (i % 97 == 0 || frames.get(i).length > 9000)
                {
                    assertArrayEquals(frames.get(i),
                        ALL.asSlice(file.frameAddress(offset), caplen).toArray(ValueLayout.JAVA_BYTE), "frame " + i);
                }
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
        }
    }

    @Test
    void replacesAnExistingLongerFile() throws Exception
    {
        final Path path = dir.resolve("again.pcap");
        Files.write(path, new byte[100_000]);
        try (PcapWriter writer = PcapWriter.open(path, false, PcapWriter.MIN_RING_CAPACITY, EPOCH_OFFSET, null, null))
        {
            send(writer, PcapBuilder.frame(64, 1), 0);
        }
        assertEquals(24 + 16 + 64, Files.size(path));
    }
}
