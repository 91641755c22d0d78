package io.pagewire.dataplane.rx;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

class MergeableRxWriterTest
{
    private static final int QUEUE_SIZE = 256;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(64L << 20);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH + 64, 64);
    private final List<Long> bufferAddress = new ArrayList<>();
    private TestVirtqueue queue;
    private MergeableRxWriter writer;
    private long[] addressOfHead;
    private int[] lengthOfHead;

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact(), "device wrote outside guest memory");
        arena.close();
        guest.close();
    }

    private void setUp(final int[] bufferSizes)
    {
        queue = TestVirtqueue.of(guest, QUEUE_SIZE);
        writer = new MergeableRxWriter(queue.device());
        addressOfHead = new long[QUEUE_SIZE];
        lengthOfHead = new int[QUEUE_SIZE];
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            final int length = bufferSizes[i % bufferSizes.length];
            bufferAddress.add(guest.allocate(length, 64));
            post(bufferAddress.get(i), length);
        }
        queue.driver().publishAvail();
    }

    private void post(final long address, final int length)
    {
        final int head = queue.driver().addBuffer(address, length, true);
        assertTrue(head >= 0);
        addressOfHead[head] = address;
        lengthOfHead[head] = length;
    }

    private void fillFrame(final int length, final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte)random.nextInt());
        }
    }

    private byte[] expectedFrame(final int length)
    {
        return frame.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Reaps one packet's used elements as a mergeable driver does, checks them, re-posts the buffers. */
    private byte[] reapPacket(final int expectedBuffers)
    {
        final DriverVirtqueue driver = queue.driver();
        assertEquals(expectedBuffers, driver.usedAvailable(), "used elements published");
        final ByteArrayOutputStream packet = new ByteArrayOutputStream();
        int numBuffers = -1;
        for (int i = 0; i < expectedBuffers; i++)
        {
            final int id = driver.usedId(i);
            final int len = driver.usedLength(i);
            assertTrue(len >= 0 && len <= lengthOfHead[id], "used len " + len + " within buffer " + lengthOfHead[id]);
            if (i < expectedBuffers - 1)
            {
                assertEquals(lengthOfHead[id], len, "every buffer but the last is filled completely");
            }
            final byte[] bytes = guest.get(addressOfHead[id], len);
            if (i == 0)
            {
                numBuffers = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
                    .getShort(VirtioNetHeader.NUM_BUFFERS_OFFSET) & 0xFFFF;
            }
            packet.writeBytes(bytes);
        }
        assertEquals(expectedBuffers, numBuffers, "num_buffers in the first buffer's header");
        // Capture the buffers before re-posting: the driver hands out freed descriptor ids in another order.
        final long[] addresses = new long[expectedBuffers];
        final int[] lengths = new int[expectedBuffers];
        for (int i = 0; i < expectedBuffers; i++)
        {
            addresses[i] = addressOfHead[driver.usedId(i)];
            lengths[i] = lengthOfHead[driver.usedId(i)];
        }
        driver.releaseUsed(expectedBuffers);
        for (int i = 0; i < expectedBuffers; i++)
        {
            post(addresses[i], lengths[i]);
        }
        driver.publishAvail();
        return packet.toByteArray();
    }

    private static TreeSet<Integer> interestingLengths(final int bufferSize)
    {
        final TreeSet<Integer> lengths = new TreeSet<>();
        for (int i = 0; i <= 70; i++)
        {
            lengths.add(i);
        }
        for (int k = 1; k * bufferSize - HDR <= VirtioNetHeader.MAX_FRAME_LENGTH + bufferSize; k++)
        {
            for (int d = -2; d <= 2; d++)
            {
                final int length = k * bufferSize - HDR + d;
                if (length >= 0 && length <= VirtioNetHeader.MAX_FRAME_LENGTH)
                {
                    lengths.add(length);
                }
            }
        }
        for (int length = 0; length <= VirtioNetHeader.MAX_FRAME_LENGTH; length += 997)
        {
            lengths.add(length);
        }
        lengths.add(60);
        lengths.add(64);
        lengths.add(1514);
        lengths.add(9000);
        lengths.add(VirtioNetHeader.MAX_FRAME_LENGTH);
        return lengths;
    }

    @ParameterizedTest(name = "buffers of {0} bytes")
    @ValueSource(ints = {1500, 2048, 4096})
    void framesOfEveryInterestingLengthArriveByteExact(final int bufferSize)
    {
        setUp(new int[] {bufferSize});
        long seed = 1;
        for (final int length : interestingLengths(bufferSize))
        {
            fillFrame(length, seed);
            final int expectedBuffers = (HDR + length + bufferSize - 1) / bufferSize;
            final int result = writer.deliverToGuest(frame.address(), length);
            assertEquals(expectedBuffers, result, "buffers used for a " + length + "-byte frame");
            assertFalse(queue.driver().usedAvailable() > 0, "nothing visible before publishUsed");
            queue.device().publishUsed();
            final byte[] packet = reapPacket(expectedBuffers);
            assertEquals(HDR + length, packet.length);
            assertArrayEquals(expectedFrame(length), java.util.Arrays.copyOfRange(packet, HDR, packet.length),
                "frame bytes of a " + length + "-byte frame");
            final byte[] header = java.util.Arrays.copyOf(packet, HDR);
            for (int i = 0; i < VirtioNetHeader.NUM_BUFFERS_OFFSET; i++)
            {
                assertEquals(0, header[i], "header byte " + i + " (no offloads offered)");
            }
            seed++;
        }
    }

    @Test
    void irregularLinuxLikeBufferSizes()
    {
        // Linux sizes mergeable buffers by an EWMA of packet lengths; sizes vary per buffer and need not align.
        final int[] sizes = {1536, 1601, 2048, 1344, 3001, 4096, 12, 777, 1518, 65};
        setUp(sizes);
        // The sizes in available-ring order, as the driver posted them (re-posts go to the back).
        final java.util.ArrayDeque<Integer> posted = new java.util.ArrayDeque<>();
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            posted.add(sizes[i % sizes.length]);
        }
        final SplittableRandom random = new SplittableRandom(42);
        for (int n = 0; n < 3000; n++)
        {
            final int length = n % 10 == 0 ? VirtioNetHeader.MAX_FRAME_LENGTH : random.nextInt(0, 20000);
            fillFrame(length, n);
            int expectedBuffers = 0;
            int needed = HDR + length;
            for (final int size : posted)
            {
                if (needed <= 0)
                {
                    break;
                }
                needed -= size;
                expectedBuffers++;
            }
            if (needed > 0)
            {
                assertEquals(RxWriter.NO_BUFFERS, writer.deliverToGuest(frame.address(), length), "frame " + n);
                continue;
            }
            assertEquals(expectedBuffers, writer.deliverToGuest(frame.address(), length), "frame " + n);
            queue.device().publishUsed();
            final byte[] packet = reapPacket(expectedBuffers);
            assertArrayEquals(expectedFrame(length), java.util.Arrays.copyOfRange(packet, HDR, packet.length));
            for (int i = 0; i < expectedBuffers; i++)
            {
                posted.add(posted.poll());
            }
        }
    }

    @Test
    void shortRingConsumesNothingAndLeavesNoPartialPacket()
    {
        // 4 buffers of 4096 posted: a 20000-byte frame needs 5.
        queue = TestVirtqueue.of(guest, QUEUE_SIZE);
        writer = new MergeableRxWriter(queue.device());
        addressOfHead = new long[QUEUE_SIZE];
        lengthOfHead = new int[QUEUE_SIZE];
        for (int i = 0; i < 4; i++)
        {
            post(guest.allocate(4096, 64), 4096);
        }
        queue.driver().publishAvail();
        final byte[] before = guest.get(addressOfHead[0], 4096);
        fillFrame(20000, 7);

        assertEquals(RxWriter.NO_BUFFERS, writer.deliverToGuest(frame.address(), 20000));
        queue.device().publishUsed();
        assertEquals(0, queue.device().lastAvailIdx(), "avail index untouched");
        assertEquals(0, queue.usedIdx(), "no used element published");
        assertArrayEquals(before, guest.get(addressOfHead[0], 4096), "no byte written into the first buffer");

        // One more buffer and the same frame goes through whole.
        post(guest.allocate(4096, 64), 4096);
        queue.driver().publishAvail();
        assertEquals(5, writer.deliverToGuest(frame.address(), 20000));
        queue.device().publishUsed();
        final byte[] packet = reapPacket(5);
        assertArrayEquals(expectedFrame(20000), java.util.Arrays.copyOfRange(packet, HDR, packet.length));
    }

    @Test
    void framesLongerThan65535AreRefusedWithoutConsuming()
    {
        setUp(new int[] {4096});
        assertEquals(RxWriter.FRAME_TOO_LONG, writer.deliverToGuest(frame.address(), 65536));
        assertEquals(0, queue.device().lastAvailIdx());
    }

    @Test
    void usedIndexIsPublishedOncePerBurst()
    {
        setUp(new int[] {4096});
        fillFrame(1514, 3);
        for (int i = 0; i < 32; i++)
        {
            assertEquals(1, writer.deliverToGuest(frame.address(), 1514));
            assertEquals(0, queue.usedIdx(), "used.idx stays put until the burst is published");
        }
        queue.device().publishUsed();
        assertEquals(32, queue.usedIdx());
        for (int i = 0; i < 32; i++)
        {
            assertEquals(HDR + 1514, queue.usedElementLength(i));
        }
    }

    @Test
    void ringOf256PageBuffersHolds256MtuPackets()
    {
        setUp(new int[] {4096});
        fillFrame(1514, 5);
        int delivered = 0;
        while (writer.deliverToGuest(frame.address(), 1514) > 0)
        {
            delivered++;
        }
        assertEquals(QUEUE_SIZE, delivered, "in-flight capacity with page-sized mergeable buffers");
    }

    /**
     * A GSO frame the NIC port passes whole: 64 KiB over merged 1500-byte buffers, the header carrying the port's ten
     * bytes (flags .. csum_offset) and num_buffers; the next plain frame gets zeros again.
     */
    @Test
    void offloadHeaderIsCopiedAndZerosComeBackForThePlainFrameAfterIt()
    {
        setUp(new int[] {1500});
        final MemorySegment vnet = arena.allocate(VirtioNetHeader.LEGACY_LENGTH, 8);
        final byte[] offload = {1, 1, 66, 0, (byte)0xA8, 5, 34, 0, 16, 0};
        MemorySegment.copy(MemorySegment.ofArray(offload), 0, vnet, 0, offload.length);
        final int length = 65000;
        fillFrame(length, 7);
        final int buffers = (HDR + length + 1499) / 1500;
        assertEquals(buffers, writer.deliverToGuest(frame.address(), length, vnet.address()));
        queue.device().publishUsed();
        final byte[] packet = reapPacket(buffers);
        assertArrayEquals(offload, Arrays.copyOf(packet, VirtioNetHeader.NUM_BUFFERS_OFFSET), "the port's header");
        assertArrayEquals(expectedFrame(length), Arrays.copyOfRange(packet, HDR, packet.length));

        fillFrame(100, 8);
        assertEquals(1, writer.deliverToGuest(frame.address(), 100));
        queue.device().publishUsed();
        final byte[] plain = reapPacket(1);
        assertArrayEquals(new byte[VirtioNetHeader.NUM_BUFFERS_OFFSET],
            Arrays.copyOf(plain, VirtioNetHeader.NUM_BUFFERS_OFFSET), "flags 0, GSO_NONE after an offloaded frame");
        assertEquals(1, plain[VirtioNetHeader.NUM_BUFFERS_OFFSET]);
    }
}
