package io.pagewire.dataplane.stats;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@link LogLimiter}: a flood of lines becomes a few lines per interval and one line saying how many were not. */
class LogLimiterTest
{
    private final List<String> lines = new ArrayList<>();
    private long nowNs = 1_000;

    @Test
    void passesTheFirstLinesOfAnIntervalCountsTheRestAndSaysSoOnceWhenItEnds()
    {
        final CountersManager manager = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(4 * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(4 * CountersReader.COUNTER_LENGTH)));
        final AtomicCounter counter = SystemCounter.CONTROL_LOG_LINES_SUPPRESSED.allocate(manager, CounterKey.NO_QUEUE);
        final LogLimiter limiter = new LogLimiter(lines::add, "test", 3, 1_000_000_000L, () -> nowNs)
            .countInto(counter);
        for (int i = 0; i < 10_000; i++)
        {
            assertEquals(i < 3, limiter.log("line " + i));
            nowNs += 10_000; // 10,000 lines in 0.1 s
        }
        assertEquals(List.of("line 0", "line 1", "line 2"), lines);
        limiter.poll();
        assertEquals(3, lines.size(), "nothing said before the interval is over");

        nowNs = 1_000 + 1_000_000_000L;
        limiter.poll();
        assertEquals("test: 9997 log lines suppressed in the last 1.0 s (at most 3 per 1.0 s)", lines.get(3));
        limiter.poll();
        assertEquals(4, lines.size(), "said once");
        assertEquals(9997, limiter.suppressed());
        assertEquals(9997, counter.get());

        assertTrue(limiter.log("next interval"));
        for (int i = 0; i < 5; i++)
        {
            limiter.log("more");
        }
        assertEquals(7, lines.size());
        limiter.flush();
        assertEquals("test: 3 log lines suppressed in the last 0.0 s (at most 3 per 1.0 s)", lines.get(7));
        assertTrue(limiter.log("after a flush the budget is new"));
        assertEquals(10_000, counter.get());
    }

    @Test
    void aQuietLimiterSaysNothing()
    {
        final LogLimiter limiter = new LogLimiter(lines::add, "test", 2, 1_000, () -> nowNs);
        limiter.log("a");
        nowNs += 5_000;
        limiter.poll();
        limiter.flush();
        assertEquals(List.of("a"), lines);
        assertThrows(IllegalArgumentException.class, () -> new LogLimiter(lines::add, "x", 0, 1, () -> 0));
    }
}
