package io.pagewire.perf.bench;

import io.pagewire.control.cli.MiniJson;
import io.pagewire.interop.TestPmd;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code pagewire bench pvp} end to end with real DPDK processes, shortened to one point and one repetition.
 */
@Tag("interop")
class PvpBenchInteropTest
{
    @TempDir
    Path dir;

    @BeforeAll
    static void needsTestPmd()
    {
        TestPmd.unavailableReason().ifPresent(reason -> System.out.println("skipping PVP bench test: " + reason));
        assumeTrue(TestPmd.unavailableReason().isEmpty());
    }

    /** Both forwarders at one point, one repetition each: every part of the harness runs, rates are positive. */
    @Test
    @SuppressWarnings("unchecked")
    void bothForwardersRunAndTheJsonContractIsWritten() throws Exception
    {
        final Path json = dir.resolve("pvp.json");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = BenchCommand.run(new String[]{"pvp", "--forwarders", "pagewire,dpdk", "--sizes", "64", "--mrg", "on",
                "--qsizes", "256", "--reps", "1", "--seconds", "2", "--warmup", "1", "--json", json.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, out + "\n" + err);
        final Map<String, Object> result = (Map<String, Object>)MiniJson.parse(Files.readString(json));
        final List<Object> runs = (List<Object>)result.get("runs");
        assertEquals(2, runs.size());
        for (int i = 0; i < 2; i++)
        {
            final Map<String, Object> run = (Map<String, Object>)runs.get(i);
            assertEquals(i == 0 ? "pagewire" : "dpdk", run.get("forwarder"), "forwarders alternate in order");
            assertNull(run.get("error"));
            assertTrue(((Number)run.get("mpps")).doubleValue() > 0, "frames went round: " + run);
            assertEquals(2, ((List<Object>)run.get("per_second_mpps")).size());
        }
        final Map<String, Object> summary = (Map<String, Object>)((List<Object>)result.get("summary")).getFirst();
        assertEquals(64L, ((Number)summary.get("size")).longValue());
        assertTrue(summary.containsKey("pagewire_mpps"));
        assertTrue(summary.containsKey("dpdk_mpps"));
        assertTrue(summary.containsKey("ratio"));
        assertTrue(out.toString().contains("ratio pagewire/dpdk"), out.toString());
    }

    /**
     * The jumbo point: 9000-byte frames leave the generator in five mbufs, cross pagewire chained over memif buffers
     * one way and merged over virtio_user's 2 KiB buffers the other; mrg off is skipped with the reason.
     */
    @Test
    @SuppressWarnings("unchecked")
    void jumboFramesGoRoundWithMergeableBuffers() throws Exception
    {
        final Path json = dir.resolve("pvp-jumbo.json");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = BenchCommand.run(new String[]{"pvp", "--forwarders", "pagewire", "--sizes", "9000", "--mrg",
                "both", "--qsizes", "256", "--reps", "1", "--seconds", "2", "--warmup", "1", "--json", json.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, out + "\n" + err);
        assertTrue(out.toString().contains("skipped: 9000-byte frames with mrg off"), out.toString());
        final Map<String, Object> result = (Map<String, Object>)MiniJson.parse(Files.readString(json));
        final List<Object> runs = (List<Object>)result.get("runs");
        assertEquals(1, runs.size(), "only the mergeable point ran");
        final Map<String, Object> run = (Map<String, Object>)runs.getFirst();
        assertNull(run.get("error"), run.toString());
        assertTrue(((Number)run.get("mpps")).doubleValue() > 0, "jumbo frames went round: " + run);
    }
}
