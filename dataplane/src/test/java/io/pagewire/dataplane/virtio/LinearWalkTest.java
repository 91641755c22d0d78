package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.tx.TxReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.pagewire.dataplane.virtio.SplitRingLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12 point 3: the work a guest's rings can make the device do is linear in the queue size. Each test builds a
 * hostile ring of size 256..32768 (zero-length descriptors, one head repeated over the whole available ring,
 * indirect tables of empty entries) and counts the descriptors the device reads
 * ({@link DeviceVirtqueue#descriptorReads()}) for one frame or one burst: never wall-clock time.
 * <p>
 * On the quadratic walker these rings cost, at size 32768, 50 million reads for one 1514-byte frame, a billion per
 * retry of a 64 KiB frame, 33 million per TX or one-chain RX burst. Now every frame or burst stays below
 * {@code burstReadBudget(size) + 2 × size}, whatever the ring holds, and well-formed rings are never cut short.
 */
class LinearWalkTest
{
    private static final int FRAME_LENGTH = 1514;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(8L << 20);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH, 64);
    private TestVirtqueue queue;
    private DeviceVirtqueue device;

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact(), "device wrote outside guest memory");
        arena.close();
        guest.close();
    }

    private void setUp(final int size)
    {
        queue = TestVirtqueue.of(guest, size);
        device = queue.device();
    }

    /** Every one of the {@code size} available ring entries names {@code head}. */
    private void offerEverywhere(final int head)
    {
        for (int i = 0; i < queue.size(); i++)
        {
            queue.rawMakeAvailable(head);
        }
    }

    /** Descriptors 0..size-1 as one chain: size-1 zero-length descriptors, then one of {@code lastLength} bytes. */
    private void chainOfEmptiesEndingIn(final int lastLength, final int flags)
    {
        final int size = queue.size();
        final long buffer = guest.allocate(Math.max(lastLength, 1), 64);
        for (int i = 0; i < size - 1; i++)
        {
            queue.writeDescriptor(i, buffer, 0, flags | DESC_F_NEXT, i + 1);
        }
        queue.writeDescriptor(size - 1, buffer, lastLength, flags, 0);
    }

    /**
     * The bound the walker promises for one frame or one burst: the budget a burst may start chains with, plus one
     * chain of up to {@code size} direct descriptors and an indirect table of {@code size} entries.
     */
    private static long linearBound(final int size)
    {
        return DeviceVirtqueue.burstReadBudget(size) + 2L * size;
    }

    private long readsOf(final Runnable work)
    {
        final long before = device.descriptorReads();
        work.run();
        return device.descriptorReads() - before;
    }

    private void report(final String what, final int size, final long reads)
    {
        System.out.printf("LinearWalkTest %-40s size=%5d reads=%,d%n", what, size, reads);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void theBudgetIsLinearInTheQueueSize(final int size)
    {
        assertEquals(2 * size + DeviceVirtqueue.BURST_READS_SLACK, DeviceVirtqueue.burstReadBudget(size));
        assertTrue(linearBound(size) <= 4L * size + 32768);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverOneHeadOfOneEmptyDescriptorRepeatedBreaksAtTheFirst(final int size)
    {
        setUp(size);
        queue.writeDescriptor(0, guest.allocate(64, 64), 0, DESC_F_WRITE, 0);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final int[] result = new int[1];
        final long reads = readsOf(() -> result[0] = writer.deliverToGuest(frame.address(), FRAME_LENGTH));
        report("mergeable, same empty head", size, reads);
        assertEquals(RxWriter.QUEUE_BROKEN, result[0]);
        assertEquals(QueueError.EMPTY_RX_CHAIN, device.brokenReason());
        assertEquals(1, reads);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverOneHeadOfALongChainOfEmptiesRepeatedStopsAtTheBudget(final int size)
    {
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final int[] result = new int[1];
        final long reads = readsOf(() -> result[0] = writer.deliverToGuest(frame.address(), FRAME_LENGTH));
        report("mergeable, same long head", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads);
        assertEquals(RxWriter.WORK_LIMIT, result[0]);
        assertEquals(1, device.workLimits());
        assertEquals(0, device.lastAvailIdx(), "nothing consumed");
        assertTrue(device.isRunning(), "each chain is legal on its own: the queue is not broken");
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverIndirectTablesOfEmptyEntriesStopsAtTheBudget(final int size)
    {
        setUp(size);
        final long table = guest.allocate((long)size * DESC_SIZE, DESC_TABLE_ALIGNMENT);
        final MemorySegment view = guest.segment(table, (long)size * DESC_SIZE);
        final long buffer = guest.allocate(64, 64);
        for (int i = 0; i < size; i++)
        {
            final boolean last = i == size - 1;
            TestVirtqueue.writeDescriptorAt(view, i, buffer, last ? 1 : 0, DESC_F_WRITE | (last ? 0 : DESC_F_NEXT),
                last ? 0 : i + 1);
        }
        for (int head = 0; head < size; head++)
        {
            // Distinct heads, one table: every chain is legal on its own.
            queue.writeDescriptor(head, table, size * DESC_SIZE, DESC_F_INDIRECT, 0);
            queue.rawMakeAvailable(head);
        }
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final int[] result = new int[1];
        final long reads = readsOf(() -> result[0] = writer.deliverToGuest(frame.address(), FRAME_LENGTH));
        report("mergeable, indirect tables of empties", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads);
        assertEquals(RxWriter.WORK_LIMIT, result[0]);
        assertEquals(0, device.lastAvailIdx(), "nothing consumed");
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableFrameLargerThanTheRingRetriedEveryCycleCostsABoundedCycle(final int size)
    {
        // Under the "wait" policy the frame is offered again every duty cycle; each cycle is a new burst.
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        for (int cycle = 0; cycle < 3; cycle++)
        {
            device.beginBurst();
            final int[] result = new int[1];
            final long reads = readsOf(
                () -> result[0] = writer.deliverToGuest(frame.address(), VirtioNetHeader.MAX_FRAME_LENGTH));
            report("mergeable, 64 KiB frame retried", size, reads);
            assertTrue(reads <= linearBound(size), "reads " + reads);
            assertEquals(RxWriter.WORK_LIMIT, result[0]);
            assertEquals(0, device.lastAvailIdx(), "nothing consumed");
        }
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableFrameLargerThanAWellFormedRingCostsOneReadPerChain(final int size)
    {
        // A well-formed ring of 1-byte buffers (legal, if absurd) that cannot hold a 64 KiB frame: NO_BUFFERS after
        // reading each chain once.
        setUp(size);
        final long buffer = guest.allocate(64, 64);
        for (int i = 0; i < size; i++)
        {
            queue.driver().addBuffer(buffer, 1, true);
        }
        queue.driver().publishAvail();
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final int[] result = new int[1];
        final long reads = readsOf(
            () -> result[0] = writer.deliverToGuest(frame.address(), VirtioNetHeader.MAX_FRAME_LENGTH));
        assertEquals(RxWriter.NO_BUFFERS, result[0]);
        assertEquals(size, reads);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void chainRxBurstOfFramesTooLargeForTheHeadChainStopsAtTheBudget(final int size)
    {
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        queue.rawMakeAvailable(0);
        final ChainRxWriter writer = new ChainRxWriter(device, HDR);
        final int burst = Math.min(size, 1024);
        final int[] results = new int[burst];
        device.beginBurst();
        final long reads = readsOf(() ->
        {
            for (int i = 0; i < burst; i++)
            {
                results[i] = writer.deliverToGuest(frame.address(), FRAME_LENGTH);
            }
        });
        report("chain rx, burst of too-large frames", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads);
        assertEquals(RxWriter.BUFFER_TOO_SMALL, results[0]);
        assertEquals(RxWriter.WORK_LIMIT, results[burst - 1]);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void txBurstOverOneHeadOfALongChainRepeatedStopsAtTheBudgetAndGoesOnNextBurst(final int size)
    {
        setUp(size);
        final long buffer = guest.allocate(HDR + 60, 64);
        guest.fill(buffer, HDR + 60, (byte)0);
        queue.writeDescriptor(0, buffer, HDR, DESC_F_NEXT, 1);
        for (int i = 1; i < size - 1; i++)
        {
            queue.writeDescriptor(i, buffer, 0, DESC_F_NEXT, i + 1);
        }
        queue.writeDescriptor(size - 1, buffer + HDR, 60, 0, 0);
        offerEverywhere(0);
        final int burst = Math.min(size, 1024);
        try (GuardedTxSink sink = new GuardedTxSink(burst * 64, burst))
        {
            final TxReader reader = new TxReader(device, HDR);
            int consumed = 0;
            for (int cycle = 0; cycle < 2; cycle++)
            {
                final int[] taken = new int[1];
                final long reads = readsOf(() -> taken[0] = reader.collectFromGuest(sink, burst));
                report("tx, burst over one long head", size, reads);
                assertTrue(reads <= linearBound(size), "reads " + reads);
                assertTrue(taken[0] >= 1, "each burst goes on where the last stopped");
                if (cycle == 0)
                {
                    assertTrue(taken[0] < burst, "the first burst is cut short: consumed " + taken[0]);
                    assertEquals(1, device.workLimits());
                }
                consumed += taken[0];
                assertEquals(consumed, reader.sentFrames(), "every chain read is sent");
                sink.reset();
            }
        }
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void wellFormedReceiveRingIsNeverCutShort(final int size)
    {
        setUp(size);
        final long buffer = guest.allocate(2048, 64);
        for (int i = 0; i < size; i++)
        {
            queue.driver().addBuffer(buffer, 2048, true);
        }
        queue.driver().publishAvail();
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final int burst = Math.min(size, 1024);
        for (int delivered = 0; delivered < size; delivered += burst)
        {
            device.beginBurst();
            for (int i = 0; i < burst; i++)
            {
                assertEquals(1, writer.deliverToGuest(frame.address(), FRAME_LENGTH));
            }
        }
        assertEquals(0, device.workLimits());
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096})
    void wellFormedTransmitRingOfIndirectTablesIsNeverCutShort(final int size)
    {
        // Linux's TX chains with INDIRECT_DESC: one descriptor, a table of header + up to 18 fragments.
        setUp(size);
        final int entries = 19;
        final long[] addresses = new long[entries];
        final int[] lengths = new int[entries];
        final long data = guest.allocate(HDR + 64, 64);
        guest.fill(data, HDR + 64, (byte)0);
        addresses[0] = data;
        lengths[0] = HDR;
        for (int i = 1; i < entries; i++)
        {
            addresses[i] = data + HDR;
            lengths[i] = 4;
        }
        for (int i = 0; i < size; i++)
        {
            queue.driver().addIndirectChain(guest.allocate(entries * DESC_SIZE, 16), addresses, lengths, entries,
                false);
        }
        queue.driver().publishAvail();
        final int burst = Math.min(size, 1024);
        try (GuardedTxSink sink = new GuardedTxSink(burst * 128, burst))
        {
            final TxReader reader = new TxReader(device, HDR);
            assertEquals(burst, reader.collectFromGuest(sink, burst));
            assertEquals(0, device.workLimits());
        }
    }
}
