package io.pagewire.perf.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchOptionsTest
{
    @Test
    void defaultsAreTheIssuesMatrix()
    {
        final BenchOptions options = BenchOptions.parse(new String[0]);
        assertEquals(List.of(64, 512, 1500), options.sizes());
        assertEquals(List.of(true, false), options.mrg());
        assertEquals(List.of(256, 1024), options.qsizes());
        assertEquals(List.of("pagewire", "dpdk"), options.forwarders());
        assertEquals(3, options.reps());
    }

    @Test
    void flagsPickASubset()
    {
        final BenchOptions options = BenchOptions.parse(new String[]{
            "--sizes", "64,1500", "--mrg", "off", "--qsizes", "1024", "--reps", "5", "--json", "out.json",
            "--forwarders", "dpdk", "--set", "dataplane.burst=64", "--seconds", "9", "--warmup", "0"});
        assertEquals(List.of(64, 1500), options.sizes());
        assertEquals(List.of(false), options.mrg());
        assertEquals(List.of(1024), options.qsizes());
        assertEquals(5, options.reps());
        assertEquals(9, options.seconds());
        assertEquals(0, options.warmupSeconds());
        assertEquals(Path.of("out.json"), options.json());
        assertEquals(List.of("dpdk"), options.forwarders());
        assertEquals(List.of("dataplane.burst=64"), options.pagewireSets());
    }

    @Test
    void badArgumentsSayWhich()
    {
        assertEquals("--mrg maybe: must be on, off or both",
            assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--mrg", "maybe"}))
                .getMessage());
        assertEquals("--sizes 64,x: must be numbers in 60..9000",
            assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--sizes", "64,x"}))
                .getMessage());
        assertEquals("--reps: missing value",
            assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--reps"}))
                .getMessage());
        assertEquals("--forwarders ovs: each must be pagewire or dpdk",
            assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--forwarders", "ovs"}))
                .getMessage());
        assertEquals("unknown option --fast",
            assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--fast", "1"}))
                .getMessage());
    }

    @Test
    void medianOfOddAndEvenCounts()
    {
        assertEquals(2.0, PvpBench.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, PvpBench.median(List.of(4.0, 1.0, 2.0, 3.0)));
    }

    @Test
    void regimeFollowsTheRoundTrip()
    {
        assertEquals("near", RegimeProbe.regimeOf(120));
        assertEquals("far", RegimeProbe.regimeOf(520));
        assertEquals("unknown", RegimeProbe.regimeOf(Double.NaN));
    }

    @Test
    void generatorSegmentsFramesIntoDefaultMbufs()
    {
        assertEquals("64", PvpBench.txSegments(64));
        assertEquals("2048", PvpBench.txSegments(2048));
        assertEquals("2048,1", PvpBench.txSegments(2049));
        assertEquals("2048,2048,2048,2048,808", PvpBench.txSegments(9000));
    }

    @Test
    void helpStandsAnywhereOnTheLineOfEveryBenchSubcommand()
    {
        for (final String[] line : new String[][] {{"pvp", "--reps", "3", "--help"}, {"pvp", "-h"},
            {"guest", "--mrg", "on", "-h"}, {"guest", "--help"}})
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertEquals(0, BenchCommand.run(line, new PrintStream(out, true), new PrintStream(err,
                true)), String.join(" ", line) + ": " + err);
            assertTrue(out.toString().startsWith("usage: pagewire bench " + line[0]), out.toString());
        }
        assertFalse(BenchCommand.wantsHelp(new String[] {"pvp", "--reps", "3"}, 1));
    }
}
