package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static io.pagewire.dataplane.virtio.SplitRingLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12 points 3 and 7 through a queue pair's duty cycle: a receive ring that spends the descriptor read budget
 * keeps the frame in the NIC ring even under the drop policy (it is not the guest's lack of buffers, and the next
 * cycle may deliver it), each cycle costs a bounded number of reads, and the new counters reach the counters file.
 */
class QueuePairHostileRingTest
{
    private static final int SIZE = 4096;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;
    private static final int FRAMES = 8;
    private static final int FRAME_LENGTH = 1514;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(4L << 20);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frames = arena.allocate((long)FRAMES * FRAME_LENGTH, 64);
    private final MemorySegment txSlot = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH, 64);
    private final CountersManager manager = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(512 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(512 * CountersReader.COUNTER_LENGTH)));
    private final TestVirtqueue rx = TestVirtqueue.of(guest, SIZE);
    private final TestVirtqueue tx = TestVirtqueue.of(guest, SIZE);
    private final FakeNic nic = new FakeNic();
    private final QueueCounters counters = new QueueCounters(manager, 0);
    private final QueuePair pair = new QueuePair(0, rx.device(), new MergeableRxWriter(rx.device()), tx.device(),
        new TxReader(tx.device(), HDR), rings(rx), rings(tx), 0, nic, queueIndex -> { }, RxPolicy.DROP, 32,
        counters);

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact(), "device wrote outside guest memory");
        arena.close();
        guest.close();
    }

    private QueuePair.RingAddresses rings(final TestVirtqueue queue)
    {
        return new QueuePair.RingAddresses(
            guest.host(queue.descTable(), descTableLength(SIZE)),
            guest.host(queue.availRing(), availRingLength(SIZE)),
            guest.host(queue.usedRing(), usedRingLength(SIZE)), 0);
    }

    /** A NIC whose receive ring holds {@link #FRAMES} frames until released, and whose transmit side counts. */
    private final class FakeNic implements NicPort
    {
        int available = FRAMES;
        int sent;

        @Override
        public int rxAvailable()
        {
            return available;
        }

        @Override
        public long rxFrameAddress(final int i)
        {
            return frames.address() + (long)(FRAMES - available + i) * FRAME_LENGTH;
        }

        @Override
        public int rxFrameLength(final int i)
        {
            return FRAME_LENGTH;
        }

        @Override
        public void rxRelease(final int count)
        {
            available -= count;
        }

        @Override
        public long claim(final int frameLength)
        {
            return txSlot.address();
        }

        @Override
        public void commit(final int frameLength)
        {
            sent++;
        }
    }

    @Test
    void aReceiveRingThatSpendsTheBudgetKeepsTheFrameEvenUnderTheDropPolicy()
    {
        pair.enable();
        // One head repeated over the whole ring: size - 1 empty descriptors and 1 byte, each chain legal on its own.
        final long buffer = guest.allocate(64, 64);
        for (int i = 0; i < SIZE - 1; i++)
        {
            rx.writeDescriptor(i, buffer, 0, DESC_F_WRITE | DESC_F_NEXT, i + 1);
        }
        rx.writeDescriptor(SIZE - 1, buffer, 1, DESC_F_WRITE, 0);
        for (int i = 0; i < SIZE; i++)
        {
            rx.rawMakeAvailable(0);
        }
        final DeviceVirtqueue device = rx.device();
        for (int cycle = 1; cycle <= 3; cycle++)
        {
            final long before = device.descriptorReads();
            assertEquals(0, pair.deliverToGuest(), "no frame taken off the NIC ring");
            final long reads = device.descriptorReads() - before;
            assertTrue(reads < DeviceVirtqueue.burstReadBudget(SIZE) + 2L * SIZE, "reads " + reads);
            pair.publishCounters();
            assertEquals(cycle, counters.rxWorkLimit().get());
        }
        assertEquals(FRAMES, nic.available, "the frames wait in the NIC ring");
        for (final long drops : pair.rxDrops())
        {
            assertEquals(0, drops, "nothing dropped: the guest did not lack buffers");
        }
        assertTrue(device.isRunning());
    }

    @Test
    void aHeaderOnlyTransmitChainIsCountedAsARuntDrop()
    {
        pair.enable();
        final long header = guest.allocate(HDR, 64);
        guest.fill(header, HDR, (byte)0);
        tx.driver().addBuffer(header, HDR, false);
        final long frame = guest.allocate(HDR + 60, 64);
        guest.fill(frame, HDR + 60, (byte)0);
        tx.driver().addBuffer(frame, HDR + 60, false);
        tx.driver().publishAvail();

        assertEquals(2, pair.collectFromGuest(), "both chains returned to the guest");
        pair.publishCounters();
        assertEquals(1, nic.sent, "only the 60-byte frame is sent");
        assertEquals(1, counters.txDropsRunt().get());
        assertEquals(1, counters.txPackets().get());
        assertEquals(2, tx.usedIdx());
    }

    @Test
    void aBrokenQueueIsCountedByItsCauseOnceItsBreakageIsReported()
    {
        pair.enable();
        rx.rawMakeAvailable(SIZE + 5); // a head out of range
        pair.deliverToGuest();
        assertEquals(QueueError.HEAD_OUT_OF_RANGE, rx.device().brokenReason());
        assertEquals(0, counters.queueErrors(QueueError.HEAD_OUT_OF_RANGE).get(), "not before it is reported");
        pair.markBreakageReported(true);
        assertEquals(1, counters.queueErrors(QueueError.HEAD_OUT_OF_RANGE).get());
        for (final QueueError other : QueueError.values())
        {
            if (other != QueueError.HEAD_OUT_OF_RANGE)
            {
                assertEquals(0, counters.queueErrors(other).get(), other.name());
            }
        }
    }
}
