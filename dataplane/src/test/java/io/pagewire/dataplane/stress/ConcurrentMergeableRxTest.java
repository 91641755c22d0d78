package io.pagewire.dataplane.stress;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The device and a driver on two threads, as in production: the device delivers frames through mergeable buffers
 * and publishes once per burst; the driver reaps in NAPI-like polls, reassembles each packet from its buffers,
 * verifies sequence number and checksum, and re-posts the buffers. Any memory-ordering mistake on either side
 * shows up as a corrupt, lost, duplicated or reordered frame.
 * <p>
 * 10^7 frames by default ({@code -Dpagewire.stress.frames=N} to change).
 */
class ConcurrentMergeableRxTest
{
    private static final long FRAMES = Long.getLong("pagewire.stress.frames", 10_000_000L);
    private static final int QUEUE_SIZE = 256;
    private static final int BUFFER_SIZE = 2048;
    private static final int BURST = 32;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;

    @Test
    void everyFrameArrivesOnceInOrderAndIntact() throws Exception
    {
        try (FakeGuestMemory guest = FakeGuestMemory.ofSize(16L << 20);
            FramePool pool = new FramePool(4096, FramePool.MIN_LENGTH, 9000, 7))
        {
            final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
            final MergeableRxWriter writer = new MergeableRxWriter(queue.device());
            final long[] bufferOfHead = new long[QUEUE_SIZE];
            final DriverVirtqueue driver = queue.driver();
            for (int i = 0; i < QUEUE_SIZE; i++)
            {
                final long buffer = guest.allocate(BUFFER_SIZE, 64);
                bufferOfHead[driver.addBuffer(buffer, BUFFER_SIZE, true)] = buffer;
            }
            driver.suppressInterrupts();
            driver.publishAvail();

            final AtomicReference<Throwable> deviceFailure = new AtomicReference<>();
            final Thread device = new Thread(() ->
            {
                try
                {
                    int inBurst = 0;
                    for (long sequence = 0; sequence < FRAMES; )
                    {
                        final MemorySegment frame = pool.stamp(sequence);
                        final int result = writer.deliverToGuest(frame.address(), (int)frame.byteSize());
                        if (result > 0)
                        {
                            sequence++;
                            if (++inBurst == BURST)
                            {
                                queue.device().publishUsed();
                                inBurst = 0;
                            }
                        }
                        else if (result == RxWriter.NO_BUFFERS)
                        {
                            queue.device().publishUsed();
                            inBurst = 0;
                            Thread.onSpinWait();
                        }
                        else
                        {
                            throw new AssertionError("device: " + RxWriter.describe(result) + " at frame " + sequence +
                                ", queue " + queue.device().brokenReason());
                        }
                    }
                    queue.device().publishUsed();
                }
                catch (final Throwable t)
                {
                    deviceFailure.set(t);
                }
            }, "device");
            device.start();

            final long verified = driverLoop(guest, driver, bufferOfHead, pool, device, deviceFailure);
            device.join();
            assertNull(deviceFailure.get(), () -> "device thread failed: " + deviceFailure.get());
            assertEquals(FRAMES, verified, "frames verified");
            assertTrue(guest.guardsIntact());
        }
    }

    private static long driverLoop(
        final FakeGuestMemory guest,
        final DriverVirtqueue driver,
        final long[] bufferOfHead,
        final FramePool pool,
        final Thread device,
        final AtomicReference<Throwable> deviceFailure)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment packet = arena.allocate(HDR + VirtioNetHeader.MAX_FRAME_LENGTH, 64);
            final MemorySegment all = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
            final long[] reposts = new long[QUEUE_SIZE];
            long expected = 0;
            while (expected < FRAMES)
            {
                if (deviceFailure.get() != null || (!device.isAlive() && driver.usedAvailable() == 0))
                {
                    break;
                }
                final int used = driver.usedAvailable();
                if (used == 0)
                {
                    Thread.onSpinWait();
                    continue;
                }
                int consumed = 0;
                while (consumed < used)
                {
                    // First buffer of a packet: num_buffers says how many follow (all published in one burst).
                    final long first = bufferOfHead[driver.usedId(consumed)];
                    final int numBuffers = guest.segment(first, HDR)
                        .get(ValueLayout.JAVA_SHORT_UNALIGNED, VirtioNetHeader.NUM_BUFFERS_OFFSET) & 0xFFFF;
                    assertTrue(numBuffers >= 1 && consumed + numBuffers <= used,
                        "num_buffers=" + numBuffers + " with " + (used - consumed) + " used elements at frame " +
                        expected);
                    long length = 0;
                    for (int b = 0; b < numBuffers; b++)
                    {
                        final int id = driver.usedId(consumed + b);
                        final int len = driver.usedLength(consumed + b);
                        assertTrue(len > 0 && len <= BUFFER_SIZE, "used len " + len);
                        MemorySegment.copy(all, guest.host(bufferOfHead[id], len), packet, length, len);
                        length += len;
                        reposts[consumed + b] = bufferOfHead[id];
                    }
                    final MemorySegment frame = packet.asSlice(HDR, length - HDR);
                    final long sequence = frame.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                    assertEquals(expected, sequence, "sequence (lost, duplicated or reordered frame)");
                    assertEquals(pool.lengthOf(sequence), frame.byteSize(), "length of frame " + sequence);
                    assertEquals(frame.get(ValueLayout.JAVA_LONG_UNALIGNED, 8),
                        FramePool.checksum(frame, frame.byteSize()), "checksum of frame " + sequence);
                    expected++;
                    consumed += numBuffers;
                }
                driver.releaseUsed(consumed);
                for (int i = 0; i < consumed; i++)
                {
                    bufferOfHead[driver.addBuffer(reposts[i], BUFFER_SIZE, true)] = reposts[i];
                }
                driver.publishAvail();
            }
            return expected;
        }
    }
}
