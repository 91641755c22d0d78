package io.pagewire.dataplane.stats;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link CountersFile} through real files: the owner's mapping and a second, read-only mapping of the same file (as
 * {@code pagewire stat} makes from another process), and a real second process.
 */
class CountersFileTest
{
    @TempDir
    Path dir;

    @Test
    void attachSeesWhatTheOwnerWrites()
    {
        final Path path = dir.resolve("counters.dat");
        final long before = System.currentTimeMillis();
        try (CountersFile owner = CountersFile.create(path, 16))
        {
            final long after = System.currentTimeMillis();
            final AtomicCounter counter = owner.manager().newCounter("q0 rx packets", 100,
                (key) -> CounterKey.write(key, 0, 0));
            counter.getAndAddRelease(41);

            try (CountersFile reader = CountersFile.attach(path))
            {
                assertNotEquals(owner.reader().valuesBuffer().addressOffset(),
                    reader.reader().valuesBuffer().addressOffset(), "a second mapping, not the owner's memory");
                assertFalse(reader.isOwner());
                assertEquals(ProcessHandle.current().pid(), reader.pid());
                assertTrue(reader.startTimeMs() >= before && reader.startTimeMs() <= after, "start time");
                assertEquals(16, reader.maxCounters());

                final CountersReader counters = reader.reader();
                assertEquals(CountersReader.RECORD_ALLOCATED, counters.getCounterState(counter.id()));
                assertEquals("q0 rx packets", counters.getCounterLabel(counter.id()));
                assertEquals(100, counters.getCounterTypeId(counter.id()));
                assertEquals(41, counters.getCounterValue(counter.id()));

                counter.getAndAddRelease(1);
                final AtomicCounter later = owner.manager().newCounter("later", 101);
                later.setRelease(7);
                assertEquals(42, counters.getCounterValue(counter.id()), "a value written after attaching");
                assertEquals("later", counters.getCounterLabel(later.id()), "a counter allocated after attaching");
                assertEquals(7, counters.getCounterValue(later.id()));
            }
        }
    }

    @Test
    void fileHasTheDocumentedLayout() throws IOException
    {
        final Path path = dir.resolve("counters.dat");
        try (CountersFile ignored = CountersFile.create(path, 10))
        {
            final ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.nativeOrder());
            assertEquals(CountersFile.fileLength(10), bytes.capacity());
            assertEquals(128 + 10 * (512 + 128), bytes.capacity());
            assertEquals("pagewire", new String(Files.readAllBytes(path), 0, 8, StandardCharsets.US_ASCII));
            assertEquals(CountersFile.VERSION, bytes.getInt(8));
            assertEquals(CountersFile.HEADER_LENGTH, bytes.getInt(12));
            assertEquals(ProcessHandle.current().pid(), bytes.getLong(16));
            assertEquals(10 * 512, bytes.getInt(32));
            assertEquals(10 * 128, bytes.getInt(36));
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
    }

    @Test
    void attachedViewHasNoManager()
    {
        final Path path = dir.resolve("counters.dat");
        try (CountersFile owner = CountersFile.create(path, 4); CountersFile reader = CountersFile.attach(path))
        {
            assertTrue(owner.isOwner());
            final IllegalStateException ex = assertThrows(IllegalStateException.class, reader::manager);
            assertTrue(ex.getMessage().contains("read-only"), ex.getMessage());
        }
    }

    @Test
    void ownerDeletesAtShutdownWhileAReaderKeepsItsPages()
    {
        final Path path = dir.resolve("counters.dat");
        final CountersFile owner = CountersFile.create(path, 4);
        final AtomicCounter counter = owner.manager().newCounter("c", 100);
        counter.setRelease(5);
        try (CountersFile reader = CountersFile.attach(path))
        {
            owner.closeAndDelete();
            assertTrue(owner.isClosed());
            assertFalse(Files.exists(path));
            assertEquals(5, reader.reader().getCounterValue(counter.id()), "the reader's mapping outlives the file");
        }
        owner.close();
    }

    @Test
    void createReplacesAFileLeftBehind() throws IOException
    {
        final Path path = dir.resolve("counters.dat");
        Files.write(path, new byte[] { 1, 2, 3 });
        try (CountersFile owner = CountersFile.create(path, 4))
        {
            assertEquals(CountersFile.fileLength(4), Files.size(path));
            assertEquals(CountersReader.RECORD_UNUSED, owner.reader().getCounterState(0));
        }
    }

