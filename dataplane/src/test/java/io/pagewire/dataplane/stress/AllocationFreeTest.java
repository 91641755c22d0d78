package io.pagewire.dataplane.stress;

import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.tx.TxSink;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The steady-state data path allocates nothing: after warm-up, moving 10^6 frames through mergeable RX, chain RX
 * and TX (device and the driver model, on this one thread) allocates 0 bytes, measured with
 * {@code com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes}. Deterministic, unlike timing.
 */
class AllocationFreeTest
{
    private static final int FRAMES = 1_000_000;
    private static final int WARMUP = 300_000;
    private static final int QUEUE_SIZE = 256;
    private static final int BURST = 32;

    /** A tx sink that copies into one slot: enough to exercise the copy without another ring. */
    private static final class SlotSink implements TxSink
    {
        private final long slot;
        long frames;

        SlotSink(final long slot)
        {
            this.slot = slot;
        }

        @Override
        public long claim(final int frameLength)
        {
            return slot;
        }

        @Override
        public void commit(final int frameLength)
        {
            frames++;
        }
    }

    /** One driver + device pair and the loop that moves frames through it. */
    private static final class Path
    {
        final TestVirtqueue rx;
        final TestVirtqueue tx;
        final RxWriter writer;
        final TxReader reader;
        final long[] rxBuffer = new long[QUEUE_SIZE];
        final int[] rxLength = new int[QUEUE_SIZE];
        final long txBuffer;
        final long[] chainAddresses;
        final int[] chainLengths;
        final SlotSink sink;
        final long frameAddress;
        final int frameLength;

        Path(final FakeGuestMemory guest, final boolean mergeable, final long frameAddress, final int frameLength,
            final long slot)
        {
            this.frameAddress = frameAddress;
            this.frameLength = frameLength;
            rx = TestVirtqueue.of(guest, QUEUE_SIZE);
            tx = TestVirtqueue.of(guest, QUEUE_SIZE);
            writer = mergeable ? new MergeableRxWriter(rx.device()) :
                new ChainRxWriter(rx.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
            reader = new TxReader(tx.device(), VirtioNetHeader.MRG_RXBUF_LENGTH);
            sink = new SlotSink(slot);
            chainAddresses = new long[] {guest.allocate(12, 16), guest.allocate(4096, 4096)};
            chainLengths = new int[] {12, 4096};
            for (int i = 0; mergeable ? i < QUEUE_SIZE : i < QUEUE_SIZE / 2; i++)
            {
                postRx(guest.allocate(4096, 64), 4096);
            }
            rx.driver().publishAvail();
            txBuffer = guest.allocate(12 + frameLength, 64);
        }

        private void postRx(final long address, final int length)
        {
            final DriverVirtqueue driver = rx.driver();
            final int head = writer instanceof MergeableRxWriter ?
                driver.addBuffer(address, length, true) :
                driver.addChain(chainAddresses, chainLengths, 2, true);
            rxBuffer[head] = address;
            rxLength[head] = length;
        }

        void run(final int frames)
        {
            final DriverVirtqueue rxDriver = rx.driver();
            final DriverVirtqueue txDriver = tx.driver();
            for (int done = 0; done < frames; done += BURST)
            {
                for (int i = 0; i < BURST; i++)
                {
                    assertTrue(writer.deliverToGuest(frameAddress, frameLength) > 0);
                    txDriver.addBuffer(txBuffer, 12 + frameLength, false);
                }
                rx.device().publishUsed();
                txDriver.publishAvail();
                assertEquals(BURST, reader.collectFromGuest(sink, BURST));
                tx.device().publishUsed();

                while (rxDriver.usedAvailable() > 0)
                {
                    final int id = rxDriver.usedId(0);
                    rxDriver.releaseUsed(1);
                    postRx(rxBuffer[id], rxLength[id]);
                }
                rxDriver.publishAvail();
                txDriver.releaseUsed(txDriver.usedAvailable());
            }
        }
    }

    @Test
    void steadyStateMovesFramesWithoutAllocating()
    {
        try (FakeGuestMemory guest = FakeGuestMemory.ofSize(32L << 20); Arena arena = Arena.ofConfined())
        {
            final MemorySegment frame = arena.allocate(9000, 64);
            final MemorySegment slot = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH, 64);
            final Path mergeable = new Path(guest, true, frame.address(), 9000, slot.address());
            final Path big = new Path(guest, false, frame.address(), 1514, slot.address());

            mergeable.run(WARMUP);
            big.run(WARMUP);

            AllocationMeter.assertSomeWindowAllocatesNothing("mergeable and chain RX, TX", 3, () ->
            {
                mergeable.run(FRAMES);
                big.run(FRAMES);
                return 2L * FRAMES;
            });

            assertTrue(mergeable.sink.frames + big.sink.frames >= 2L * (WARMUP + FRAMES), "frames moved");
        }
    }
}
