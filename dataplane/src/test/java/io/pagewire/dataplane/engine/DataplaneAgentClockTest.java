package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.stats.SystemCounters;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How often the dataplane reads the clock, and what it counts as a stall: a gap longer than the threshold is seen
 * when the window it falls in closes, whatever the window's length.
 */
class DataplaneAgentClockTest
{
    private final CountersManager manager = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
    private final SystemCounters counters = new SystemCounters(manager);

    @Test
    void aWindowOfSixtyFourCyclesSeesTheGapWhenItCloses() throws Exception
    {
        final DataplaneAgent agent = new DataplaneAgent("test", new DataplaneProxy(), counters, -1,
            DataplaneAgent.CLOCK_SAMPLE_CYCLES);
        agent.onStart();
        for (int i = 1; i < DataplaneAgent.CLOCK_SAMPLE_CYCLES; i++)
        {
            agent.doWork();
        }
        Thread.sleep(5);
        assertEquals(0, counters.cycleTimeThresholdExceeded().get(), "no clock read inside the window");
        agent.doWork();
        assertEquals(1, counters.cycleTimeThresholdExceeded().get(), "the 64th cycle closes the window");
        assertTrue(counters.maxCycleTimeNs().get() >= 5_000_000L, "the window holds the 5 ms gap");
    }

    @Test
    void aWindowOfOneCycleMeasuresEveryCycle() throws Exception
    {
        final DataplaneAgent agent = new DataplaneAgent("test", new DataplaneProxy(), counters, -1, 1);
        agent.onStart();
        agent.doWork();
        final long before = counters.cycleTimeThresholdExceeded().get();
        Thread.sleep(5);
        agent.doWork();
        assertEquals(before + 1, counters.cycleTimeThresholdExceeded().get());
    }

    @Test
    void theWindowIsAPowerOfTwo()
    {
        assertThrows(IllegalArgumentException.class,
            () -> new DataplaneAgent("test", new DataplaneProxy(), counters, -1, 48));
    }
}