    @Test
    void createRejectsAnImpossibleSize()
    {
        assertThrows(IllegalArgumentException.class, () -> CountersFile.create(dir.resolve("a"), 0));
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> CountersFile.create(dir.resolve("b"), CountersFile.MAX_COUNTERS + 1));
        assertTrue(ex.getMessage().startsWith("maxCounters=" + (CountersFile.MAX_COUNTERS + 1)), ex.getMessage());
        assertFalse(Files.exists(dir.resolve("a")));
    }

    @Test
    void missingFile()
    {
        assertAttachFails(dir.resolve("nothing.dat"), "does not exist");
    }

    @Test
    void emptyFile() throws IOException
    {
        final Path path = Files.createFile(dir.resolve("counters.dat"));
        assertAttachFails(path, "empty");
    }

    @Test
    void fileShorterThanItsHeader() throws IOException
    {
        final Path path = Files.write(dir.resolve("counters.dat"), new byte[40]);
        assertAttachFails(path, "truncated: 40 bytes, shorter than its 128-byte header");
    }

    @Test
    void truncatedFile() throws IOException
    {
        final Path path = dir.resolve("counters.dat");
        try (CountersFile ignored = CountersFile.create(path, 8))
        {
            try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw"))
            {
                file.setLength(CountersFile.fileLength(8) / 2);
            }
        }
        assertAttachFails(path, "truncated: " + CountersFile.fileLength(8) / 2 + " bytes, its header says " +
            CountersFile.fileLength(8));
    }

    @Test
    void garbageFile() throws IOException
    {
        final byte[] garbage = new byte[4096];
        new Random(42).nextBytes(garbage);
        final Path path = Files.write(dir.resolve("counters.dat"), garbage);
        assertAttachFails(path, "not a pagewire counters file");
    }

    @Test
    void fileStillBeingCreated() throws IOException
    {
        final Path path = Files.write(dir.resolve("counters.dat"), new byte[(int)CountersFile.fileLength(4)]);
        assertAttachFails(path, "not ready");
    }

    @Test
    void otherVersion() throws IOException
    {
        final Path path = dir.resolve("counters.dat");
        CountersFile.create(path, 4).close();
        final byte[] bytes = Files.readAllBytes(path);
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putInt(CountersFile.VERSION_OFFSET, 7);
        Files.write(path, bytes);
        assertAttachFails(path, "layout version 7, this pagewire reads version " + CountersFile.VERSION);
    }

    @Test
    void inconsistentBufferLengths() throws IOException
    {
        final Path path = dir.resolve("counters.dat");
        CountersFile.create(path, 4).close();
        final byte[] bytes = Files.readAllBytes(path);
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putInt(CountersFile.METADATA_LENGTH_OFFSET, 512);
        Files.write(path, bytes);
        assertAttachFails(path, "metadata buffer length 512 does not match values buffer length 512");
    }

    @Test
    void anotherProcessReadsTheCountersOfARunningForwarder() throws Exception
    {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
        {
            try (ForwarderProcess child = ForwarderProcess.start(dir))
            {
                final RuntimeDirectory directory = child.directory();
                assertTrue(Files.isDirectory(directory.path()));
                try (CountersFile file = CountersFile.attach(directory.countersFile()))
                {
                    assertEquals(child.pid(), file.pid());
                    assertNotEquals(ProcessHandle.current().pid(), file.pid());
                    final CountersReader reader = file.reader();
                    assertEquals(ForwarderProcess.EXPECTED_RX_PACKETS,
                        CountersLookup.value(reader, QueueCounter.RX_PACKETS, 0));
                    assertEquals(ForwarderProcess.EXPECTED_DUTY_CYCLES,
                        CountersLookup.value(reader, SystemCounter.DUTY_CYCLES));
                    assertEquals(ForwarderProcess.EXPECTED_BUCKET_3,
                        CountersLookup.rxBuffersPerPacket(reader, 0)[2]);
                }
                assertEquals(0, child.stop());
                assertFalse(Files.exists(directory.path()), "a clean shutdown deletes the runtime directory");
            }
        });
    }

    private static void assertAttachFails(final Path path, final String expected)
    {
        final CountersFileException ex = assertThrows(CountersFileException.class, () -> CountersFile.attach(path));
        final String message = ex.getMessage();
        assertTrue(message.startsWith("counters file " + path + ": "), message);
        assertTrue(message.contains(expected), message);
        assertFalse(message.contains("\n"), "one line: " + message);
    }
}
