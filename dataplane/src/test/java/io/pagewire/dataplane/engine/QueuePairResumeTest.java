package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Where a queue pair resumes when it starts on rings that already carry state (issue 12, point 6): the ring's
 * {@code used.idx} is where the device continues, and a base that disagrees with it (DPDK virtio_user
 * {@code server=1} sends 0 to a restarted backend) makes the queue resume there, as DPDK's backend does; what is
 * pending is served at once, and the guest is notified once per queue at start. Rings are laid out from the driver's
 * side with {@link TestVirtqueue}; the "previous backend" is the fixture's own device side.
 */
class QueuePairResumeTest
{
    private static final int SIZE = 16;
    private static final int FRAME = 64;
    private static final int HEADER = VirtioNetHeader.MRG_RXBUF_LENGTH;
    private static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.EVENT_IDX.mask();

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(1 << 20);
    private final TestVirtqueue rx = new TestVirtqueue(guest, SIZE, true, false);
    private final TestVirtqueue tx = new TestVirtqueue(guest, SIZE, true, false);
    private final FakeNic nic = new FakeNic(guest);
    private final List<Integer> notified = new ArrayList<>();
    private int frameNumber;

    @AfterEach
    void tearDown()
    {
        guest.close();
    }

    // ---- the frontend that kept its rings: DPDK virtio_user server=1, SET_VRING_BASE 0 --------------------------

    @Test
    void aTransmitRingThatKeptItsContentsResumesAtUsedIdxAndSendsWhatIsPending()
    {
        transmit(5);
        previousBackendReturns(tx, 5);
        final int[] pending = transmit(3);

        final QueuePair pair = start(0, 0);

        assertEquals(5, pair.startUsedIdx(false));
        assertEquals(8, pair.startAvailIdx(false));
        assertEquals(1, pair.ringResyncs(false), "base 0 against used.idx 5");
        assertEquals(0, pair.ringResyncs(true), "the receive ring is fresh: 0 and 0");
        assertEquals(5, pair.txQueue().lastAvailIdx());
        assertEquals(List.of(0, 1), notified, "one notification per queue at start, before any traffic");

        assertEquals(3, pair.collectFromGuest(), "the chains already pending are sent at once, without a kick");
        assertEquals(List.of(frame(pending[0]), frame(pending[1]), frame(pending[2])), nic.sentFrames(),
            "exactly the pending frames, in order: none of the 5 returned ones again");
        assertEquals(8, tx.usedIdx());
        for (int i = 0; i < 3; i++)
        {
            assertEquals(pending[i], usedHead(tx, 5 + i), "used element " + (5 + i));
        }
    }

    @Test
    void aReceiveRingThatKeptItsContentsResumesAtUsedIdxAndFillsTheBuffersStillPosted()
    {
        final int[] buffers = postReceiveBuffers(12);
        previousBackendReturns(rx, 7);

        final QueuePair pair = start(0, 0);

        assertEquals(1, pair.ringResyncs(true));
        assertEquals(7, pair.rxQueue().lastAvailIdx());
        assertEquals(5, pair.rxQueue().availableChains(), "the 5 buffers the previous backend never filled");
        nic.receive(frameBytes(100), frameBytes(101));
        assertEquals(2, pair.deliverToGuest());
        assertEquals(9, rx.usedIdx());
        assertEquals(buffers[7], usedHead(rx, 7), "the first buffer not returned is the first filled");
        assertEquals(buffers[8], usedHead(rx, 8));
        assertEquals(HEADER + FRAME, rx.usedElementLength(7));
        assertArrayEquals(frameBytes(100), guest.get(bufferAddress[buffers[7]] + HEADER, FRAME));
        assertArrayEquals(frameBytes(101), guest.get(bufferAddress[buffers[8]] + HEADER, FRAME));
    }

    @Test
    void aDriverWaitingForAnEventTheDeadBackendPassedIsNotifiedAtStart()
    {
        postReceiveBuffers(8);
        previousBackendReturns(rx, 6);
        // EVENT_IDX: the driver saw used entries up to 2 and asked to be told when used.idx passes 2. The previous
        // backend published up to 6 and died before it notified: used_event 2 stays behind used.idx for good.
        setUsedEvent(rx, 2);

        final QueuePair pair = start(0, 0);
        assertEquals(List.of(0, 1), notified, "notified at start although used_event was passed long ago");

        nic.receive(frameBytes(1));
        notified.clear();
        assertEquals(1, pair.deliverToGuest());
        assertEquals(List.of(), notified, "§2.7.7.2: 6 -> 7 does not cross used_event 2, so only the start told it");
    }

