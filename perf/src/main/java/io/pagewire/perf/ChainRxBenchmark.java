package io.pagewire.perf;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

import static io.pagewire.perf.Frames.BURST;
import static io.pagewire.perf.Frames.check;

/**
 * Receive without MRG_RXBUF through {@link ChainRxWriter}: one chain per frame, in Linux's two shapes, with the
 * 12-byte header of VERSION_1. Per frame the writer validates the whole chain ({@code readChain}) before it copies.
 * <ul>
 *   <li><b>big mode</b> (GUEST_TSO negotiated): chains of 20 descriptors shaped like Linux's
 *       {@code add_recvbuf_big} (a 12-byte header descriptor, the rest of the first page, 18 more pages; 77 KB),
 *       receiving 1514-byte frames; 51 chains posted on a 1024-entry queue, either direct or each through an
 *       indirect table (as Linux posts them when INDIRECT_DESC is negotiated).</li>
 *   <li><b>small mode</b>: one 1530-byte buffer (header + 1518) per frame, as {@code add_recvbuf_small}; 256-entry
 *       queue.</li>
 * </ul>
 * One operation is a burst of 32 frames, one {@code publishUsed}, and the driver re-posting the 32 chains in the same
 * thread; scores are per frame. {@link #bigModeRingRecycle} is that ring round trip alone for big mode, where
 * re-posting a 20-descriptor chain is not small; for small mode it is the same as
 * {@code MergeableRxBenchmark.ringRecycle} with 64 or 1514-byte frames (one single-descriptor buffer per frame).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
public class ChainRxBenchmark
{
    static final int HEADER_LENGTH = VirtioNetHeader.length(FeatureBit.VERSION_1.mask());

    /** One receive queue and its posted chains. */
    abstract static class Queue
    {
        FakeGuestMemory guest;
        Arena arena;
        DeviceVirtqueue device;
        ChainRxWriter writer;
        RecyclingDriver driver;
        long frameAddress;
        int length;
        long failures;

        void setUp(final int queueSize, final int chains, final int[] bufferLengths, final boolean indirect,
            final int frameLength)
        {
            guest = FakeGuestMemory.ofSize(8L << 20);
            arena = Arena.ofShared();
            final TestVirtqueue queue = TestVirtqueue.of(guest, queueSize);
            device = queue.device();
            writer = new ChainRxWriter(device, HEADER_LENGTH);
            final long[][] addresses = new long[chains][bufferLengths.length];
            final int[][] lengths = new int[chains][];
            for (int slot = 0; slot < chains; slot++)
            {
                for (int i = 0; i < bufferLengths.length; i++)
                {
                    addresses[slot][i] = guest.allocate(bufferLengths[i], i == 0 ? 64 : 16);
                }
                lengths[slot] = bufferLengths.clone();
            }
            driver = new RecyclingDriver(queue, addresses, lengths, indirect, true);
            driver.postAll();
            length = frameLength;
            frameAddress = Frames.random(arena, frameLength, frameLength).address();
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            check(failures == 0, failures + " bursts did not deliver every frame");
            check(device.isRunning(), "queue broken: " + device.brokenReason());
            check(guest.guardsIntact(), "device wrote outside guest memory");
            arena.close();
            guest.close();
        }

        int deliverBurst()
        {
            final ChainRxWriter writer = this.writer;
            final long frameAddress = this.frameAddress;
            final int frameLength = this.length;
            int delivered = 0;
            for (int i = 0; i < BURST; i++)
            {
                delivered += writer.deliverToGuest(frameAddress, frameLength);
            }
            device.publishUsed();
            if (driver.recycle() != delivered || delivered != BURST)
            {
                failures++;
            }
            return delivered;
        }
    }

    /** Big mode: 20-descriptor chains, 1514-byte frames. */
    @State(Scope.Thread)
    public static class BigMode extends Queue
    {
        /** DIRECT: 20 descriptors in the ring's table; INDIRECT: one ring descriptor pointing at a table of 20. */
        @Param({"DIRECT", "INDIRECT"})
        public String layout;

        @Setup(Level.Trial)
        public void setUp()
        {
            final int[] lengths = new int[20];
            lengths[0] = HEADER_LENGTH;
            lengths[1] = 4096 - 16;
            for (int i = 2; i < lengths.length; i++)
            {
                lengths[i] = 4096;
            }
            final boolean indirect = layout.equals("INDIRECT");
            // 51 chains in flight either way, as many as 20-descriptor direct chains fit in 1024 descriptors.
            setUp(1024, 1024 / 20, lengths, indirect, 1514);
        }
    }

    /** Small mode: one header + 1518-byte buffer per frame. */
    @State(Scope.Thread)
    public static class SmallMode extends Queue
    {
        /** Frame length without the virtio-net header. */
        @Param({"64", "1514"})
        public int frameLength;

        @Setup(Level.Trial)
        public void setUp()
        {
            setUp(256, 256, new int[] {HEADER_LENGTH + 1518}, false, frameLength);
        }
    }

    /** @return frames delivered. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int bigMode(final BigMode queue)
    {
        return queue.deliverBurst();
    }

    /** @return chains returned: big mode's ring round trip (take, return, reap, re-post) with no read and no copy. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int bigModeRingRecycle(final BigMode queue)
    {
        final int returned = queue.driver.returnUnread(queue.device, BURST, HEADER_LENGTH + queue.length);
        if (queue.driver.recycle() != BURST)
        {
            queue.failures++;
        }
        return returned;
    }

    /** @return frames delivered. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int smallMode(final SmallMode queue)
    {
        return queue.deliverBurst();
    }
}
