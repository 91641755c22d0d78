package io.pagewire.dataplane.port;

import io.pagewire.dataplane.tx.TxSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Both rings of a port file under two threads, each on its own mapping, as with a peer process: the peer produces
 * on the rx ring and consumes the tx ring; the "dataplane" consumes the rx ring through {@link NicPort} and produces
 * on the tx ring through {@link TxSink}. Frames vary in length up to a full slot and carry sequence + checksum; each
 * consumer releases random parts of what it sees, so frames stay in the ring across polls. Any ordering mistake shows
 * up as a lost, duplicated, reordered, truncated or corrupt frame.
 * <p>
 * 10^6 frames each way by default ({@code -Dpagewire.stress.frames=N} to change).
 */
class ShmFrameRingConcurrentTest
{
    private static final long FRAMES = Long.getLong("pagewire.stress.frames", 1_000_000L);
    private static final int SLOT_COUNT = 256;
    private static final int SLOT_SIZE = 2048;
    private static final long TIMEOUT_NANOS = TimeUnit.MINUTES.toNanos(3);

    @TempDir
    Path dir;

    @Test
    void everyFrameArrivesOnceInOrderAndIntactBothWays() throws Exception
    {
        final Path file = dir.resolve("nic0");
        final int maxFrameLength = SLOT_SIZE - 8;
        try (ShmNicPort dataplane = ShmNicPort.create(file, SLOT_COUNT, SLOT_SIZE);
            ShmNicPort peer = ShmNicPort.attach(file);
            ShmTestFrames fromWire = new ShmTestFrames(1024, maxFrameLength, 1);
            ShmTestFrames fromGuest = new ShmTestFrames(1024, maxFrameLength, 2))
        {
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final long deadline = System.nanoTime() + TIMEOUT_NANOS;
            final long[] peerCounts = new long[2];
            final Thread peerThread = new Thread(() ->
            {
                try
                {
                    runPeer(peer.rxRing(), peer.txRing(), fromWire, fromGuest, failure, deadline, peerCounts);
                }
                catch (final Throwable t)
                {
                    failure.compareAndSet(null, t);
                }
            }, "peer");
            peerThread.start();

            final long[] dataplaneCounts = new long[2];
            try
            {
                runDataplane(dataplane, fromWire, fromGuest, failure, deadline, dataplaneCounts);
            }
            catch (final Throwable t)
            {
                failure.compareAndSet(null, t);
            }
            peerThread.join(TimeUnit.NANOSECONDS.toMillis(Math.max(deadline - System.nanoTime(), 1_000_000)));
            if (peerThread.isAlive())
            {
                // Stop it before the ports are unmapped under it.
                failure.compareAndSet(null, new AssertionError("peer thread did not finish"));
                peerThread.join();
            }
            if (failure.get() != null)
            {
                fail(failure.get());
            }
            assertEquals(FRAMES, dataplaneCounts[0], "rx frames verified by the dataplane");
            assertEquals(FRAMES, dataplaneCounts[1], "tx frames sent by the dataplane");
            assertEquals(FRAMES, peerCounts[0], "rx frames sent by the peer");
            assertEquals(FRAMES, peerCounts[1], "tx frames verified by the peer");
            assertFalse(dataplane.rxRing().isBroken() || dataplane.txRing().isBroken());
            assertFalse(peer.rxRing().isBroken() || peer.txRing().isBroken());
        }
    }

    /** Produces on rx, consumes tx. counts[0] = produced, counts[1] = verified. */
    private static void runPeer(
        final ShmFrameRing rx,
        final ShmFrameRing tx,
        final ShmTestFrames fromWire,
        final ShmTestFrames fromGuest,
        final AtomicReference<Throwable> failure,
        final long deadline,
        final long[] counts)
    {
        final SplittableRandom random = new SplittableRandom(11);
        while (counts[0] < FRAMES || counts[1] < FRAMES)
        {
            checkRunning(failure, deadline, rx, tx);
            int burst = random.nextInt(1, 65);
            while (burst-- > 0 && counts[0] < FRAMES)
            {
                final long sequence = counts[0];
                final int length = fromWire.lengthOf(sequence);
                final long address = rx.claim(length);
                if (address == 0)
                {
                    break;
                }
                fromWire.writeTo(sequence, address);
                rx.commit(length);
                counts[0]++;
            }
            counts[1] += consume(tx, fromGuest, counts[1], random);
        }
    }

    /** Consumes rx through NicPort, produces on tx through TxSink. counts[0] = verified, counts[1] = produced. */
    private static void runDataplane(
        final ShmNicPort port,
        final ShmTestFrames fromWire,
        final ShmTestFrames fromGuest,
        final AtomicReference<Throwable> failure,
        final long deadline,
        final long[] counts)
    {
        final NicPort nic = port;
        final TxSink sink = port;
        final SplittableRandom random = new SplittableRandom(12);
        while (counts[0] < FRAMES || counts[1] < FRAMES)
        {
            checkRunning(failure, deadline, port.rxRing(), port.txRing());
            final int available = nic.rxAvailable();
            if (available > 0)
            {
                // Leave a random tail in the ring, as the "wait" policy does when the guest runs out of buffers.
                final int take = random.nextInt(1, available + 1);
                for (int i = 0; i < take; i++)
                {
                    final String error = fromWire.verify(counts[0] + i, nic.rxFrameAddress(i), nic.rxFrameLength(i));
                    if (error != null)
                    {
                        throw new AssertionError("dataplane rx: " + error);
                    }
                }
                nic.rxRelease(take);
                counts[0] += take;
            }

            int burst = random.nextInt(1, 65);
            while (burst-- > 0 && counts[1] < FRAMES)
            {
                final long sequence = counts[1];
                final int length = fromGuest.lengthOf(sequence);
                final long address = sink.claim(length);
                if (address == 0)
                {
                    break;
                }
                fromGuest.writeTo(sequence, address);
                sink.commit(length);
                counts[1]++;
            }
        }
    }

    private static int consume(
        final ShmFrameRing ring, final ShmTestFrames frames, final long expected, final SplittableRandom random)
    {
        final int available = ring.available();
        if (available == 0)
        {
            return 0;
        }
        final int take = random.nextInt(1, available + 1);
        for (int i = 0; i < take; i++)
        {
            final String error = frames.verify(expected + i, ring.frameAddress(i), ring.frameLength(i));
            if (error != null)
            {
                throw new AssertionError("peer tx: " + error);
            }
        }
        ring.release(take);
        return take;
    }

    private static void checkRunning(
        final AtomicReference<Throwable> failure, final long deadline, final ShmFrameRing a, final ShmFrameRing b)
    {
        if (a.isBroken() || b.isBroken())
        {
            throw new AssertionError("a ring saw an impossible index: " + Thread.currentThread().getName());
        }
        if (failure.get() != null)
        {
            throw new AssertionError("stopped: the other thread failed");
        }
        if (System.nanoTime() - deadline > 0)
        {
            throw new AssertionError("timed out");
        }
    }
}