    @Test
    void aUsedIdxMoreThanAQueueSizeBehindAvailBreaksTheQueueInsteadOfServingIt()
    {
        postReceiveBuffers(4);
        // A hostile or corrupt ring: used.idx far behind avail.idx.
        guest.segment(rx.usedRing(), SplitRingLayout.usedRingLength(SIZE))
            .set(ValueLayout.JAVA_SHORT_UNALIGNED, SplitRingLayout.USED_IDX_OFFSET, (short)0xF000);

        final QueuePair pair = start(0, 0);
        nic.receive(frameBytes(1));
        pair.deliverToGuest();
        assertEquals(QueueError.AVAIL_INDEX_JUMP, pair.rxQueue().brokenReason());
        assertEquals(0xF000, rx.usedIdx(), "nothing published");
    }

    // ---- the ordinary cases: nothing changes ---------------------------------------------------------------------

    @Test
    void aFreshRingStartsAtZeroWithoutAResync()
    {
        final QueuePair pair = start(0, 0);
        assertEquals(0, pair.ringResyncs(true) + pair.ringResyncs(false));
        assertEquals(0, pair.rxQueue().lastAvailIdx());
        assertEquals(0, pair.txQueue().lastAvailIdx());
        final int[] pending = transmit(2);
        assertEquals(2, pair.collectFromGuest());
        assertEquals(List.of(frame(pending[0]), frame(pending[1])), nic.sentFrames());
    }

    @Test
    void aRestartWithTheBaseGetVringBaseReturnedContinuesWithoutAResync()
    {
        final QueuePair first = start(0, 0);
        transmit(6);
        assertEquals(6, first.collectFromGuest());
        postReceiveBuffers(4);
        nic.receive(frameBytes(1), frameBytes(2), frameBytes(3));
        assertEquals(3, first.deliverToGuest());
        first.disable();
        // GET_VRING_BASE answers lastAvailIdx; QEMU sends it back with SET_VRING_BASE.
        final int rxBase = first.rxQueue().lastAvailIdx();
        final int txBase = first.txQueue().lastAvailIdx();
        assertEquals(rx.usedIdx(), rxBase, "the base returned is the used.idx published: no chain held back");
        assertEquals(tx.usedIdx(), txBase);

        nic.clearSent();
        final QueuePair second = start(rxBase, txBase);
        second.continueFrom(first);
        assertEquals(0, second.ringResyncs(true) + second.ringResyncs(false));
        assertEquals(3, second.rxQueue().lastAvailIdx());
        assertEquals(6, second.txQueue().lastAvailIdx());
        final int[] more = transmit(2);
        assertEquals(2, second.collectFromGuest());
        assertEquals(List.of(frame(more[0]), frame(more[1])), nic.sentFrames(), "nothing sent twice");
    }

    @Test
    void aBaseAheadOfUsedIdxServesTheChainsThePreviousBackendTookAndNeverReturned()
    {
        // A backend with chains in flight: it took 6 (GET_VRING_BASE would say 6) but returned only 4. Resuming at the
        // base would leave 2 chains with the device for good; resuming at used.idx serves them again.
        final int[] chains = transmit(6);
        previousBackendReturns(tx, 4);
        final QueuePair pair = start(0, 6);
        assertEquals(1, pair.ringResyncs(false));
        assertEquals(2, pair.collectFromGuest());
        assertEquals(List.of(frame(chains[4]), frame(chains[5])), nic.sentFrames());
        assertEquals(6, tx.usedIdx(), "every chain the driver posted is back with it, once");
        final DriverVirtqueue driver = tx.driver();
        assertEquals(6, driver.usedAvailable());
        final int[] ids = new int[6];
        for (int i = 0; i < 6; i++)
        {
            ids[i] = driver.usedId(i);
        }
        assertArrayEquals(chains, ids);
    }

    // ---- fixture ---------------------------------------------------------------------------------------------------

    private final long[] bufferAddress = new long[SIZE];
    private final long[] txFrameAddress = new long[SIZE];
    private final int[] txFrameNumber = new int[SIZE];

    private QueuePair start(final int rxBase, final int txBase)
    {
        final DeviceVirtqueue rxQueue = new DeviceVirtqueue(SIZE, guest.memory());
        final DeviceVirtqueue txQueue = new DeviceVirtqueue(SIZE, guest.memory());
        final QueuePair pair = new QueuePair(0, rxQueue, new ChainRxWriter(rxQueue, HEADER), txQueue,
            new TxReader(txQueue, HEADER, FEATURES), rings(rx, rxBase), rings(tx, txBase), FEATURES, nic,
            notified::add, RxPolicy.DROP, 32, null);
        pair.enable();
        return pair;
    }

    private QueuePair.RingAddresses rings(final TestVirtqueue queue, final int base)
    {
        return new QueuePair.RingAddresses(
            guest.host(queue.descTable(), SplitRingLayout.descTableLength(SIZE)),
            guest.host(queue.availRing(), SplitRingLayout.availRingLength(SIZE)),
            guest.host(queue.usedRing(), SplitRingLayout.usedRingLength(SIZE)), base);
    }

