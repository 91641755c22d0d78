package io.pagewire.perf;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.tx.TxReader;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static io.pagewire.perf.Frames.BURST;
import static io.pagewire.perf.Frames.check;

/**
 * Transmit: {@link TxReader#collectFromGuest} taking 32 frames from the guest's transmit queue into a
 * {@link RingTxSink} (an off-heap NIC ring; one copy per frame, straight from guest memory into the slot).
 * <p>
 * Each chain is a 12-byte virtio-net header descriptor and a data descriptor, either in the ring's table
 * ({@code DIRECT}, 2 descriptors) or behind one indirect descriptor ({@code INDIRECT}, a table of 2). Per frame the
 * reader validates the chain, copies the header out to check {@code gso_type}, and copies the frame. One operation
 * is a burst of 32, one {@code publishUsed}, the NIC draining the sink, and the driver reaping and re-posting the 32
 * chains in the same thread; scores are per frame. {@link #ringRecycle} is that ring round trip alone, so
 * {@code collectBurst - ringRecycle} is what the reader adds. 128 chains are posted on a 256-entry queue; their
 * frames are written once at setup.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
@State(Scope.Thread)
public class TxReaderBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int CHAINS = 128;
    private static final int HEADER_LENGTH = VirtioNetHeader.length(FeatureBit.VERSION_1.mask());

    /** Frame length without the virtio-net header. */
    @Param({"64", "1514"})
    public int frameLength;

    /** DIRECT: header and data descriptors in the ring's table; INDIRECT: one descriptor pointing at a table of 2. */
    @Param({"DIRECT", "INDIRECT"})
    public String layout;

    private FakeGuestMemory guest;
    private DeviceVirtqueue device;
    private TxReader reader;
    private RingTxSink sink;
    private RecyclingDriver driver;
    private long failures;

    @Setup(Level.Trial)
    public void setUp()
    {
        guest = FakeGuestMemory.ofSize(4L << 20);
        final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
        device = queue.device();
        reader = new TxReader(device, HEADER_LENGTH);
        sink = new RingTxSink(64, 1514);
        final long[][] addresses = new long[CHAINS][2];
        final int[][] lengths = new int[CHAINS][2];
        final SplittableRandom random = new SplittableRandom(frameLength);
        final byte[] frame = new byte[frameLength];
        for (int slot = 0; slot < CHAINS; slot++)
        {
            addresses[slot][0] = guest.allocate(HEADER_LENGTH, 64);
            lengths[slot][0] = HEADER_LENGTH;
            addresses[slot][1] = guest.allocate(frameLength, 64);
            lengths[slot][1] = frameLength;
            // The header stays zero: flags 0, GSO_NONE.
            random.nextBytes(frame);
            guest.put(addresses[slot][1], frame);
        }
        driver = new RecyclingDriver(queue, addresses, lengths, layout.equals("INDIRECT"), false);
        driver.postAll();
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        check(failures == 0, failures + " bursts did not collect every frame");
        check(reader.droppedGso() == 0 && reader.droppedTooLong() == 0, "frames dropped");
        check(device.isRunning(), "queue broken: " + device.brokenReason());
        check(guest.guardsIntact(), "device wrote outside guest memory");
        guest.close();
    }

    /** @return frames collected. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int collectBurst()
    {
        final int collected = reader.collectFromGuest(sink, BURST);
        device.publishUsed();
        sink.drain();
        if (driver.recycle() != collected || collected != BURST)
        {
            failures++;
        }
        return collected;
    }

    /** @return chains returned: the same ring round trip as {@link #collectBurst} with no read and no copy. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public int ringRecycle()
    {
        final int returned = driver.returnUnread(device, BURST, 0);
        if (driver.recycle() != BURST)
        {
            failures++;
        }
        return returned;
    }
}
