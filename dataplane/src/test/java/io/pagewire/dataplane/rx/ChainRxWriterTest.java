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
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Big and small receive (no MRG_RXBUF): one chain per packet. Big chains follow the seed's scenario, 20 descriptors
 * (a header-sized first descriptor as Linux posts, then pages).
 */
class ChainRxWriterTest
{
    private static final int QUEUE_SIZE = 256;
    private static final int BIG_DESCRIPTORS = 20;
    private static final int PAGE = 4096;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(64L << 20);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH + 64, 64);
    private final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
    private final long[][] chainAddresses = new long[QUEUE_SIZE][];
    private final int[][] chainLengths = new int[QUEUE_SIZE][];

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact(), "device wrote outside guest memory");
        arena.close();
        guest.close();
    }

    private int postBigChain(final int headerLength)
    {
        final long[] addresses = new long[BIG_DESCRIPTORS];
        final int[] lengths = new int[BIG_DESCRIPTORS];
        addresses[0] = guest.allocate(headerLength, 16);
        lengths[0] = headerLength;
        for (int i = 1; i < BIG_DESCRIPTORS; i++)
        {
            addresses[i] = guest.allocate(PAGE, PAGE);
            lengths[i] = PAGE;
        }
        return post(addresses, lengths);
    }

    private int post(final long[] addresses, final int[] lengths)
    {
        final int head = queue.driver().addChain(addresses, lengths, addresses.length, true);
        if (head >= 0)
        {
            chainAddresses[head] = addresses;
            chainLengths[head] = lengths;
        }
        return head;
    }

    private void fillFrame(final int length, final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte)random.nextInt());
        }
    }

    /** Reads the bytes the device wrote into a used chain, as the driver sees them. */
    private byte[] reap()
    {
        final DriverVirtqueue driver = queue.driver();
        assertEquals(1, driver.usedAvailable());
        final int id = driver.usedId(0);
        int remaining = driver.usedLength(0);
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < chainAddresses[id].length && remaining > 0; i++)
        {
            final int n = Math.min(remaining, chainLengths[id][i]);
            out.writeBytes(guest.get(chainAddresses[id][i], n));
            remaining -= n;
        }
        driver.releaseUsed(1);
        return out.toByteArray();
    }

    @Test
    void ringOf256HoldsExactly12BigPackets()
    {
        // The seed's mechanism: 20-descriptor chains in a 256-entry ring leave room for 12 packets (256 / 20).
        int posted = 0;
        while (postBigChain(VirtioNetHeader.MRG_RXBUF_LENGTH) >= 0)
        {
            posted++;
        }
        queue.driver().publishAvail();
        assertEquals(12, posted);

        final ChainRxWriter writer = new ChainRxWriter(queue.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
        fillFrame(1514, 1);
        int delivered = 0;
        int result;
        while ((result = writer.deliverToGuest(frame.address(), 1514)) == 1)
        {
            delivered++;
        }
        assertEquals(RxWriter.NO_BUFFERS, result);
        assertEquals(12, delivered, "in-flight capacity of a 256-entry ring with 20-descriptor chains");
    }

    @ParameterizedTest(name = "header of {0} bytes")
    @ValueSource(ints = {VirtioNetHeader.LEGACY_LENGTH, VirtioNetHeader.MRG_RXBUF_LENGTH})
    void bigChainCarriesFramesUpTo65535BytesExactly(final int headerLength)
    {
        final ChainRxWriter writer = new ChainRxWriter(queue.device(), headerLength);
        for (final int length : new int[] {0, 1, 60, 1514, 4084, 4085, 9000, 40000, VirtioNetHeader.MAX_FRAME_LENGTH})
        {
            postBigChain(headerLength);
            queue.driver().publishAvail();
            fillFrame(length, length);
            assertEquals(1, writer.deliverToGuest(frame.address(), length));
            queue.device().publishUsed();
            final byte[] packet = reap();
            assertEquals(headerLength + length, packet.length, "used len = header + frame");
            assertArrayEquals(frame.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE),
                Arrays.copyOfRange(packet, headerLength, packet.length));
            if (headerLength == VirtioNetHeader.MRG_RXBUF_LENGTH)
            {
                // §5.1.6.4: without MRG_RXBUF the device sets num_buffers to 1.
                assertEquals(1, ByteBuffer.wrap(packet).order(ByteOrder.LITTLE_ENDIAN)
                    .getShort(VirtioNetHeader.NUM_BUFFERS_OFFSET));
            }
        }
    }

    @Test
    void smallBuffersTakeMtuFramesAndDropLongerOnesWithoutConsuming()
    {
        final int bufferLength = VirtioNetHeader.MRG_RXBUF_LENGTH + 1518;
        final ChainRxWriter writer = new ChainRxWriter(queue.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
        final long address = guest.allocate(bufferLength, 64);
        post(new long[] {address}, new int[] {bufferLength});
        queue.driver().publishAvail();

        fillFrame(1519, 2);
        assertEquals(RxWriter.BUFFER_TOO_SMALL, writer.deliverToGuest(frame.address(), 1519));
        assertEquals(0, queue.device().lastAvailIdx(), "the too-small buffer stays available");
        assertNull(queue.device().brokenReason(), "a long frame is not the guest's fault");

        fillFrame(1518, 3);
        assertEquals(1, writer.deliverToGuest(frame.address(), 1518));
        queue.device().publishUsed();
        final byte[] packet = reap();
        assertArrayEquals(frame.asSlice(0, 1518).toArray(ValueLayout.JAVA_BYTE),
            Arrays.copyOfRange(packet, VirtioNetHeader.MRG_RXBUF_LENGTH, packet.length));
    }

    @Test
    void headerSplitAcrossDescriptorsIsWrittenWhole()
    {
        // VERSION_1 lets the driver lay buffers out freely: a 5-byte, a 7-byte, then a data descriptor.
        final ChainRxWriter writer = new ChainRxWriter(queue.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
        post(new long[] {guest.allocate(5, 1), guest.allocate(7, 1), guest.allocate(2048, 64)}, new int[] {5, 7, 2048});
        queue.driver().publishAvail();
        fillFrame(100, 4);
        assertEquals(1, writer.deliverToGuest(frame.address(), 100));
        queue.device().publishUsed();
        final byte[] packet = reap();
        assertEquals(112, packet.length);
        assertEquals(1, packet[VirtioNetHeader.NUM_BUFFERS_OFFSET], "num_buffers low byte, in the second descriptor");
        assertArrayEquals(frame.asSlice(0, 100).toArray(ValueLayout.JAVA_BYTE), Arrays.copyOfRange(packet, 12, 112));
    }

    @Test
    void noBuffersConsumesNothing()
    {
        final ChainRxWriter writer = new ChainRxWriter(queue.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
        assertEquals(RxWriter.NO_BUFFERS, writer.deliverToGuest(frame.address(), 64));
        assertEquals(0, queue.device().lastAvailIdx());
        assertEquals(0, queue.usedIdx());
    }

    /** A GSO frame in a big chain with the port's header; the legacy 10-byte header carries the same ten bytes. */
    @ParameterizedTest(name = "header of {0} bytes")
    @ValueSource(ints = {VirtioNetHeader.LEGACY_LENGTH, VirtioNetHeader.MRG_RXBUF_LENGTH})
    void offloadHeaderGoesIntoTheBigChainThenZerosAgain(final int headerLength)
    {
        final ChainRxWriter writer = new ChainRxWriter(queue.device(), headerLength);
        final MemorySegment vnet = arena.allocate(VirtioNetHeader.LEGACY_LENGTH, 8);
        final byte[] offload = {1, 4, 86, 0, (byte)0x94, 5, 54, 0, 16, 0};
        MemorySegment.copy(MemorySegment.ofArray(offload), 0, vnet, 0, offload.length);
        postBigChain(headerLength);
        postBigChain(headerLength);
        queue.driver().publishAvail();
        fillFrame(60000, 9);
        assertEquals(1, writer.deliverToGuest(frame.address(), 60000, vnet.address()));
        queue.device().publishUsed();
        final byte[] packet = reap();
        assertArrayEquals(offload, Arrays.copyOf(packet, VirtioNetHeader.LEGACY_LENGTH));
        assertArrayEquals(frame.asSlice(0, 60000).toArray(ValueLayout.JAVA_BYTE),
            Arrays.copyOfRange(packet, headerLength, packet.length));

        assertEquals(1, writer.deliverToGuest(frame.address(), 60));
        queue.device().publishUsed();
        final byte[] plain = reap();
        assertArrayEquals(new byte[VirtioNetHeader.LEGACY_LENGTH], Arrays.copyOf(plain, VirtioNetHeader.LEGACY_LENGTH));
    }
}
