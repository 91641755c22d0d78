package io.pagewire.perf;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
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
 * Mergeable receive (VIRTIO_NET_F_MRG_RXBUF) into 4096-byte page buffers: what {@link MergeableRxWriter} costs per
 * frame, with the ring round trip it needs.
 * <p>
 * One operation is a burst of 32 frames of one size: 32 × {@code deliverToGuest} (reserve buffers, validate their
 * chains, write the 12-byte header and the frame), one {@code publishUsed}, and then the guest driver's share in
 * the same thread: reap the used elements, free and re-post the buffers, publish {@code avail.idx}. Scores are per
 * frame. {@link #ringRecycle} does the same ring round trip with no chain read and no copy (the device only takes
 * and returns the buffers), so {@code deliverBurst - ringRecycle} is what the writer itself adds.
 * <p>
 * Queue of 256 buffers, EVENT_IDX on; a 64 or 1514-byte frame takes 1 buffer, a 9000-byte frame 3. The same source
 * frame is copied every time (it stays in cache, as a frame just received from a NIC ring would); the destination
 * buffers rotate through the 1 MiB the ring holds.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
@State(Scope.Thread)
public class MergeableRxBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int BUFFER_SIZE = 4096;

    /** Frame length without the virtio-net header. */
    @Param({"64", "1514", "9000"})
    public int frameLength;

    private FakeGuestMemory guest;
    private Arena arena;
    private DeviceVirtqueue device;
    private MergeableRxWriter writer;
    private RecyclingDriver driver;
    private long frameAddress;
    private int buffersPerFrame;
    private long failures;

    @Setup(Level.Trial)
    public void setUp()
    {
        guest = FakeGuestMemory.ofSize(4L << 20);
        arena = Arena.ofShared();
        final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
        device = queue.device();
        writer = new MergeableRxWriter(device);
        final long[][] addresses = new long[QUEUE_SIZE][1];
        final int[][] lengths = new int[QUEUE_SIZE][1];
        for (int slot = 0; slot < QUEUE_SIZE; slot++)
        {
            addresses[slot][0] = guest.allocate(BUFFER_SIZE, 64);
            lengths[slot][0] = BUFFER_SIZE;
        }
        driver = new RecyclingDriver(queue, addresses, lengths, false, true);
        driver.postAll();
        frameAddress = Frames.random(arena, frameLength, frameLength).address();
        buffersPerFrame = (VirtioNetHeader.MRG_RXBUF_LENGTH + frameLength + BUFFER_SIZE - 1) / BUFFER_SIZE;
        if (BURST * buffersPerFrame > QUEUE_SIZE)
        {
            throw new IllegalStateException("a burst needs more buffers than the queue holds");
        }
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

    /** @return buffers used by the burst (≥ 32). */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int deliverBurst()
    {
        final MergeableRxWriter writer = this.writer;
        final long frameAddress = this.frameAddress;
        final int frameLength = this.frameLength;
        int buffers = 0;
        for (int i = 0; i < BURST; i++)
        {
            buffers += writer.deliverToGuest(frameAddress, frameLength);
        }
        device.publishUsed();
        if (driver.recycle() != buffers || buffers != BURST * buffersPerFrame)
        {
            failures++;
        }
        return buffers;
    }

    /** @return buffers returned: the same ring round trip as {@link #deliverBurst} without reading or writing. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int ringRecycle()
    {
        final int chains = BURST * buffersPerFrame;
        final int returned = driver.returnUnread(device, chains, BUFFER_SIZE);
        if (driver.recycle() != chains)
        {
            failures++;
        }
        return returned;
    }
}
