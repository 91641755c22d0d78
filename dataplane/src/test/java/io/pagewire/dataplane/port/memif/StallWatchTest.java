package io.pagewire.dataplane.port.memif;

import org.junit.jupiter.api.Test;

import static io.pagewire.dataplane.port.memif.StallWatch.DEADLINE_NS;
import static io.pagewire.dataplane.port.memif.StallWatch.SAMPLE_POLLS;
import static org.junit.jupiter.api.Assertions.*;

/** The stall deadline: counted in polls, the clock read every {@link StallWatch#SAMPLE_POLLS}-th of them only. */
class StallWatchTest
{
    private final StepClock clock = new StepClock();
    private final StallWatch watch = new StallWatch();

    StallWatchTest()
    {
        watch.clock(clock);
    }

    /** Polls {@code polls} times finding {@code what} stalled; returns whether the last poll found it expired. */
    private boolean poll(final long what, final int polls)
    {
        boolean expired = false;
        for (int i = 0; i < polls; i++)
        {
            watch.stalled(what);
            expired = watch.expired();
            assertFalse(expired && i < polls - 1, "expired before the last poll");
        }
        return expired;
    }

    @Test
    void expiresOnTheFirstSampleADeadlineAfterTheFirstAndReadsTheClockOncePerSamplePolls()
    {
        assertTrue(watch.stalled(7), "a new stall");
        assertFalse(watch.stalled(7), "the same one");
        assertFalse(poll(7, SAMPLE_POLLS - 1));
        assertEquals(0, clock.reads, "a stall shorter than the sample reads no clock");
        assertFalse(poll(7, 1));
        assertEquals(1, clock.reads, "the first sample starts the deadline");
        clock.advance(DEADLINE_NS - 1);
        assertFalse(poll(7, SAMPLE_POLLS));
        assertEquals(2, clock.reads);
        clock.advance(1);
        assertFalse(poll(7, SAMPLE_POLLS - 1), "between samples the clock is not read");
        assertEquals(2, clock.reads);
        assertTrue(poll(7, 1));
        assertEquals(3, clock.reads);
        assertEquals(DEADLINE_NS / 1_000_000, watch.stalledMs());
    }

    @Test
    void anotherStallOrAClearStartsAFreshDeadline()
    {
        assertFalse(poll(7, SAMPLE_POLLS));
        clock.advance(2 * DEADLINE_NS);
        assertTrue(watch.stalled(8), "another thing stalled: a new stall");
        assertFalse(poll(8, SAMPLE_POLLS), "its first sample starts its own deadline");
        clock.advance(DEADLINE_NS / 2);
        assertFalse(poll(8, SAMPLE_POLLS));
        watch.clear();
        assertTrue(watch.stalled(8), "after a clear the same thing stalls anew");
        assertFalse(poll(8, SAMPLE_POLLS));
        clock.advance(DEADLINE_NS);
        assertTrue(poll(8, SAMPLE_POLLS));
    }
}
