package io.pagewire.perf.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestBenchOptionsTest
{
    @Test
    void defaultsAreTheIssuesMatrix()
    {
        final GuestBenchOptions options = GuestBenchOptions.parse(new String[0]);
        assertEquals(List.of(true, false), options.mrg());
        assertEquals(List.of(true, false), options.tso());
        assertEquals(5, options.reps());
        assertEquals(8, options.seconds());
        assertEquals(List.of("pagewire", "dpdk"), options.backends());
        assertTrue(options.pinGuest(), "QEMU is kept off the backend's busy CPU unless asked");
        assertEquals(false, GuestBenchOptions.parse(new String[]{"--pin-guest", "off"}).pinGuest());
        assertEquals(1, options.boots(), "one boot per backend and cell unless asked");
        assertEquals(3, GuestBenchOptions.parse(new String[]{"--boots", "3"}).boots());
        assertEquals("--boots 0: must be a number in 1..20", assertThrows(IllegalArgumentException.class,
            () -> GuestBenchOptions.parse(new String[]{"--boots", "0"})).getMessage());
    }

    @Test
    void flagsPickASubset()
    {
        final GuestBenchOptions options = GuestBenchOptions.parse(new String[]{"--mrg", "off", "--tso", "on",
            "--reps", "3", "--seconds", "4", "--backends", "dpdk", "--json", "g.json", "--set", "dataplane.burst=64"});
        assertEquals(List.of(false), options.mrg());
        assertEquals(List.of(true), options.tso());
        assertEquals(3, options.reps());
        assertEquals(4, options.seconds());
        assertEquals(List.of("dpdk"), options.backends());
        assertEquals(Path.of("g.json"), options.json());
        assertEquals(List.of("dataplane.burst=64"), options.pagewireSets());
    }

    @Test
    void badArgumentsSayWhich()
    {
        assertEquals("--tso maybe: must be on, off or both", assertThrows(IllegalArgumentException.class,
            () -> GuestBenchOptions.parse(new String[]{"--tso", "maybe"})).getMessage());
        assertEquals("--backends vpp: each must be pagewire or dpdk", assertThrows(IllegalArgumentException.class,
            () -> GuestBenchOptions.parse(new String[]{"--backends", "vpp"})).getMessage());
        assertEquals("--reps 0: must be a number in 1..100", assertThrows(IllegalArgumentException.class,
            () -> GuestBenchOptions.parse(new String[]{"--reps", "0"})).getMessage());
        assertEquals("--seconds: missing value", assertThrows(IllegalArgumentException.class,
            () -> GuestBenchOptions.parse(new String[]{"--seconds"})).getMessage());
    }

    @Test
    void theTableShowsMinMedianMaxPerBackendAndCell()
    {
        final GuestBench.Run a = new GuestBench.Run("pagewire", false, true, 1, 400, 0, "small", 0.1, "near", null);
        final GuestBench.Run b = new GuestBench.Run("pagewire", false, true, 2, 500, 0, "small", 0.3, "near", null);
        final GuestBench.Run c = new GuestBench.Run("pagewire", false, true, 3, 450, 0, "small", 0.2, "far", null);
        final GuestBench.Run failed = new GuestBench.Run("pagewire", false, true, 4, Double.NaN, -1, "small",
            Double.NaN, "far", "iperf3 client: exit 1");
        final List<Map<String, Object>> summary = GuestBench.summarize(List.of(a, b, c, failed), List.of(false),
            List.of(true), List.of("pagewire"));
        @SuppressWarnings("unchecked")
        final Map<String, Object> stats = (Map<String, Object>)summary.getFirst().get("pagewire");
        assertEquals(3, stats.get("n"), "the failed run is left out");
        assertEquals(400.0, stats.get("min"));
        assertEquals(450.0, stats.get("median"));
        assertEquals(500.0, stats.get("max"));
        final String table = GuestBench.table(summary, List.of("pagewire"));
        assertTrue(table.contains("400/450/500 (3)"), table);
        assertTrue(table.contains(" off   on | small"), table);
        assertEquals("near 2, far 2", stats.get("regime"), "how many runs (failed ones too) ran in each regime");
        assertTrue(table.contains("near 2, far 2"), table);
        assertEquals("near", GuestBench.regimes(List.of(a, b)));
        assertEquals("?", GuestBench.regimes(List.of()));
    }

    @Test
    void cpuListsAreReadAsLinuxWritesThem()
    {
        assertEquals("{0, 1}", GuestBench.cpuList("0-1").toString());
        assertEquals("{0, 1, 2, 3, 6, 8, 9}", GuestBench.cpuList("0-3,6,8-9").toString());
        assertEquals("{2}", GuestBench.cpuList("2").toString());
        // The JVM counts the CPUs this process may run on (fewer under a cgroup quota): never more than the list.
        assertTrue(GuestBench.allowedCpus().cardinality() >= Runtime.getRuntime().availableProcessors(),
            GuestBench.allowedCpus() + " against " + Runtime.getRuntime().availableProcessors() + " CPUs");
    }
}
