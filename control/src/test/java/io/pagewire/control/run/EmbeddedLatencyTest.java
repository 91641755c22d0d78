package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.device.VirtioNetDevice;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.guest.EmbeddedGuest;
import io.pagewire.dataplane.guest.LatencyRecorder;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.TrafficSource;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.ShmNicPort;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The embedded guest's latency recording, deterministic: source, dataplane agent and guest stepped by hand on the
 * test thread against a fake clock, so every frame's latency is known exactly. Also: with latency on, the steady
 * state of all three (the whole embedded hot path) allocates nothing.
 */
class EmbeddedLatencyTest
{
    private static final long TRANSIT_NS = 3_000;

    @TempDir
    Path temp;

    private final CachedNanoClock clock = new CachedNanoClock();
    private final LatencyRecorder recorder = new LatencyRecorder(clock);
    private final LatencyRecorder usedRing = new LatencyRecorder(clock);
    private final GuestMemory memory = new GuestMemory();
    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private ShmNicPort nic;
    private EmbeddedGuest guest;
    private TrafficSource source;
    private TrafficSink sink;

    @AfterEach
    void tearDown()
    {
        if (guest != null)
        {
            guest.close();
        }
        if (nic != null)
        {
            nic.closeAndDelete();
        }
    }

    private void start(final String... overrides) throws Exception
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of(overrides));
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        guest = new EmbeddedGuest(config, memory, recorder);
        agent.publishLatency(usedRing);
        final VirtioNetDevice device = new VirtioNetDevice(config, memory, proxy, nic, GuestNotifier.POLLING, null);
        guest.start(device);
        for (int i = 0; i < 4; i++)
        {
            agent.doWork();
        }
        assertNotNull(device.attached(), "the dataplane serves the queues");
        source = new TrafficSource(nic.rxRing(), config.traffic().frameSize(), 0);
        sink = new TrafficSink(nic.txRing());
    }

    /** Sends one burst at {@code sendNs} and lets everything land at {@code sendNs + transitNs}. */
    private int burst(final long sendNs, final long transitNs)
    {
        clock.update(sendNs);
        final int sent = source.produce(sendNs);
        clock.update(sendNs + transitNs);
        int work;
        do
        {
            try
            {
                work = agent.doWork();
            }
            catch (final Exception ex)
            {
                throw new AssertionError("the dataplane agent failed", ex);
            }
            work += guest.poll(sendNs + transitNs);
            work += sink.consume();
        }
        while (work > 0);
        return sent;
    }

    @Test
    void everyVerifiedFrameIsRecordedWithItsLatency() throws Exception
    {
        start();
        long now = TimeUnit.SECONDS.toNanos(1);
        long sent = 0;
        for (int i = 0; i < 50; i++)
        {
            sent += burst(now, TRANSIT_NS);
            now += TimeUnit.MICROSECONDS.toNanos(100);
        }
        // One burst that was due 250 ms before it could land (a stall): it must show as such, not as a fast frame.
        sent += burst(now, TimeUnit.MILLISECONDS.toNanos(250));

        final Histogram histogram = recorder.intervalHistogram(null);
        assertTrue(sent > 1000, "traffic flowed: " + sent);
        assertEquals(0, guest.verify().corrupt());
        assertEquals(sent, guest.verify().checked(), "the guest verified every frame");
        assertEquals(guest.verify().checked(), histogram.getTotalCount(), "one value per verified frame");
        assertTrue(histogram.valuesAreEquivalent(TRANSIT_NS, histogram.getMinValue()), "min " +
            histogram.getMinValue());
        assertTrue(histogram.valuesAreEquivalent(TRANSIT_NS, histogram.getValueAtPercentile(50)));
        assertTrue(histogram.valuesAreEquivalent(TimeUnit.MILLISECONDS.toNanos(250), histogram.getMaxValue()),
            "max " + histogram.getMaxValue());

        final Histogram bursts = usedRing.intervalHistogram(null);
        assertTrue(bursts.getTotalCount() >= 51 && bursts.getTotalCount() < histogram.getTotalCount(),
            "one used-ring sample per receive burst: " + bursts.getTotalCount());
        assertTrue(bursts.valuesAreEquivalent(TRANSIT_NS, bursts.getMinValue()));
        assertTrue(bursts.valuesAreEquivalent(TimeUnit.MILLISECONDS.toNanos(250), bursts.getMaxValue()));

        long previous = 0;
        for (final double percentile : new double[] {50, 90, 99, 99.9, 99.99, 100})
        {
            final long value = histogram.getValueAtPercentile(percentile);
            assertTrue(value >= previous, "percentiles are monotone at " + percentile);
            previous = value;
        }
    }

    @Test
    void withLatencyOnTheEmbeddedHotPathAllocatesNothing() throws Exception
    {
        start();
        final long[] now = {TimeUnit.SECONDS.toNanos(1)};
        for (int i = 0; i < 3000; i++)
        {
            burst(now[0], TRANSIT_NS);
            now[0] += TimeUnit.MICROSECONDS.toNanos(100);
        }
        // Interval histograms are recycled, as the control thread does: two swaps warm both buffers.
        final Histogram[] interval = {recorder.intervalHistogram(null)};
        interval[0] = recorder.intervalHistogram(interval[0]);
        final Histogram[] usedRingInterval = {usedRing.intervalHistogram(null)};
        usedRingInterval[0] = usedRing.intervalHistogram(usedRingInterval[0]);
        final long frames = AllocationMeter.assertSomeWindowAllocatesNothing("moving frames with latency recording on",
            3, () ->
            {
                long moved = 0;
                for (int i = 0; i < 5000; i++)
                {
                    moved += burst(now[0], TRANSIT_NS);
                    now[0] += TimeUnit.MICROSECONDS.toNanos(100);
                    if (i % 1000 == 999)
                    {
                        interval[0] = recorder.intervalHistogram(interval[0]);
                        usedRingInterval[0] = usedRing.intervalHistogram(usedRingInterval[0]);
                    }
                }
                return moved;
            });
        assertTrue(frames > 100_000, "frames " + frames);
    }
}
