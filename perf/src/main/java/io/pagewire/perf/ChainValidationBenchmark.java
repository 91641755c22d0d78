package io.pagewire.perf;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.ScatterList;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import static io.pagewire.perf.Frames.check;

/**
 * {@link DeviceVirtqueue#readChain} alone: copying and validating one device-writable chain of 4096-byte buffers
 * (next and head bounds, TTL, flags, indirect rules, overflow-checked length, each range translated through the
 * region table) into a {@link ScatterList}. The same chain is read every time, so descriptors are in L1 and branches
 * are predicted: this is the instruction cost of the checks, per chain, with nothing consumed.
 * <p>
 * {@code SINGLE}: one descriptor (a mergeable or small-mode buffer). {@code DIRECT_20}: 20 linked descriptors
 * (big mode). {@code INDIRECT_20}: one descriptor pointing at a table of 20.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
@State(Scope.Thread)
public class ChainValidationBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int BUFFER_SIZE = 4096;

    /** The chain's shape. */
    @Param({"SINGLE", "DIRECT_20", "INDIRECT_20"})
    public String chain;

    private FakeGuestMemory guest;
    private DeviceVirtqueue device;
    private ScatterList scatter;
    private int head;
    private long expectedLength;

    @Setup(Level.Trial)
    public void setUp()
    {
        guest = FakeGuestMemory.ofSize(1L << 20);
        final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
        device = queue.device();
        scatter = new ScatterList(2 * QUEUE_SIZE, 1);
        final int count = chain.equals("SINGLE") ? 1 : 20;
        final long[] addresses = new long[count];
        final int[] lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            addresses[i] = guest.allocate(BUFFER_SIZE, BUFFER_SIZE);
            lengths[i] = BUFFER_SIZE;
        }
        final DriverVirtqueue driver = queue.driver();
        head = switch (chain)
        {
            case "SINGLE" -> driver.addBuffer(addresses[0], BUFFER_SIZE, true);
            case "DIRECT_20" -> driver.addChain(addresses, lengths, count, true);
            case "INDIRECT_20" -> driver.addIndirectChain(
                guest.allocate((long)count * SplitRingLayout.DESC_SIZE, SplitRingLayout.DESC_TABLE_ALIGNMENT),
                addresses, lengths, count, true);
            default -> throw new IllegalArgumentException("chain=" + chain);
        };
        driver.publishAvail();
        check(device.availableChains() == 1 && device.availHead(0) == head, "chain not available");
        expectedLength = (long)count * BUFFER_SIZE;
        check(readChain() == expectedLength, "chain did not validate: " + device.brokenReason());
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        check(device.isRunning(), "queue broken: " + device.brokenReason());
        check(scatter.chainCount() == 1 && scatter.chainLength(0) == expectedLength, "last read was not whole");
        guest.close();
    }

    /** @return the chain's length in bytes. */
    @Benchmark
    public long readChain()
    {
        final ScatterList scatter = this.scatter;
        scatter.reset();
        return device.readChain(head, true, scatter);
    }
}
