package io.pagewire.dataplane.port;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ring's producer and consumer sides on one thread, each through its own flyweight over the same memory (as the
 * two processes would have): full and too-long claims, order and bytes across wrap-around, partial release, header
 * validation, and a hostile peer's lengths and indices.
 */
class ShmFrameRingTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    /** A formatted ring in a segment of exactly its required length: the last slot ends where the memory does. */
    private MemorySegment newRing(final int slotCount, final int slotSize)
    {
        final MemorySegment raw = arena.allocate(ShmFrameRingLayout.requiredLength(slotCount, slotSize), 64);
        ShmFrameRing.format(buffer(raw), slotCount, slotSize);
        return raw;
    }

    private static UnsafeBuffer buffer(final MemorySegment raw)
    {
        return new UnsafeBuffer(raw.address(), (int)raw.byteSize());
    }

    private static void fill(final long address, final int length, final long seed)
    {
        for (int i = 0; i < length; i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + i, pattern(seed, i));
        }
    }

    private static byte pattern(final long seed, final int i)
    {
        return (byte)(seed * 31 + i * 7 + (i >>> 8));
    }

    private static void assertFrame(final long seed, final int expectedLength, final ShmFrameRing consumer, final int i)
    {
        final int length = consumer.frameLength(i);
        assertEquals(expectedLength, length, "length of frame " + seed);
        final long address = consumer.frameAddress(i);
        for (int b = 0; b < length; b++)
        {
            assertEquals(pattern(seed, b), ALL.get(ValueLayout.JAVA_BYTE, address + b), "frame " + seed + " byte " + b);
        }
    }

    private static int lengthOf(final long seed, final int maxFrameLength)
    {
        return (int)((seed * 97) % (maxFrameLength + 1));
    }

    @Test
    void claimReturnsZeroWhenFull()
    {
        final MemorySegment raw = newRing(4, 128);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        assertEquals(4, producer.freeSlots());
        for (int i = 0; i < 4; i++)
        {
            assertNotEquals(0, producer.claim(60));
            producer.commit(60);
        }
        assertEquals(0, producer.claim(1), "full");
        assertEquals(0, producer.claim(0), "full, even for an empty frame");
        assertEquals(0, producer.freeSlots());

        assertEquals(4, consumer.available());
        consumer.release(1);
        assertEquals(1, producer.freeSlots());
        assertNotEquals(0, producer.claim(60));
        producer.commit(60);
        assertEquals(0, producer.claim(60), "full again");
        assertFalse(producer.isBroken() || consumer.isBroken());
    }

    /** A claim given back publishes nothing; the next claim gets the same slot, and a commit needs a new claim. */
    @Test
    void anAbandonedClaimIsVoid()
    {
        final MemorySegment raw = newRing(4, 128);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        final long address = producer.claim(60);
        fill(address, 60, 1);
        producer.abandon();
        assertEquals(0, consumer.available(), "nothing published");
        assertThrows(IllegalStateException.class, () -> producer.commit(60), "no claim left to commit");
        assertEquals(address, producer.claim(70), "the same slot again");
        fill(address, 70, 2);
        producer.commit(70);
        assertEquals(1, consumer.available());
        assertFrame(2, 70, consumer, 0);
        assertEquals(3, producer.freeSlots());
    }

    @Test
    void claimReturnsZeroWhenTooLong()
    {
        final MemorySegment raw = newRing(4, 256);
        final ShmFrameRing ring = new ShmFrameRing(buffer(raw));
        assertEquals(248, ring.maxFrameLength());
        assertEquals(0, ring.claim(249), "one byte over the slot");
        assertEquals(0, ring.claim(Integer.MAX_VALUE));
        assertEquals(0, ring.claim(-1));
        assertEquals(4, ring.freeSlots(), "a refused claim takes no slot");
        final long address = ring.claim(248);
        assertEquals(raw.address() + 192 + 8, address);
        ring.commit(248);
        assertEquals(248, ring.frameLength(0));
    }

    @Test
    void framesArriveInOrderWithExactBytesAcrossWrapAround()
    {
        final int slotCount = 8;
        final MemorySegment raw = newRing(slotCount, 192);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        final SplittableRandom random = new SplittableRandom(42);
        final int frames = 50 * slotCount;
        long produced = 0;
        long consumed = 0;
        while (consumed < frames)
        {
            final int toProduce = random.nextInt(slotCount + 2);
            for (int k = 0; k < toProduce && produced < frames; k++)
            {
                final int length = lengthOf(produced, producer.maxFrameLength());
                final long address = producer.claim(length);
                if (address == 0)
                {
                    assertEquals(slotCount, produced - consumed, "claim refused only when the ring is full");
                    break;
                }
                fill(address, length, produced);
                producer.commit(length);
                produced++;
            }
            final int available = consumer.available();
            assertTrue(available <= produced - consumed);
            final int take = available == 0 ? 0 : random.nextInt(available + 1);
            for (int i = 0; i < take; i++)
            {
                assertFrame(consumed + i, lengthOf(consumed + i, consumer.maxFrameLength()), consumer, i);
            }
            consumer.release(take);
            consumed += take;
        }
        assertEquals(frames, consumer.consumerIndex());
        assertEquals(frames, raw.get(U64, 64));
        assertEquals(frames, raw.get(U64, 128));
    }

    @Test
    void indicesContinueAcrossTheU64Wrap()
    {
        final int slotCount = 4;
        final MemorySegment raw = newRing(slotCount, 128);
        // A ring that has run for 2^64 - 6 frames: the free-running indices pass 0xFFFF_FFFF_FFFF_FFFF -> 0.
        raw.set(U64, 64, -6L);
        raw.set(U64, 128, -6L);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        for (long n = -6; n < 3 * slotCount; n++)
        {
            final int length = (int)(n & 63);
            final long address = producer.claim(length);
            assertEquals(raw.address() + 192 + (n & (slotCount - 1)) * 128 + 8, address, "slot of frame " + n);
            fill(address, length, n);
            producer.commit(length);
            assertEquals(1, consumer.available(), "frame " + n);
            assertFrame(n, length, consumer, 0);
            consumer.release(1);
        }
        assertEquals(3L * slotCount, raw.get(U64, 64));
        assertFalse(producer.isBroken() || consumer.isBroken());
    }

    @Test
    void framesNotReleasedStayForTheNextPoll()
    {
        final MemorySegment raw = newRing(8, 128);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        for (long n = 0; n < 5; n++)
        {
            final long address = producer.claim(10);
            fill(address, 10, n);
            producer.commit(10);
        }
        assertEquals(5, consumer.available());
        assertFrame(0, 10, consumer, 0);
        consumer.release(2);

        assertEquals(3, consumer.available(), "the rest of the burst waits");
        assertFrame(2, 10, consumer, 0);
        assertFrame(4, 10, consumer, 2);
        assertEquals(5, producer.freeSlots(), "released slots are free again");

        final long address = producer.claim(10);
        fill(address, 10, 5);
        producer.commit(10);
        assertEquals(3, consumer.available(), "the producer index is re-read only when the cached frames are used up");
        assertFrame(2, 10, consumer, 0);
        consumer.release(3);
        assertEquals(1, consumer.available());
        assertFrame(5, 10, consumer, 0);

        assertThrows(IllegalArgumentException.class, () -> consumer.release(2), "more than available");
        consumer.release(0);
        assertEquals(1, consumer.available(), "release(0) changes nothing");
    }

    @Test
    void commitNeedsAClaimAndAtMostItsLength()
    {
        final ShmFrameRing ring = new ShmFrameRing(buffer(newRing(4, 128)));
        assertThrows(IllegalStateException.class, () -> ring.commit(10));
        ring.claim(10);
        assertThrows(IllegalStateException.class, () -> ring.commit(11));
        ring.commit(9);
        assertThrows(IllegalStateException.class, () -> ring.commit(9), "one commit per claim");
        assertEquals(1, ring.available());
        assertEquals(9, ring.frameLength(0));
    }

    @Test
    void corruptHeaderGivesAClearError()
    {
        final MemorySegment raw = newRing(8, 128);

        raw.set(U64, 0, 0x1122334455667788L);
        assertMessage(raw, "magic=0x1122334455667788");
        raw.set(U64, 0, 0);
        assertMessage(raw, "not formatted");

        ShmFrameRing.format(buffer(raw), 8, 128);
        raw.set(U32, 8, 2);
        assertMessage(raw, "version=2");

        ShmFrameRing.format(buffer(raw), 8, 128);
        raw.set(U32, 12, 6);
        assertMessage(raw, "slot count=6: must be a power of two");

        ShmFrameRing.format(buffer(raw), 8, 128);
        raw.set(U32, 16, 100);
        assertMessage(raw, "slot size=100");

        ShmFrameRing.format(buffer(raw), 8, 128);
        raw.set(U32, 12, 16);
        assertMessage(raw, "needs " + (192 + 16 * 128) + " bytes, its region has " + (192 + 8 * 128));

        ShmFrameRing.format(buffer(raw), 8, 128);
        new ShmFrameRing(buffer(raw));
    }

    private static void assertMessage(final MemorySegment raw, final String expected)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> new ShmFrameRing(buffer(raw)));
        assertTrue(ex.getMessage().contains(expected), () -> "\"" + ex.getMessage() + "\" lacks \"" + expected + "\"");
    }

    @Test
    void regionIsChecked()
    {
        final IllegalArgumentException heap = assertThrows(IllegalArgumentException.class,
            () -> ShmFrameRing.format(new UnsafeBuffer(new byte[4096]), 8, 128));
        assertTrue(heap.getMessage().contains("off-heap"), heap.getMessage());
        final IllegalArgumentException heapBuffer = assertThrows(IllegalArgumentException.class,
            () -> ShmFrameRing.format(new UnsafeBuffer(ByteBuffer.allocate(4096)), 8, 128));
        assertTrue(heapBuffer.getMessage().contains("off-heap"), heapBuffer.getMessage());

        final MemorySegment raw = arena.allocate(1000, 64);
        final IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
            () -> ShmFrameRing.format(buffer(raw), 8, 128));
        assertTrue(small.getMessage().contains("1000 bytes"), small.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShmFrameRing.format(buffer(raw), 3, 128));
        assertThrows(IllegalStateException.class,
            () -> ShmFrameRing.format(new UnsafeBuffer(raw.address() + 4, 996), 2, 128), "not 8-byte aligned");
    }

    @Test
    void hostileSlotLengthNeverTakesTheConsumerPastTheSlot()
    {
        final int slotCount = 8;
        final int slotSize = 128;
        final MemorySegment raw = newRing(slotCount, slotSize);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        final int[] written = {-1, 0x8000_0000, Integer.MAX_VALUE, slotSize, slotSize - 7, 120, 0, 0x1_0000 + 5};
        final int[] expected = {-1, -1, -1, -1, -1, 120, 0, -1};
        for (int i = 0; i < slotCount; i++)
        {
            producer.claim(0);
            producer.commit(0);
            // The hostile producer rewrites the slot header after committing, as another process could.
            raw.set(U32, 192 + (long)i * slotSize, written[i]);
        }

        assertEquals(slotCount, consumer.available());
        try (Arena copies = Arena.ofConfined())
        {
            final MemorySegment destination = copies.allocate(ShmFrameRingLayout.MAX_SLOT_SIZE);
            for (int i = 0; i < slotCount; i++)
            {
                final int length = consumer.frameLength(i);
                assertEquals(expected[i], length,
                    "slot " + i + " holding length " + Integer.toUnsignedString(written[i]));
                final long slotStart = raw.address() + 192 + (long)i * slotSize;
                final long address = consumer.frameAddress(i);
                assertEquals(slotStart + 8, address);
                // What a consumer does with the pair: copy max(length, 0) bytes. Bounded by the slot, so the
                // segment of just this slot (the last one ends where the ring's memory ends) would throw if not.
                final MemorySegment slot = raw.asSlice(slotStart - raw.address(), slotSize);
                MemorySegment.copy(slot, 8, destination, 0, Math.max(length, 0));
                assertTrue(address + Math.max(length, 0) <= slotStart + slotSize);
            }
        }
        consumer.release(slotCount);
        assertFalse(consumer.isBroken(), "a bad length is the frame's problem, not the ring's");
    }

    @Test
    void hostileProducerIndexBreaksTheRingWithoutThrowing()
    {
        final int slotCount = 8;
        final MemorySegment raw = newRing(slotCount, 128);
        final ShmFrameRing consumer = new ShmFrameRing(buffer(raw));
        raw.set(U64, 64, slotCount + 1L);
        assertEquals(0, consumer.available(), "more frames than slots: refused");
        assertTrue(consumer.isBroken());
        raw.set(U64, 64, 1L);
        assertEquals(0, consumer.available(), "broken stays broken");

        final MemorySegment raw2 = newRing(slotCount, 128);
        raw2.set(U64, 128, 5L);
        final ShmFrameRing consumer2 = new ShmFrameRing(buffer(raw2));
        raw2.set(U64, 64, 4L);
        assertEquals(0, consumer2.available(), "producer behind the consumer: refused");
        assertTrue(consumer2.isBroken());
    }

    @Test
    void hostileConsumerIndexBreaksTheRingWithoutThrowing()
    {
        final int slotCount = 8;
        final MemorySegment raw = newRing(slotCount, 128);
        final ShmFrameRing producer = new ShmFrameRing(buffer(raw));
        for (int i = 0; i < slotCount; i++)
        {
            producer.claim(1);
            producer.commit(1);
        }
        raw.set(U64, 128, slotCount + 3L);
        assertEquals(0, producer.claim(1), "consumer ahead of the producer: refused");
        assertEquals(0, producer.freeSlots());
        assertTrue(producer.isBroken());

        final MemorySegment raw2 = newRing(slotCount, 128);
        final ShmFrameRing producer2 = new ShmFrameRing(buffer(raw2));
        raw2.set(U64, 128, -(slotCount + 1L));
        assertEquals(0, producer2.freeSlots(), "consumer more than slotCount behind the producer: refused");
        assertTrue(producer2.isBroken());
    }
}
