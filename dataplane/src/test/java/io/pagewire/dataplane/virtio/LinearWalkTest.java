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

    /** A bound on one burst's descriptor reads that is linear in the queue size. */
    private static long linearBound(final int size)
    {
        return 4L * size + 16384;
    }

    private void report(final String what, final int size, final long reads)
    {
        System.out.printf("LinearWalkTest %-40s size=%5d reads=%,d%n", what, size, reads);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverOneHeadOfOneEmptyDescriptorRepeated(final int size)
    {
        setUp(size);
        queue.writeDescriptor(0, guest.allocate(64, 64), 0, DESC_F_WRITE, 0);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final long before = device.descriptorReads();
        final int result = writer.deliverToGuest(frame.address(), FRAME_LENGTH);
        final long reads = device.descriptorReads() - before;
        report("mergeable, same empty head", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads + ", result " + result);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverOneHeadOfALongChainOfEmptiesRepeated(final int size)
    {
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        final long before = device.descriptorReads();
        final int result = writer.deliverToGuest(frame.address(), FRAME_LENGTH);
        final long reads = device.descriptorReads() - before;
        report("mergeable, same long head", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads + ", result " + result);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableOverIndirectTablesOfEmptyEntries(final int size)
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
        final long before = device.descriptorReads();
        final int result = writer.deliverToGuest(frame.address(), FRAME_LENGTH);
        final long reads = device.descriptorReads() - before;
        report("mergeable, indirect tables of empties", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads + ", result " + result);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void mergeableFrameLargerThanTheRingRetriedEveryCycle(final int size)
    {
        // Under the "wait" policy the frame is offered again every duty cycle.
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        offerEverywhere(0);
        final MergeableRxWriter writer = new MergeableRxWriter(device);
        for (int cycle = 0; cycle < 3; cycle++)
        {
            final long before = device.descriptorReads();
            final int result = writer.deliverToGuest(frame.address(), VirtioNetHeader.MAX_FRAME_LENGTH);
            final long reads = device.descriptorReads() - before;
            report("mergeable, 64 KiB frame retried", size, reads);
            assertTrue(reads <= linearBound(size), "reads " + reads + ", result " + result);
            device.publishUsed();
        }
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void chainRxBurstOfFramesTooLargeForTheHeadChain(final int size)
    {
        setUp(size);
        chainOfEmptiesEndingIn(1, DESC_F_WRITE);
        queue.rawMakeAvailable(0);
        final ChainRxWriter writer = new ChainRxWriter(device, HDR);
        final long before = device.descriptorReads();
        for (int i = 0; i < Math.min(size, 1024); i++)
        {
            writer.deliverToGuest(frame.address(), FRAME_LENGTH);
        }
        final long reads = device.descriptorReads() - before;
        report("chain rx, burst of too-large frames", size, reads);
        assertTrue(reads <= linearBound(size), "reads " + reads);
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {256, 1024, 4096, 32768})
    void txBurstOverOneHeadOfALongChainRepeated(final int size)
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
            final long before = device.descriptorReads();
            final int consumed = reader.collectFromGuest(sink, burst);
            final long reads = device.descriptorReads() - before;
            report("tx, burst over one long head", size, reads);
            assertTrue(reads <= linearBound(size), "reads " + reads + ", consumed " + consumed);
        }
    }
}
