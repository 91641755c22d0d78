package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link QueueCounters}, {@link SystemCounters} and the enums behind them: every counter allocated once with its
 * label, type id and key, each accessor wired to its own counter, and {@link CountersLookup} finding them again.
 */
class QueueCountersTest
{
    private static final int CAPACITY = 512;

    private final CountersManager manager = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(CAPACITY * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(CAPACITY * CountersReader.COUNTER_LENGTH)));

    private record Allocated(int typeId, int queue, int member, String label)
    {
    }

    private Map<Integer, Allocated> allocated()
    {
        final Map<Integer, Allocated> counters = new HashMap<>();
        manager.forEach((final int counterId, final int typeId, final org.agrona.DirectBuffer key, final String label) ->
            counters.put(counterId, new Allocated(typeId, CounterKey.queue(key), CounterKey.member(key), label)));
        return counters;
    }

    @Test
    void allocatesEveryCounterOfAQueuePairWithItsLabelTypeAndKey()
    {
        final QueueCounters counters = new QueueCounters(manager, 3);
        final Map<Integer, Allocated> allocated = allocated();

        assertEquals(33 - 2 + 65 + QueueError.values().length, QueueCounters.COUNTERS_PER_QUEUE_PAIR);
        assertEquals(QueueCounters.COUNTERS_PER_QUEUE_PAIR, allocated.size());
        final Set<String> labels = new HashSet<>();
        for (final Allocated counter : allocated.values())
        {
            assertEquals(3, counter.queue(), counter.label());
            assertTrue(labels.add(counter.label()), "labels are unique: " + counter.label());
            final QueueCounter entry = QueueCounter.get(counter.typeId());
            assertNotNull(entry, "type id " + counter.typeId());
            assertEquals(entry.label(3, counter.member()), counter.label());
        }
        assertTrue(labels.contains("q3 rx packets"));
        assertTrue(labels.contains("q3 rx bytes"));
        assertTrue(labels.contains("q3 rx drops nic_ring_full"));
        assertTrue(labels.contains("q3 rx ring occupancy"));
        assertTrue(labels.contains("q3 tx drops gso"));
        assertTrue(labels.contains("q3 tx drops bad_vnet_hdr"));
        assertTrue(labels.contains("q3 tx gso_segmented"));
        assertTrue(labels.contains("q3 tx nic_ring_full cycles"));
        assertTrue(labels.contains("q3 notify call_blocked"));
        assertTrue(labels.contains("q3 rx buffers per packet 1"));
        assertTrue(labels.contains("q3 rx buffers per packet 64"));
        assertTrue(labels.contains("q3 rx buffers per packet 65+"));
        assertFalse(labels.contains("q3 rx buffers per packet 65"));
        assertTrue(labels.contains("q3 queue error chain_too_long"));

        assertEquals(new Allocated(100, 3, 0, "q3 rx packets"), allocated.get(counters.rxPackets().id()));
        assertEquals(new Allocated(108, 3, 65, "q3 rx buffers per packet 65+"),
            allocated.get(counters.rxBuffersPerPacket(65).id()));
        assertEquals(new Allocated(115, 3, 4, "q3 queue error chain_too_long"),
            allocated.get(counters.queueErrors(QueueError.CHAIN_TOO_LONG).id()));
    }

    @Test
    void eachSingleCounterAccessorIsItsOwnCounterAndTheLookupFindsIt()
    {
        final QueueCounters q0 = new QueueCounters(manager, 0);
        final QueueCounters q1 = new QueueCounters(manager, 1);
        long value = 1;
        for (final QueueCounter entry : QueueCounter.values())
        {
            if (1 == entry.members())
            {
                q0.counter(entry).getAndAddRelease(value);
                q1.counter(entry).getAndAddRelease(1000 + value);
            }
            value++;
        }

        value = 1;
        for (final QueueCounter entry : QueueCounter.values())
        {
            if (1 == entry.members())
            {
                assertEquals(value, CountersLookup.value(manager, entry, 0), entry.toString());
                assertEquals(1000 + value, CountersLookup.value(manager, entry, 1), entry.toString());
                assertEquals("q0 " + entry.label(), manager.getCounterLabel(q0.counter(entry).id()));
            }
            value++;
        }
        assertSame(q0.counter(QueueCounter.RX_PACKETS), q0.rxPackets());
        assertSame(q0.counter(QueueCounter.RX_BYTES), q0.rxBytes());
        assertSame(q0.counter(QueueCounter.RX_RING_OCCUPANCY), q0.rxRingOccupancy());
        assertSame(q0.counter(QueueCounter.RX_DROPS_NIC_RING_FULL), q0.rxDropsNicRingFull());
        assertSame(q0.counter(QueueCounter.TX_PACKETS), q0.txPackets());
        assertSame(q0.counter(QueueCounter.TX_BYTES), q0.txBytes());
        assertSame(q0.counter(QueueCounter.TX_DROPS_TOO_LONG), q0.txDropsTooLong());
        assertSame(q0.counter(QueueCounter.TX_DROPS_GSO), q0.txDropsGso());
        assertSame(q0.counter(QueueCounter.TX_NIC_RING_FULL), q0.txNicRingFull());
        assertArrayEquals(new int[] { 0, 1 }, CountersLookup.queues(manager));
        assertThrows(IllegalArgumentException.class, () -> q0.counter(QueueCounter.RX_BUFFERS_PER_PACKET));
        assertThrows(IllegalArgumentException.class, () -> CountersLookup.value(manager, QueueCounter.RX_PACKETS, 2));
    }

    @Test
    void rxDropCountersMatchTheRxWriterResultNames()
    {
        final QueueCounters counters = new QueueCounters(manager, 0);
        for (final int result : List.of(RxWriter.NO_BUFFERS, RxWriter.FRAME_TOO_LONG, RxWriter.BUFFER_TOO_SMALL,
            RxWriter.QUEUE_BROKEN, RxWriter.TOO_MANY_SEGMENTS))
        {
            final AtomicCounter counter = counters.rxDrops(result);
            assertEquals("q0 rx drops " + RxWriter.describe(result), counter.label());
            assertSame(counters.counter(QueueCounter.rxDropFor(result)), counter);
        }
        assertThrows(IllegalArgumentException.class, () -> counters.rxDrops(1));
        assertThrows(IllegalArgumentException.class, () -> QueueCounter.rxDropFor(0));
    }

    @Test
    void oneCounterPerQueueError()
    {
        final QueueCounters counters = new QueueCounters(manager, 2);
        final Set<Integer> codes = new HashSet<>();
        for (final QueueError error : QueueError.values())
        {
            final int code = QueueCounter.queueErrorCode(error);
            assertTrue(codes.add(code), "codes are unique: " + error);
            assertSame(error, QueueCounter.queueErrorOf(code));
            final AtomicCounter counter = counters.queueErrors(error);
            assertEquals("q2 queue error " + error.name().toLowerCase(Locale.ROOT), counter.label());
            counter.getAndAddRelease(10 + error.ordinal());
        }
        assertNull(QueueCounter.queueErrorOf(0));
        final long[] read = CountersLookup.queueErrors(manager, 2);
        for (final QueueError error : QueueError.values())
        {
            assertEquals(10 + error.ordinal(), read[error.ordinal()], error.toString());
        }
    }

    @ParameterizedTest
    @CsvSource({ "1, 1, 1", "2, 2, 2", "63, 63, 63", "64, 64, 64", "65, 65, 65+", "66, 65, 65+", "300, 65, 65+",
        "32768, 65, 65+" })
    void histogramBuckets(final int numBuffers, final int bucket, final String label)
    {
        assertEquals(bucket, QueueCounter.bufferBucket(numBuffers));
        assertEquals(label, QueueCounter.bufferBucketLabel(bucket));

        final QueueCounters counters = new QueueCounters(manager, 0);
        counters.rxBuffersPerPacket(numBuffers).getAndAddRelease(5);
        assertEquals("q0 rx buffers per packet " + label, counters.rxBuffersPerPacket(numBuffers).label());
        final long[] buckets = CountersLookup.rxBuffersPerPacket(manager, 0);
        assertEquals(QueueCounter.BUFFER_BUCKETS, buckets.length);
        for (int i = 0; i < buckets.length; i++)
        {
            assertEquals(i == bucket - 1 ? 5 : 0, buckets[i], "bucket " + (i + 1));
        }
        assertEquals("{\"" + label + "\": 5}", CountersLookup.bucketsJson(buckets, false));
    }

    @Test
    void bucketLabelsOutOfRange()
    {
        assertThrows(IllegalArgumentException.class, () -> QueueCounter.bufferBucketLabel(0));
        assertThrows(IllegalArgumentException.class, () -> QueueCounter.bufferBucketLabel(66));
    }

    @Test
    void bucketsJsonWithZeros()
    {
        final long[] buckets = new long[QueueCounter.BUFFER_BUCKETS];
        buckets[0] = 7;
        buckets[64] = 2;
        final String json = CountersLookup.bucketsJson(buckets, true);
        assertTrue(json.startsWith("{\"1\": 7, \"2\": 0, \"3\": 0, "), json);
        assertTrue(json.endsWith("\"64\": 0, \"65+\": 2}"), json);
        assertEquals("{\"1\": 7, \"65+\": 2}", CountersLookup.bucketsJson(buckets, false));
        assertEquals("{}", CountersLookup.bucketsJson(new long[QueueCounter.BUFFER_BUCKETS], false));
    }

    @Test
    void stableIdsAreUniqueAndInTheirRanges()
    {
        final Set<Integer> ids = new HashSet<>();
        for (final SystemCounter counter : SystemCounter.values())
        {
            assertTrue(counter.id() >= 1 && counter.id() < 100, counter.toString());
            assertTrue(ids.add(counter.id()), counter.toString());
            assertSame(counter, SystemCounter.get(counter.id()));
            assertNull(QueueCounter.get(counter.id()));
        }
        for (final QueueCounter counter : QueueCounter.values())
        {
            assertTrue(counter.id() >= 100, counter.toString());
            assertTrue(ids.add(counter.id()), counter.toString());
            assertSame(counter, QueueCounter.get(counter.id()));
            assertNull(SystemCounter.get(counter.id()));
        }
        assertNull(QueueCounter.get(0));
    }

    /** Room for one queue pair's counters, not for two. */
    private static final int SMALL = QueueCounters.COUNTERS_PER_QUEUE_PAIR * 3 / 2;

    @Test
    void aFullManagerAllocatesNothing()
    {
        final CountersManager small = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(SMALL * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(SMALL * CountersReader.COUNTER_LENGTH)));
        new QueueCounters(small, 0);
        final int available = small.available();
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> new QueueCounters(small, 1));
        assertTrue(ex.getMessage().contains("queue pair 1 needs " + QueueCounters.COUNTERS_PER_QUEUE_PAIR), ex.getMessage());
        assertEquals(available, small.available());
    }

    @Test
    void closeFreesEveryCounter()
    {
        final QueueCounters q0 = new QueueCounters(manager, 0);
        final QueueCounters q1 = new QueueCounters(manager, 1);
        q0.close();
        q0.close();
        assertEquals(CountersReader.NULL_COUNTER_ID, CountersLookup.findCounterId(manager, QueueCounter.RX_PACKETS, 0));
        assertEquals(q1.rxPackets().id(), CountersLookup.findCounterId(manager, QueueCounter.RX_PACKETS, 1));
        assertArrayEquals(new int[] { 1 }, CountersLookup.queues(manager));
    }

    @Test
    void systemCountersAndTheirLookup()
    {
        final SystemCounters system = new SystemCounters(manager);
        final Map<Integer, Allocated> allocated = allocated();
        assertEquals(SystemCounter.values().length, allocated.size());
        for (final SystemCounter counter : SystemCounter.values())
        {
            final AtomicCounter atomicCounter = system.get(counter);
            assertEquals(new Allocated(counter.id(), CounterKey.NO_QUEUE, 0, counter.label()),
                allocated.get(atomicCounter.id()));
            atomicCounter.getAndAddRelease(counter.id() * 11L);
        }
        for (final SystemCounter counter : SystemCounter.values())
        {
            assertEquals(counter.id() * 11L, CountersLookup.value(manager, counter), counter.toString());
        }
        assertSame(system.get(SystemCounter.DUTY_CYCLES), system.dutyCycles());
        assertSame(system.get(SystemCounter.BUSY_CYCLES), system.busyCycles());
        assertSame(system.get(SystemCounter.IDLE_CYCLES), system.idleCycles());
        assertSame(system.get(SystemCounter.COMMANDS_APPLIED), system.commandsApplied());
        assertSame(system.get(SystemCounter.EVENTS_DROPPED), system.eventsDropped());
        assertArrayEquals(new int[0], CountersLookup.queues(manager), "system counters belong to no queue");
    }

    @Test
    void dutyCycleStallTrackerKeepsTheMaxAndCountsStalls()
    {
        final SystemCounters system = new SystemCounters(manager);
        final DutyCycleStallTracker tracker = system.dutyCycleStallTracker(1_000_000);
        tracker.update(10_000_000);
        tracker.measureAndUpdate(10_500_000);
        assertEquals(500_000, system.maxCycleTimeNs().get());
        assertEquals(0, system.cycleTimeThresholdExceeded().get());

        tracker.measureAndUpdate(12_600_000);
        assertEquals(2_100_000, system.maxCycleTimeNs().get());
        assertEquals(1, system.cycleTimeThresholdExceeded().get());

        tracker.measureAndUpdate(12_700_000);
        tracker.measureAndUpdate(13_700_000);
        assertEquals(2_100_000, system.maxCycleTimeNs().get(), "a shorter cycle keeps the max");
        assertEquals(1, system.cycleTimeThresholdExceeded().get(), "exactly the threshold is not a stall");
        assertThrows(IllegalArgumentException.class, () -> system.dutyCycleStallTracker(0));
    }
}
