package io.pagewire.control.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pagewire.dataplane.stats.QueueCounters;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.function.IntUnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The status line's numbers from counters alone, with several queue pairs of different ring sizes. */
class StatusLineTest
{
    private static final Pattern RING = Pattern.compile("\\| ring (\\S+) \\|");

    private CountersManager counters;
    private QueueCounters q0;
    private QueueCounters q1;

    @BeforeEach
    void twoQueuePairs()
    {
        // Metadata, then values: room for two pairs' counters.
        counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 17)), new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 15)));
        q0 = new QueueCounters(counters, 0);
        q1 = new QueueCounters(counters, 1);
    }

    private String ring(final IntUnaryOperator rxRingSize)
    {
        final String line = new StatusLine(counters, rxRingSize, 0).next(TimeUnit.SECONDS.toNanos(1), 1.0, 0);
        final Matcher ring = RING.matcher(line);
        assertTrue(ring.find(), line);
        return ring.group(1);
    }

    @Test
    void ringOccupancyIsSummedOverThePairsAgainstTheirSummedSizes()
    {
        q0.rxRingOccupancy().set(200);
        q1.rxRingOccupancy().set(1000);
        assertEquals("1200/1280", ring(queue -> queue == 0 ? 256 : 1024));
        // Never more posted than the rings hold: a full pair and an empty one read as half of both.
        q0.rxRingOccupancy().set(256);
        q1.rxRingOccupancy().set(0);
        assertEquals("256/512", ring(queue -> 256));
    }

    @Test
    void aPairThatIsNotAttachedCountsNeitherItsStaleOccupancyNorItsSize()
    {
        q0.rxRingOccupancy().set(100);
        q1.rxRingOccupancy().set(256); // the last value before its frontend went
        assertEquals("100/256", ring(queue -> queue == 0 ? 256 : 0));
        assertEquals("none", ring(queue -> 0));
    }

    @Test
    void ratesAndBuffersPerPacketAreSummedOverThePairs()
    {
        q0.rxPackets().set(1_000_000);
        q0.rxBytes().set(125_000_000);
        q0.rxBuffersPerPacket(1).set(1_000_000);
        q1.rxPackets().set(1_000_000);
        q1.rxBuffersPerPacket(3).set(1_000_000);
        q1.txPackets().set(500_000);
        final String line = new StatusLine(counters, queue -> 256, 0).next(TimeUnit.SECONDS.toNanos(1), 1.0, 7);
        assertTrue(line.startsWith("[  1.0s] rx   2.000 Mpps   1.00 Gb/s | tx   0.500 Mpps   0.00 Gb/s | " +
            "drops nic_ring_full=7 | buf/pkt 2.00 | ring 0/512 | idle "), line);
    }
}
