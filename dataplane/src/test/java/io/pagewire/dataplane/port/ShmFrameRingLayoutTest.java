package io.pagewire.dataplane.port;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every field of the ring header, the slots and the port file header sits at the documented byte offset in
 * little-endian order: checked on raw bytes at literal offsets, not through the code's own constants, since another
 * process (C, Python) implements the other side from the Javadoc alone.
 */
class ShmFrameRingLayoutTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private static String ascii(final MemorySegment bytes, final long offset)
    {
        return new String(bytes.asSlice(offset, 8).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    @Test
    void checksNameTheOffendingValue()
    {
        for (final int bad : new int[] {0, 1, 3, 100, -2, 131072})
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> ShmFrameRingLayout.checkSlotCount(bad));
            assertTrue(ex.getMessage().contains("slot count=" + bad), ex.getMessage());
            assertTrue(ex.getMessage().contains("power of two"), ex.getMessage());
        }
        ShmFrameRingLayout.checkSlotCount(2);
        ShmFrameRingLayout.checkSlotCount(65536);

        for (final int bad : new int[] {0, 64, 127, 130, 200, -128, (1 << 17) + 64})
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> ShmFrameRingLayout.checkSlotSize(bad));
            assertTrue(ex.getMessage().contains("slot size=" + bad), ex.getMessage());
        }
        ShmFrameRingLayout.checkSlotSize(128);
        ShmFrameRingLayout.checkSlotSize(192);
        ShmFrameRingLayout.checkSlotSize(1 << 17);

        final IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class,
            () -> ShmFrameRingLayout.requiredLength(65536, 1 << 17));
        assertTrue(tooBig.getMessage().contains("65536") && tooBig.getMessage().contains("131072"),
            tooBig.getMessage());
    }

    @Test
    void sizes()
    {
        // 3 cache lines of header, then the slots.
        assertEquals(192 + 8 * 128, ShmFrameRingLayout.requiredLength(8, 128));
        assertEquals(192 + 1024 * 2048, ShmFrameRingLayout.requiredLength(1024, 2048));
        assertEquals(2040, ShmFrameRingLayout.maxFrameLength(2048));
    }

    @Test
    void ringHeaderAndSlotBytes()
    {
        final int slotCount = 4;
        final int slotSize = 256;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment raw = arena.allocate(192 + slotCount * slotSize, 64);
            raw.fill((byte)0x5A);
            final UnsafeBuffer buffer = new UnsafeBuffer(raw.address(), (int)raw.byteSize());
            ShmFrameRing.format(buffer, slotCount, slotSize);

            assertEquals("PWFRRING", ascii(raw, 0), "magic: bytes 0..7");
            assertEquals(1, raw.get(U32, 8), "version: bytes 8..11");
            assertEquals(slotCount, raw.get(U32, 12), "slot count: bytes 12..15");
            assertEquals(slotSize, raw.get(U32, 16), "slot size: bytes 16..19");
            for (int i = 20; i < 192; i++)
            {
                assertEquals(0, raw.get(ValueLayout.JAVA_BYTE, i), "reserved/index/padding byte " + i + " zeroed");
            }

            final ShmFrameRing ring = new ShmFrameRing(buffer);
            final long first = ring.claim(3);
            assertEquals(raw.address() + 192 + 8, first, "frame 0 at slot 0 + 8");
            raw.asSlice(200, 3).copyFrom(MemorySegment.ofArray(new byte[] {1, 2, 3}));
            ring.commit(3);
            assertEquals(1L, raw.get(U64, 64), "producer index: bytes 64..71");
            assertEquals(3, raw.get(U32, 192), "slot 0 length: bytes 0..3 of the slot");

            assertEquals(raw.address() + 192 + slotSize + 8, ring.claim(slotSize - 8), "frame 1 at slot 1 + 8");
            ring.commit(slotSize - 8);
            assertEquals(2L, raw.get(U64, 64));
            assertEquals(slotSize - 8, raw.get(U32, 192 + slotSize));

            assertEquals(2, ring.available());
            assertEquals(raw.address() + 200, ring.frameAddress(0));
            ring.release(1);
            assertEquals(1L, raw.get(U64, 128), "consumer index: bytes 128..135");
            assertEquals(2L, raw.get(U64, 64), "producer index untouched by the consumer");

            // Frame n is in slot n & (slotCount - 1): the fifth frame reuses slot 0.
            ring.claim(2);
            ring.commit(2);
            ring.claim(3);
            ring.commit(3);
            assertEquals(3, raw.get(U32, 192 + 3 * slotSize), "frame 3 in slot 3");
            assertEquals(1, ring.available(), "the cached producer index is used until exhausted");
            ring.release(1);
            assertEquals(2, ring.available());
            ring.release(2);
            assertEquals(0, ring.available());
            assertEquals(raw.address() + 192 + 8, ring.claim(7), "frame 4 back in slot 0");
            ring.commit(7);
            assertEquals(7, raw.get(U32, 192));
            assertEquals(5L, raw.get(U64, 64));
            assertEquals(4L, raw.get(U64, 128));
        }
    }

    @Test
    void portFileBytes() throws Exception
    {
        final Path file = dir.resolve("port");
        final int slotCount = 8;
        final int slotSize = 128;
        final int ringLength = 192 + slotCount * slotSize;
        try (ShmNicPort port = ShmNicPort.create(file, slotCount, slotSize))
        {
            port.claim(5);
            port.commit(5);
            final byte[] bytes = Files.readAllBytes(file);
            final MemorySegment raw = MemorySegment.ofArray(bytes);
            assertEquals(64 + 2 * ringLength, bytes.length, "file length");
            assertEquals("PWSHMNIC", ascii(raw, 0), "file magic: bytes 0..7");
            assertEquals(1, raw.get(U32, 8), "file version: bytes 8..11");
            assertEquals(0, raw.get(U32, 12), "reserved: bytes 12..15");
            assertEquals(64L, raw.get(U64, 16), "rx ring offset: bytes 16..23");
            assertEquals(ringLength, raw.get(U64, 24), "rx ring length: bytes 24..31");
            assertEquals(64L + ringLength, raw.get(U64, 32), "tx ring offset: bytes 32..39");
            assertEquals(ringLength, raw.get(U64, 40), "tx ring length: bytes 40..47");
            assertArrayEquals(new byte[16], Arrays.copyOfRange(bytes, 48, 64), "reserved: bytes 48..63");

            assertEquals("PWFRRING", ascii(raw, 64), "rx ring magic");
            assertEquals(slotCount, raw.get(U32, 64 + 12));
            assertEquals(slotSize, raw.get(U32, 64 + 16));
            assertEquals("PWFRRING", ascii(raw, 64 + ringLength), "tx ring magic");
            assertEquals(0L, raw.get(U64, 64 + 64), "rx producer index");
            assertEquals(1L, raw.get(U64, 64 + ringLength + 64), "tx producer index: TxSink commits to the tx ring");
            assertEquals(5, raw.get(U32, 64 + ringLength + 192), "tx slot 0 length");

            assertEquals(0x43494e4d48535750L, ShmNicPort.MAGIC, "the u64 value the Javadoc states");
            assertEquals(0x474e495252465750L, ShmFrameRingLayout.MAGIC, "the u64 value the Javadoc states");
            assertEquals(ShmNicPort.MAGIC, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
        }
    }
}