    /** The driver posts {@code count} transmit chains (header + a numbered frame). @return their heads. */
    private int[] transmit(final int count)
    {
        final int[] heads = new int[count];
        for (int i = 0; i < count; i++)
        {
            final int number = ++frameNumber;
            final long address = guest.allocate(HEADER + FRAME, 8);
            guest.put(address, new byte[HEADER]);
            guest.put(address + HEADER, frameBytes(number));
            heads[i] = tx.driver().addBuffer(address, HEADER + FRAME, false);
            txFrameAddress[heads[i]] = address;
            txFrameNumber[heads[i]] = number;
        }
        tx.driver().publishAvail();
        return heads;
    }

    /** @return the frame the chain at {@code head} carries. */
    private List<Byte> frame(final int head)
    {
        return boxed(frameBytes(txFrameNumber[head]));
    }

    private int[] postReceiveBuffers(final int count)
    {
        final int[] heads = new int[count];
        for (int i = 0; i < count; i++)
        {
            final long address = guest.allocate(2048, 8);
            heads[i] = rx.driver().addBuffer(address, 2048, true);
            bufferAddress[heads[i]] = address;
        }
        rx.driver().publishAvail();
        return heads;
    }

    /** The previous backend (the fixture's device side) takes {@code count} chains, returns them and publishes. */
    private static void previousBackendReturns(final TestVirtqueue queue, final int count)
    {
        final DeviceVirtqueue device = queue.device();
        assertTrue(device.availableChains() >= count);
        for (int i = 0; i < count; i++)
        {
            final int head = device.availHead(0);
            device.consume(1);
            device.addUsed(head, 0);
        }
        device.publishUsed();
    }

    private static void setUsedEvent(final TestVirtqueue queue, final int usedEvent)
    {
        guest(queue).segment(queue.availRing(), SplitRingLayout.availRingLength(SIZE))
            .set(ValueLayout.JAVA_SHORT_UNALIGNED, SplitRingLayout.usedEventOffset(SIZE), (short)usedEvent);
    }

    private static FakeGuestMemory guest(final TestVirtqueue queue)
    {
        return queue.guest();
    }

    private static int usedHead(final TestVirtqueue queue, final int usedIndex)
    {
        return queue.usedElementId(usedIndex);
    }

    private static byte[] frameBytes(final int number)
    {
        final byte[] frame = new byte[FRAME];
        for (int i = 0; i < FRAME; i++)
        {
            frame[i] = (byte)(number * 31 + i);
        }
        return frame;
    }

    private static List<Byte> boxed(final byte[] bytes)
    {
        final List<Byte> list = new ArrayList<>(bytes.length);
        for (final byte b : bytes)
        {
            list.add(b);
        }
        return list;
    }

    /** A NIC whose receive side holds the frames a test puts there and whose transmit side keeps what is sent. */
    private static final class FakeNic implements NicPort
    {
        private final FakeGuestMemory memory;
        private final long txSlot;
        private final List<List<Byte>> sent = new ArrayList<>();
        private long[] rxAddresses = new long[0];
        private int[] rxLengths = new int[0];
        private int rxFirst;

        FakeNic(final FakeGuestMemory memory)
        {
            this.memory = memory;
            this.txSlot = memory.host(memory.allocate(65536, 64), 65536);
        }

        void receive(final byte[]... frames)
        {
            rxAddresses = new long[frames.length];
            rxLengths = new int[frames.length];
            rxFirst = 0;
            for (int i = 0; i < frames.length; i++)
            {
                final long address = memory.allocate(frames[i].length, 8);
                memory.put(address, frames[i]);
                rxAddresses[i] = memory.host(address, frames[i].length);
                rxLengths[i] = frames[i].length;
            }
        }

        List<List<Byte>> sentFrames()
        {
            return sent;
        }

        void clearSent()
        {
            sent.clear();
        }

        @Override
        public int rxAvailable()
        {
            return rxAddresses.length - rxFirst;
        }

        @Override
        public long rxFrameAddress(final int i)
        {
            return rxAddresses[rxFirst + i];
        }

        @Override
        public int rxFrameLength(final int i)
        {
            return rxLengths[rxFirst + i];
        }

        @Override
        public void rxRelease(final int count)
        {
            rxFirst += count;
        }

        @Override
        public long claim(final int frameLength)
        {
            return txSlot;
        }

        @Override
        public void commit(final int frameLength)
        {
            final byte[] bytes = new byte[frameLength];
            new UnsafeBuffer(txSlot, frameLength).getBytes(0, bytes);
            sent.add(boxed(bytes));
        }

        @Override
        public String toString()
        {
            return "FakeNic" + Arrays.toString(rxLengths);
        }
    }
}
