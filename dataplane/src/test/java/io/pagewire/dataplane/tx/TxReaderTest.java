package io.pagewire.dataplane.tx;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class TxReaderTest
{
    private static final int QUEUE_SIZE = 256;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(64L << 20);
    private final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
    private final TxReader reader = new TxReader(queue.device(), HDR);
    private final RecordingSink sink = new RecordingSink(8);

    /** A sink with a fixed number of slots, recording every frame it was given. */
    static final class RecordingSink implements TxSink
    {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment slot = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH, 64);
        private final List<byte[]> frames = new ArrayList<>();
        private int capacity;
        private int claimed = -1;
        private int maxFrameLength = VirtioNetHeader.MAX_FRAME_LENGTH;

        RecordingSink(final int capacity)
        {
            this.capacity = capacity;
        }

        @Override
        public long claim(final int frameLength)
        {
            if (frames.size() == capacity)
            {
                return 0;
            }
            claimed = frameLength;
            return slot.address();
        }

        @Override
        public int maxFrameLength()
        {
            return maxFrameLength;
        }

        @Override
        public void commit(final int frameLength)
        {
            assertEquals(claimed, frameLength, "commit the length claimed");
            frames.add(slot.asSlice(0, frameLength).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact());
        sink.arena.close();
        guest.close();
    }

    private static byte[] random(final int length, final long seed)
    {
        final byte[] bytes = new byte[length];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    /** Writes header + frame into guest memory split at the given cut points and returns address/length arrays. */
    private long[][] split(final byte[] header, final byte[] frame, final int... cuts)
    {
        final byte[] whole = new byte[header.length + frame.length];
        System.arraycopy(header, 0, whole, 0, header.length);
        System.arraycopy(frame, 0, whole, header.length, frame.length);
        final long[] addresses = new long[cuts.length + 1];
        final long[] lengths = new long[cuts.length + 1];
        int start = 0;
        for (int i = 0; i <= cuts.length; i++)
        {
            final int end = i < cuts.length ? cuts[i] : whole.length;
            addresses[i] = guest.allocate(Math.max(1, end - start), 8);
            lengths[i] = end - start;
            guest.put(addresses[i], java.util.Arrays.copyOfRange(whole, start, end));
            start = end;
        }
        return new long[][] {addresses, lengths};
    }

    private static int[] ints(final long[] values)
    {
        final int[] result = new int[values.length];
        for (int i = 0; i < values.length; i++)
        {
            result[i] = (int)values[i];
        }
        return result;
    }

    @Test
    void headerAndFrameSplitAnywhereArriveAsOneFrame()
    {
        final byte[] frame = random(1514, 1);
        final long[][] parts = split(new byte[HDR], frame, 3, 12, 100, 1000);
        queue.driver().addChain(parts[0], ints(parts[1]), parts[0].length, false);
        queue.driver().publishAvail();

        assertEquals(1, reader.collectFromGuest(sink, 32));
        queue.device().publishUsed();
        assertEquals(1, sink.frames.size());
        assertArrayEquals(frame, sink.frames.get(0));
        assertEquals(1, queue.driver().usedAvailable());
        assertEquals(0, queue.driver().usedLength(0), "the device writes nothing into a TX chain");
    }

    @Test
    void indirectChainsAndMaximumSizeFrames()
    {
        final byte[] frame = random(VirtioNetHeader.MAX_FRAME_LENGTH, 2);
        final long[][] parts = split(new byte[HDR], frame, HDR, 30000, 60000);
        final long table = guest.allocate(16L * parts[0].length, 16);
        queue.driver().addIndirectChain(table, parts[0], ints(parts[1]), parts[0].length, false);
        queue.driver().publishAvail();

        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertArrayEquals(frame, sink.frames.get(0));
    }

    @Test
    void legacyTenByteHeader()
    {
        final TxReader legacy = new TxReader(queue.device(), VirtioNetHeader.LEGACY_LENGTH);
        final byte[] frame = random(64, 3);
        final long[][] parts = split(new byte[VirtioNetHeader.LEGACY_LENGTH], frame, 10);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, legacy.collectFromGuest(sink, 32));
        assertArrayEquals(frame, sink.frames.get(0));
    }

    @Test
    void fullSinkLeavesFramesInTheGuestQueueInOrder()
    {
        final byte[][] frames = new byte[12][];
        for (int i = 0; i < frames.length; i++)
        {
            frames[i] = random(60 + i, 10 + i);
            final long[][] parts = split(new byte[HDR], frames[i], HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();

        assertEquals(8, reader.collectFromGuest(sink, 32), "the sink holds 8");
        assertEquals(8, queue.device().lastAvailIdx());
        assertEquals(0, reader.collectFromGuest(sink, 32), "still full: nothing consumed");
        sink.capacity = 100;
        assertEquals(4, reader.collectFromGuest(sink, 32));
        for (int i = 0; i < frames.length; i++)
        {
            assertArrayEquals(frames[i], sink.frames.get(i), "frame " + i + " in order");
        }
    }

    @Test
    void burstLimitsFramesPerCall()
    {
        for (int i = 0; i < 10; i++)
        {
            final long[][] parts = split(new byte[HDR], random(64, i), HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();
        sink.capacity = 100;
        assertEquals(4, reader.collectFromGuest(sink, 4));
        assertEquals(4, reader.collectFromGuest(sink, 4));
        assertEquals(2, reader.collectFromGuest(sink, 4));
    }

    @Test
    void gsoFramesAreReturnedAndCountedSinceGsoWasNeverOffered()
    {
        final byte[] header = new byte[HDR];
        header[VirtioNetHeader.GSO_TYPE_OFFSET] = (byte)VirtioNetHeader.GSO_TCPV4;
        final long[][] parts = split(header, random(3000, 5), HDR);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertEquals(0, sink.frames.size());
        assertEquals(1, reader.droppedGso());
        queue.device().publishUsed();
        assertEquals(1, queue.driver().usedAvailable(), "the guest gets its buffer back");
    }

    @Test
    void framesLongerThanTheSinkTakesAreDroppedNotWaitedFor()
    {
        // A NIC slot holds 2040 bytes: a 3000-byte frame can never fit; waiting would block the queue for good.
        sink.maxFrameLength = 2040;
        final byte[] small = random(100, 8);
        for (final byte[] frame : new byte[][] {random(3000, 7), small})
        {
            final long[][] parts = split(new byte[HDR], frame, HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();
        assertEquals(2, reader.collectFromGuest(sink, 32));
        assertEquals(1, reader.droppedTooLong());
        assertEquals(1, sink.frames.size());
        assertArrayEquals(small, sink.frames.get(0), "the frame behind the long one went through");
    }

    @Test
    void framesLongerThan65535AreReturnedAndCounted()
    {
        final long[][] parts = split(new byte[HDR], random(VirtioNetHeader.MAX_FRAME_LENGTH + 1, 6), HDR);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertEquals(1, reader.droppedTooLong());
        assertEquals(0, sink.frames.size());
    }
}
