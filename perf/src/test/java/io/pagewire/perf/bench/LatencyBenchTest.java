package io.pagewire.perf.bench;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code pagewire bench latency}, shortened: it writes a log per point, the plot and the table. */
class LatencyBenchTest
{
    @TempDir
    Path temp;

    @Test
    void writesLogsPlotAndTable() throws Exception
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = BenchCommand.run(new String[] {"latency", "--duration", "1500ms", "--warmup", "500ms",
            "--probe", "1s", "--loads", "20,60", "--modes", "mergeable,big", "--out", temp.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));

        for (final String point : new String[] {"mergeable-20pct", "mergeable-60pct", "big-20pct", "big-60pct"})
        {
            long count = 0;
            try (HistogramLogReader reader = new HistogramLogReader(temp.resolve(point + ".hlog").toFile()))
            {
                Histogram interval;
                while ((interval = (Histogram)reader.nextIntervalHistogram()) != null)
                {
                    count += interval.getTotalCount();
                }
            }
            assertTrue(count > 0, point + " has values");
        }
        final String svg = Files.readString(temp.resolve("latency.svg"));
        assertTrue(svg.startsWith("<svg"));
        assertEquals(4, svg.split("<path ").length - 1, "one line per point");
        assertTrue(svg.contains("big 60%"), svg);
        final String table = Files.readString(temp.resolve("latency.md"));
        assertEquals(4, table.lines().filter(line -> line.startsWith("| mergeable ") || line.startsWith("| big "))
            .count(), table);
    }

    @Test
    void badArgumentsExitWithTwo()
    {
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(2, BenchCommand.run(new String[] {"latency", "--loads", "0"}, System.out, errStream));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--loads 0: each load must be a percentage"));
        assertEquals(2, BenchCommand.run(new String[] {"latency", "--modes", "huge"}, System.out, errStream));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("rx.mode"), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, BenchCommand.run(new String[] {"nope"}, System.out, errStream));
        assertEquals(2, BenchCommand.run(new String[] {"latency", "--warmup", "0s"}, System.out, errStream));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--warmup 0s: must be a positive duration"),
            err.toString(StandardCharsets.UTF_8));
        assertEquals(2, BenchCommand.run(new String[] {"latency", "--out"}, System.out, errStream));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--out: missing value"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(LatencyBench.USAGE), "usage after the message");
    }

    @Test
    void helpAnywhereOnTheLinePrintsTheUsage()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, BenchCommand.run(new String[] {"latency", "--loads", "20", "-h"},
            new PrintStream(out, true, StandardCharsets.UTF_8), System.err));
        assertEquals(LatencyBench.USAGE, out.toString(StandardCharsets.UTF_8));
    }
}
