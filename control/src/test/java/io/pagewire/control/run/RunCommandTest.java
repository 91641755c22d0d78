package io.pagewire.control.run;

import io.pagewire.control.cli.MiniJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@code pagewire run} end to end, in process: the summary contract, verification, exit codes. */
class RunCommandTest
{
    @TempDir
    Path temp;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(final String... args)
    {
        return RunCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String err()
    {
        return err.toString(StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(final Map<String, Object> parent, final String key)
    {
        final Object value = parent.get(key);
        assertInstanceOf(Map.class, value, key);
        return (Map<String, Object>)value;
    }

    private static long number(final Map<String, Object> parent, final String key)
    {
        final Object value = parent.get(key);
        assertInstanceOf(Long.class, value, key);
        return (Long)value;
    }

    @ParameterizedTest(name = "rx.mode={0}")
    @ValueSource(strings = {"mergeable", "big", "small"})
    @SuppressWarnings("unchecked")
    void runsEveryModeAndVerifiesEveryFrame(final String mode) throws Exception
    {
        final Path summary = temp.resolve("summary.json");
        final List<String> args = new ArrayList<>(List.of("--duration", "2s", "--summary", summary.toString(),
            "--dir", temp.resolve("run").toString(), "--quiet", "--set", "rx.mode=" + mode));
        if (!mode.equals("mergeable"))
        {
            // Small buffers must hold the 12-byte header + a 1514-byte frame; the device drops longer ones.
            args.addAll(List.of("--set", "rx.buffer_size=" + (mode.equals("small") ? 1536 : 4096)));
        }
        assertEquals(0, run(args.toArray(String[]::new)), err());

        final Map<String, Object> json = (Map<String, Object>)MiniJson.parse(Files.readString(summary));
        for (final String key : List.of("features", "config", "duration_s", "rx", "tx", "verify", "verify_tx", "nic",
            "alloc_bytes_per_packet", "drained"))
        {
            assertTrue(json.containsKey(key), "summary has " + key);
        }
        final List<Object> negotiated = (List<Object>)map(json, "features").get("negotiated");
        assertEquals(mode.equals("mergeable"), negotiated.contains("MRG_RXBUF"), "negotiated " + negotiated);
        assertTrue(negotiated.contains("VERSION_1"));
        assertEquals(mode, map(json, "config").get("rx.mode"));

        final Map<String, Object> rx = map(json, "rx");
        final Map<String, Object> tx = map(json, "tx");
        final Map<String, Object> verify = map(json, "verify");
        final long packets = number(rx, "packets");
        assertTrue(packets > 1000, "frames flowed: " + packets);
        assertEquals(packets, number(verify, "checked"), "rx.packets = verify.checked");
        assertEquals(packets * 1514, number(rx, "bytes"));
        for (final String key : List.of("corrupt", "lost", "duplicated", "reordered"))
        {
            assertEquals(0, number(verify, key), "verify." + key);
        }
        assertEquals(0, number(verify, "unverifiable"), "only pagewire frames come from the shm NIC");
        assertEquals("shm", map(json, "nic").get("type"));
        assertEquals(Map.of(), map(json, "nic").get("counters"), "the shm ring has no counters of its own");
        assertEquals(0, number(map(json, "verify_tx"), "corrupt"));
        assertEquals(0, number(map(json, "verify_tx"), "lost"));
        assertTrue(number(tx, "packets") > 0, "frames flowed back from the guest");

        long histogramTotal = 0;
        for (final Object n : map(rx, "buffers_per_packet").values())
        {
            histogramTotal += (Long)n;
        }
        assertEquals(packets, histogramTotal, "every delivered packet is in the buffers histogram");
        assertEquals(256, number(rx, "ring_size"));
        assertEquals(mode.equals("big") ? 12 : 256, number(rx, "in_flight_capacity_packets"));
        assertEquals(true, json.get("drained"));
        final Map<String, Object> accounting = map(json, "accounting");
        assertEquals(true, accounting.get("balanced"), "every frame sent, delivered or dropped: " + accounting);
        assertEquals(packets, number(map(accounting, "rx"), "delivered"));
        assertEquals(number(tx, "packets"), number(map(accounting, "tx"), "to_nic"));
        assertFalse(Files.exists(temp.resolve("run").resolve(Long.toString(ProcessHandle.current().pid()))),
            "runtime directory removed");
    }

    @Test
    void badArgumentsExitWithTwoAndNoStackTrace()
    {
        assertEquals(2, run("--frobnicate"));
        assertTrue(err().contains("unknown option '--frobnicate'"), err());
        err.reset();
        assertEquals(2, run("--duration", "soon"));
        assertTrue(err().contains("--duration soon: must be a positive duration"), err());
        err.reset();
        assertEquals(2, run("--set", "virtqueue.rx.size=300"));
        assertTrue(err().contains("virtqueue.rx.size=300: must be a power of two in 2..32768"), err());
        err.reset();
        assertEquals(2, run("--config", temp.resolve("missing.toml").toString()));
        assertTrue(err().contains("missing.toml"), err());
        assertFalse(err().contains("Exception"), err());
    }

    @Test
    void portTablesAreRefusedNamingTheMissingStepBeforeAnythingStarts()
    {
        assertEquals(2, run("--set", "port.a.type=shm", "--set", "port.b.type=embedded",
            "--dir", temp.resolve("run").toString(), "--duration", "1s"));
        assertEquals("pagewire: config error: [port.NAME] tables (a, b) are checked by `pagewire config --check` " +
            "but `pagewire run` does not run a multi-port bridge yet (wiring ports into the dataplane is the next " +
            "step of issue 13); run one guest with the guest.* and nic.* keys instead" + System.lineSeparator(),
            err());
        assertFalse(Files.exists(temp.resolve("run")), "nothing started");
        err.reset();
        assertEquals(2, run("--set", "port.a.type=shm", "--set", "port.a.vlan=5000"));
        assertTrue(err().contains("pagewire: config error: port.a.vlan=5000: must be in 1..4094"), err());
    }

    @Test
    void durationsParse()
    {
        assertEquals(10_000_000_000L, RunCommand.parseDuration("10s"));
        assertEquals(500_000_000L, RunCommand.parseDuration("500ms"));
        assertEquals(120_000_000_000L, RunCommand.parseDuration("2m"));
        assertEquals(1_500_000_000L, RunCommand.parseDuration("1.5"));
        assertThrows(IllegalArgumentException.class, () -> RunCommand.parseDuration("0s"));
        assertThrows(IllegalArgumentException.class, () -> RunCommand.parseDuration("5h"));
    }

    @Test
    void theControlThreadWaitsUntilTheNextTickTheEndOrAtMostATenthOfASecond()
    {
        final long now = 5_000_000_000L;
        assertEquals(100, RunCommand.pollWaitMs(now, now + 900_000_000L, now + 60_000_000_000L), "housekeeping cap");
        assertEquals(30, RunCommand.pollWaitMs(now, now + 30_000_000L, now + 60_000_000_000L), "the next status line");
        assertEquals(7, RunCommand.pollWaitMs(now, now + 900_000_000L, now + 7_000_000L), "the end of the run");
        assertEquals(1, RunCommand.pollWaitMs(now, now - 5, now + 7_000_000L), "overdue: at least 1 ms");
    }
}
