package io.pagewire.dataplane.port;

import io.pagewire.dataplane.tx.TxSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The port file through real files: the creator's and an attached second mapping's views agree byte for byte in
 * both directions, and a file that is not a valid port is refused with a message naming the file and the value.
 */
class ShmNicPortTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final int SLOT_COUNT = 16;
    private static final int SLOT_SIZE = 2048;
    private static final int RING_LENGTH = 192 + SLOT_COUNT * SLOT_SIZE;

    @TempDir
    Path dir;

    private static void put(final long address, final byte[] bytes)
    {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ALL, address, bytes.length);
    }

    private static byte[] get(final long address, final int length)
    {
        return ALL.asSlice(address, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] frame(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed + 13 * i);
        }
        return bytes;
    }

    private static void writeLe(final Path file, final long offset, final long value, final int bytes) throws Exception
    {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.seek(offset);
            for (int i = 0; i < bytes; i++)
            {
                raf.write((int)(value >>> (8 * i)));
            }
        }
    }

    @Test
    void attachedMappingSeesWhatTheCreatorWritesBothWays()
    {
        final Path file = dir.resolve("nic0");
        try (ShmNicPort dataplane = ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE);
            ShmNicPort peer = ShmNicPort.attach(file))
        {
            assertEquals(file, peer.file());
            assertNotEquals(dataplane.rxRing().address(), peer.rxRing().address(), "a second, separate mapping");
            assertEquals(SLOT_COUNT, peer.rxRing().slotCount());
            assertEquals(SLOT_SIZE, peer.txRing().slotSize());
            assertEquals(SLOT_SIZE - 8, peer.maxFrameLength());

            // Wire -> guest: the peer produces on the rx ring, the dataplane consumes through NicPort.
            for (int n = 0; n < 3; n++)
            {
                final byte[] bytes = frame(60 + n * 700, n);
                final long address = peer.rxRing().claim(bytes.length);
                put(address, bytes);
                peer.rxRing().commit(bytes.length);
            }
            final NicPort nic = dataplane;
            assertEquals(3, nic.rxAvailable());
            for (int n = 0; n < 3; n++)
            {
                assertEquals(60 + n * 700, nic.rxFrameLength(n));
                assertArrayEquals(frame(60 + n * 700, n), get(nic.rxFrameAddress(n), 60 + n * 700), "rx frame " + n);
            }
            nic.rxRelease(3);
            assertEquals(SLOT_COUNT, peer.rxRing().freeSlots(), "the peer sees the release");

            // Guest -> wire: the dataplane produces through TxSink, the peer consumes the tx ring.
            final TxSink sink = dataplane;
            final byte[] out = frame(1514, 99);
            put(sink.claim(out.length), out);
            sink.commit(out.length);
            assertEquals(0, dataplane.rxRing().available(), "TxSink goes to the tx ring only");
            assertEquals(1, peer.txRing().available());
            assertEquals(1514, peer.txRing().frameLength(0));
            assertArrayEquals(out, get(peer.txRing().frameAddress(0), 1514));
            peer.txRing().release(1);
            assertEquals(SLOT_COUNT, dataplane.txRing().freeSlots());
            assertEquals(0, sink.claim(SLOT_SIZE - 7), "longer than a slot");
        }
        assertTrue(Files.exists(file), "close keeps the file for other processes");
    }

    @Test
    void reattachContinuesFromTheStoredIndices()
    {
        final Path file = dir.resolve("nic0");
        try (ShmNicPort dataplane = ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE))
        {
            try (ShmNicPort peer = ShmNicPort.attach(file))
            {
                for (int n = 0; n < 5; n++)
                {
                    put(peer.rxRing().claim(100), frame(100, n));
                    peer.rxRing().commit(100);
                }
            }
            assertEquals(5, dataplane.rxAvailable());
            dataplane.rxRelease(2);
            try (ShmNicPort peer = ShmNicPort.attach(file))
            {
                assertEquals(5, peer.rxRing().producerIndex());
                assertEquals(SLOT_COUNT - 3, peer.rxRing().freeSlots());
                put(peer.rxRing().claim(100), frame(100, 5));
                peer.rxRing().commit(100);
            }
            assertEquals(3, dataplane.rxAvailable());
            dataplane.rxRelease(3);
            assertEquals(1, dataplane.rxAvailable());
            assertArrayEquals(frame(100, 5), get(dataplane.rxFrameAddress(0), 100));
        }
    }

    @Test
    void createOverwritesAndCloseAndDeleteRemoves() throws Exception
    {
        final Path file = dir.resolve("nic0");
        Files.write(file, new byte[RING_LENGTH * 3 + 4096]);
        final ShmNicPort port = ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE);
        assertEquals(64L + 2L * RING_LENGTH, Files.size(file));
        port.close();
        port.close();
        try (ShmNicPort again = ShmNicPort.attach(file))
        {
            again.closeAndDelete();
        }
        assertFalse(Files.exists(file));

        assertThrows(IllegalArgumentException.class, () -> ShmNicPort.create(file, 100, SLOT_SIZE));
        assertFalse(Files.exists(file), "bad geometry is refused before the file is touched");
    }

    @Test
    void corruptFilesAreRefusedNamingTheValue() throws Exception
    {
        final Path file = dir.resolve("nic0");
        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();

        writeLe(file, 0, 0x0102030405060708L, 8);
        assertRefused(file, "magic=0x0102030405060708");
        writeLe(file, 0, 0, 8);
        assertRefused(file, "not formatted yet");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 8, 7, 4);
        assertRefused(file, "version=7");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 64 + 12, 12, 4);
        assertRefused(file, "rx ring: corrupt frame ring header: slot count=12: must be a power of two");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 64 + RING_LENGTH, 0x4141414141414141L, 8);
        assertRefused(file, "tx ring: not a pagewire frame ring: magic=0x4141414141414141");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 32, 64 + RING_LENGTH + 64, 8);
        assertRefused(file, "tx ring offset=" + (64 + RING_LENGTH + 64) + ", length=" + RING_LENGTH);

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 24, -1L, 8);
        assertRefused(file, "rx ring offset=64, length=-1");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 32, 128, 8);
        assertRefused(file, "overlaps");

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        writeLe(file, 16, 96, 8);
        assertRefused(file, "rx ring offset=96");

        Files.write(file, new byte[10]);
        assertRefused(file, "is 10 bytes");

        final java.io.UncheckedIOException missing = assertThrows(java.io.UncheckedIOException.class,
            () -> ShmNicPort.attach(dir.resolve("absent")));
        assertTrue(missing.getMessage().contains("absent"), missing.getMessage());

        ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE).close();
        try (ShmNicPort ok = ShmNicPort.attach(file))
        {
            assertEquals(SLOT_COUNT, ok.rxRing().slotCount());
        }
    }

    private static void assertRefused(final Path file, final String expected)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> ShmNicPort.attach(file).close());
        assertTrue(ex.getMessage().contains(expected), () -> "\"" + ex.getMessage() + "\" lacks \"" + expected + "\"");
        assertTrue(ex.getMessage().contains(file.toString()), () -> "\"" + ex.getMessage() + "\" names the file");
    }
}
