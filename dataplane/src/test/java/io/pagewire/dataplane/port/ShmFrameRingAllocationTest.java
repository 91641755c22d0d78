package io.pagewire.dataplane.port;

import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.tx.TxSink;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The port's steady state allocates nothing: after warm-up, 10^6 frames go peer → rx ring → dataplane (NicPort
 * burst API) → tx ring (TxSink claim/commit, copied with {@link MemoryCopy}) → peer, on this one thread, and
 * {@code com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes} moves by 0 bytes.
 * <p>
 * Measured with {@link AllocationMeter} (seen once on a loaded machine: 72 and 1080 bytes at an uncommon trap in
 * Agrona's {@code getInt}, not per-frame allocation).
 */
class ShmFrameRingAllocationTest
{
    private static final int FRAMES = 1_000_000;
    private static final int WARMUP = 500_000;
    private static final int ATTEMPTS = 3;
    private static final int SLOT_COUNT = 256;
    private static final int SLOT_SIZE = 2048;
    private static final int BURST = 32;
    private static final int[] LENGTHS = {60, 1514, 64, 2040, 128, 590, 16, 1000};

    @TempDir
    Path dir;

    /** Moves frames through both rings; all state preallocated. */
    private static final class Loop
    {
        final ShmFrameRing peerRx;
        final ShmFrameRing peerTx;
        final NicPort nic;
        final TxSink sink;
        final long source;
        final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        long sent;
        long forwarded;
        long received;

        Loop(final ShmNicPort dataplane, final ShmNicPort peer, final long source)
        {
            this.peerRx = peer.rxRing();
            this.peerTx = peer.txRing();
            this.nic = dataplane;
            this.sink = dataplane;
            this.source = source;
        }

        void run(final int frames)
        {
            final long target = sent + frames;
            while (received < target)
            {
                for (int i = 0; i < BURST && sent < target; i++)
                {
                    final int length = LENGTHS[(int)(sent & 7)];
                    final long address = peerRx.claim(length);
                    if (address == 0)
                    {
                        break;
                    }
                    MemoryCopy.copy(source, address, length);
                    view.wrap(address, length);
                    view.putLong(0, sent);
                    peerRx.commit(length);
                    sent++;
                }

                // Dataplane: forward what fits, release in two parts so a tail stays for the next poll.
                final int available = nic.rxAvailable();
                int taken = 0;
                while (taken < available)
                {
                    final int length = nic.rxFrameLength(taken);
                    final long destination = sink.claim(length);
                    if (destination == 0)
                    {
                        break;
                    }
                    MemoryCopy.copy(nic.rxFrameAddress(taken), destination, length);
                    sink.commit(length);
                    taken++;
                    forwarded++;
                }
                final int first = taken / 2;
                nic.rxRelease(first);
                nic.rxRelease(taken - first);

                final int arrived = peerTx.available();
                for (int i = 0; i < arrived; i++)
                {
                    view.wrap(peerTx.frameAddress(i), peerTx.frameLength(i));
                    if (view.getLong(0) != received + i || view.capacity() != LENGTHS[(int)((received + i) & 7)])
                    {
                        fail("frame " + (received + i) + " arrived as " + view.getLong(0) + " of " + view.capacity());
                    }
                }
                peerTx.release(arrived);
                received += arrived;
            }
        }
    }

    @Test
    void steadyStateMovesFramesWithoutAllocating()
    {
        final Path file = dir.resolve("nic0");
        try (ShmNicPort dataplane = ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE);
            ShmNicPort peer = ShmNicPort.attach(file);
            Arena arena = Arena.ofConfined())
        {
            final MemorySegment source = arena.allocate(SLOT_SIZE, 64);
            final Loop loop = new Loop(dataplane, peer, source.address());

            loop.run(WARMUP);

            final int[] windows = new int[1];
            AllocationMeter.assertSomeWindowAllocatesNothing("moving frames through both rings", ATTEMPTS, () ->
            {
                windows[0]++;
                loop.run(FRAMES);
                return FRAMES;
            });

            assertEquals(WARMUP + (long)windows[0] * FRAMES, loop.received, "frames moved");
            assertEquals(WARMUP + (long)windows[0] * FRAMES, loop.forwarded, "frames forwarded");
        }
    }
}
