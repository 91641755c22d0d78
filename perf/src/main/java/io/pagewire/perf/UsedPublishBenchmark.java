package io.pagewire.perf;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import static io.pagewire.perf.Frames.BURST;

/**
 * Returning used elements: 32 × {@code addUsed} then one {@code publishUsed} (one release-store of {@code used.idx},
 * then the EVENT_IDX notification decision), against {@code addUsed} + {@code publishUsed} per packet. Device side
 * only, no chain read and no copy; scores are per packet.
 * <p>
 * {@code publishPerBurst}/{@code publishPerPacket} run on one thread, so they show the fence and the extra loads
 * only: on x86 each volatile store of {@code used.idx} is followed by a full fence (a locked instruction) that drains
 * the store buffer. The {@code polled*} groups add a second thread standing for a guest that busy-polls
 * {@code used.idx} (as a NAPI poll or a DPDK virtio PMD does), so each publish also has to take the used ring's cache
 * line back from the other core. JMH applies one operations-per-invocation to a whole group, so there the device
 * thread's score is per burst of 32 packets (divide by 32) and the guest thread's per poll; the group's own score
 * (the mean of the two) means nothing. That pair needs both cores of a two-core machine: treat it as indicative.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
public class UsedPublishBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int USED_LENGTH = 12 + 1514;

    /** A device-side queue whose used ring is written and published; only the device thread touches it. */
    abstract static class UsedRing
    {
        FakeGuestMemory guest;
        DeviceVirtqueue device;
        UnsafeBuffer usedRing;
        int nextHead;

        @Setup(Level.Trial)
        public void setUp()
        {
            guest = FakeGuestMemory.ofSize(1L << 20);
            // Nobody reaps the used ring here; the device never reads it back, so only a driver would notice.
            final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
            device = queue.device();
            usedRing = new UnsafeBuffer(queue.driver().usedRingAddress(), SplitRingLayout.usedRingLength(QUEUE_SIZE));
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            Frames.check(device.isRunning(), "queue broken: " + device.brokenReason());
            guest.close();
        }

        boolean publishPerBurst()
        {
            final DeviceVirtqueue device = this.device;
            int head = nextHead;
            for (int i = 0; i < BURST; i++)
            {
                device.addUsed(head, USED_LENGTH);
                head = (head + 1) & (QUEUE_SIZE - 1);
            }
            nextHead = head;
            return device.publishUsed();
        }

        boolean publishPerPacket()
        {
            final DeviceVirtqueue device = this.device;
            int head = nextHead;
            boolean notify = false;
            for (int i = 0; i < BURST; i++)
            {
                device.addUsed(head, USED_LENGTH);
                head = (head + 1) & (QUEUE_SIZE - 1);
                notify |= device.publishUsed();
            }
            nextHead = head;
            return notify;
        }

        int pollUsedIdx()
        {
            // Acquire, as a driver reads used.idx.
            return usedRing.getShortVolatile(SplitRingLayout.USED_IDX_OFFSET) & 0xFFFF;
        }
    }

    /** One thread. */
    @State(Scope.Thread)
    public static class DeviceOnly extends UsedRing
    {
    }

    /** Shared by the device thread and the polling guest thread of a group. */
    @State(Scope.Group)
    public static class Polled extends UsedRing
    {
    }

    /** @return whether the driver asked for a notification. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public boolean publishPerBurst(final DeviceOnly ring)
    {
        return ring.publishPerBurst();
    }

    /** @return whether the driver asked for a notification after any of the packets. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public boolean publishPerPacket(final DeviceOnly ring)
    {
        return ring.publishPerPacket();
    }

    /** @return whether the driver asked for a notification (score: ns per burst of 32). */
    @Benchmark
    @Group("polledBurst")
    @GroupThreads(1)
    public boolean polledBurstDevice(final Polled ring)
    {
        return ring.publishPerBurst();
    }

    /** @return used.idx as the polling guest saw it (score: ns per poll). */
    @Benchmark
    @Group("polledBurst")
    @GroupThreads(1)
    public int polledBurstGuest(final Polled ring)
    {
        return ring.pollUsedIdx();
    }

    /** @return whether the driver asked for a notification after any of the packets (score: ns per burst of 32). */
    @Benchmark
    @Group("polledPerPacket")
    @GroupThreads(1)
    public boolean polledPerPacketDevice(final Polled ring)
    {
        return ring.publishPerPacket();
    }

    /** @return used.idx as the polling guest saw it (score: ns per poll). */
    @Benchmark
    @Group("polledPerPacket")
    @GroupThreads(1)
    public int polledPerPacketGuest(final Polled ring)
    {
        return ring.pollUsedIdx();
    }
}
