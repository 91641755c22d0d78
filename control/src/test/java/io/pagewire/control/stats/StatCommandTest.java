package io.pagewire.control.stats;

import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.ForwarderProcess;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import io.pagewire.dataplane.stats.SystemCounters;
import io.pagewire.dataplane.virtio.QueueError;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link StatCommand} on real counters files under a temporary runtime base: this process's own (in-process, as if
 * this test were the forwarder), a stand-in forwarder in another JVM, none, stale and broken ones, and bad arguments.
 */
class StatCommandTest
{
    private static final long OWN_PID = ProcessHandle.current().pid();

    @TempDir
    Path base;

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private CountersFile owned;

    @AfterEach
    void closeOwned()
    {
        if (null != owned)
        {
            owned.close();
        }
    }

    private int stat(final String... args)
    {
        return StatCommand.run(args, new PrintStream(outBytes, true, StandardCharsets.UTF_8),
            new PrintStream(errBytes, true, StandardCharsets.UTF_8));
    }

    private String out()
    {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err()
    {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    /** Makes this test process look like a running forwarder with queue pair 0 under {@link #base}. */
    private QueueCounters ownForwarder()
    {
        final RuntimeDirectory directory = RuntimeDirectory.create(base);
        owned = CountersFile.create(directory.countersFile(), SystemCounters.COUNT + 2 * QueueCounters.COUNTERS_PER_QUEUE_PAIR);
        final SystemCounters system = new SystemCounters(owned.manager());
        final QueueCounters queue = new QueueCounters(owned.manager(), 0);
        system.dutyCycles().getAndAddRelease(99);
        system.busyCycles().getAndAddRelease(60);
        queue.rxPackets().getAndAddRelease(1234);
        queue.rxBytes().getAndAddRelease(1_851_000);
        queue.rxBuffersPerPacket(3).getAndAddRelease(1200);
        queue.rxBuffersPerPacket(300).getAndAddRelease(34);
        queue.rxRingOccupancy().setRelease(17);
        queue.queueErrors(QueueError.CHAIN_TOO_LONG).getAndAddRelease(1);
        return queue;
    }

    private static void assertLine(final String output, final String label, final long value)
    {
        final Pattern line = Pattern.compile("(?m)^  " + Pattern.quote(label + ":") + " +" + value + "$");
        assertTrue(line.matcher(output).find(), "no line '" + label + ": " + value + "' in:\n" + output);
    }

    private static void assertNoLine(final String output, final String label)
    {
        assertFalse(output.contains("  " + label + ":"), "'" + label + "' shown in:\n" + output);
    }

    private void assertOneLineError(final String expected)
    {
        final String err = err();
        assertTrue(err.startsWith(StatCommand.ERROR_PREFIX), err);
        assertTrue(err.contains(expected), err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), "no stack trace: " + err);
    }

    @Test
    void printsTheCountersOfARunningForwarder()
    {
        ownForwarder();
        assertEquals(0, stat("--dir", base.toString(), "--count", "1"));
        final String out = out();
        assertEquals("", err());

        assertTrue(Pattern.compile("(?m)^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d - pagewire pid " + OWN_PID +
            ", up \\d\\d:\\d\\d:\\d\\d, " + Pattern.quote(base.resolve(OWN_PID + "/counters.dat").toString()) + "$")
            .matcher(out).find(), out);
        assertLine(out, "duty cycles", 99);
        assertLine(out, "busy cycles", 60);
        assertLine(out, "events dropped", 0);
        assertLine(out, "q0 rx packets", 1234);
        assertLine(out, "q0 rx bytes", 1_851_000);
        assertLine(out, "q0 rx ring occupancy", 17);
        assertLine(out, "q0 rx buffers per packet 3", 1200);
        assertLine(out, "q0 rx buffers per packet 65+", 34);
        assertLine(out, "q0 queue error chain_too_long", 1);
        assertLine(out, "q0 queue error avail_index_jump", 0);
        assertLine(out, "q0 tx packets", 0);
        assertNoLine(out, "q0 rx buffers per packet 1");
        assertNoLine(out, "q0 rx buffers per packet 64");
        assertEquals(1, out.lines().filter((l) -> l.contains(" - pagewire pid ")).count(), "one block: " + out);
    }

    @Test
    void repeatsEveryIntervalUntilCount()
    {
        final QueueCounters queue = ownForwarder();
        queue.txPackets().setRelease(5);
        assertEquals(0, stat("--dir=" + base, "--interval=10ms", "--count=3"));
        assertEquals(3, out().lines().filter((l) -> l.contains(" - pagewire pid " + OWN_PID)).count(), out());
        assertEquals(3, out().lines().filter((l) -> l.matches("  q0 tx packets: +5")).count(), out());
    }

    @Test
    void onlyTheNamedForwarder()
    {
        ownForwarder();
        assertEquals(0, stat("--dir", base.toString(), "--pid", Long.toString(OWN_PID), "--count", "1"));
        assertLine(out(), "q0 rx packets", 1234);
    }

    @Test
    void noForwarderRunning()
    {
        assertEquals(1, stat("--dir", base.toString(), "--count", "1"));
        assertOneLineError("no running forwarder in " + base);
        assertEquals("", out());
    }

    @Test
    void noRuntimeBaseAtAll()
    {
        assertEquals(1, stat("--dir", base.resolve("missing").toString()));
        assertOneLineError("no running forwarder in " + base.resolve("missing"));
    }

    @Test
    void onlyAStaleDirectory() throws IOException
    {
        final long deadPid = deadPid();
        Files.createDirectories(base.resolve(Long.toString(deadPid)));
        assertEquals(1, stat("--dir", base.toString()));
        assertOneLineError("no running forwarder in " + base + " (stale directories of stopped forwarders: pid " +
            deadPid + ")");
    }

    @Test
    void theNamedForwarderIsNotThere() throws IOException
    {
        ownForwarder();
        final long deadPid = deadPid();
        assertEquals(1, stat("--dir", base.toString(), "--pid", Long.toString(deadPid)));
        assertOneLineError("no forwarder with pid " + deadPid + " in " + base);

        errBytes.reset();
        Files.createDirectories(base.resolve(Long.toString(deadPid)));
        assertEquals(1, stat("--dir", base.toString(), "--pid", Long.toString(deadPid)));
        assertOneLineError("forwarder pid " + deadPid + " is not running (stale directory");
        assertEquals("", out());
    }

    @Test
    void aForwarderWhoseCountersCannotBeRead() throws IOException
    {
        final RuntimeDirectory directory = RuntimeDirectory.create(base);
        assertEquals(1, stat("--dir", base.toString(), "--count", "1"));
        assertTrue(out().contains("counters not readable: counters file " + directory.countersFile() +
            ": does not exist"), out());
        assertOneLineError("no forwarder's counters could be read");

        outBytes.reset();
        errBytes.reset();
        Files.write(directory.countersFile(), "not a counters file at all, but long enough to have a header..."
            .repeat(4).getBytes(StandardCharsets.US_ASCII));
        assertEquals(1, stat("--dir", base.toString(), "--count", "1"));
        assertTrue(out().contains("not a pagewire counters file"), out());
    }

    @Test
    void anotherProcessIsTheForwarder()
    {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
        {
            try (ForwarderProcess child = ForwarderProcess.start(base))
            {
                assertEquals(0, stat("--dir", base.toString(), "--count", "1"));
                final String out = out();
                assertTrue(out.contains(" - pagewire pid " + child.pid() + ", up "), out);
                assertLine(out, "q0 rx packets", ForwarderProcess.EXPECTED_RX_PACKETS);
                assertLine(out, "q0 rx bytes", ForwarderProcess.EXPECTED_RX_BYTES);
                assertLine(out, "q0 rx buffers per packet 3", ForwarderProcess.EXPECTED_BUCKET_3);
                assertLine(out, "q0 rx buffers per packet 65+", ForwarderProcess.EXPECTED_BUCKET_65_PLUS);
                assertLine(out, "duty cycles", ForwarderProcess.EXPECTED_DUTY_CYCLES);
                assertEquals(0, child.stop());
            }
            outBytes.reset();
            assertEquals(1, stat("--dir", base.toString(), "--count", "1"));
            assertOneLineError("no running forwarder in " + base);
        });
    }

    @Test
    void help()
    {
        assertEquals(0, stat("--help"));
        assertEquals(StatCommand.USAGE, out());
        assertEquals("", err());
    }

    @ParameterizedTest
    @ValueSource(strings = { "--bogus", "extra", "--count 0", "--count x", "--count", "--count 1 --count 2",
        "--interval 0", "--interval 0ms", "--interval 5h", "--interval -1s", "--pid -3", "--pid 0", "--pid abc",
        "--dir=", "-count 1" })
    void badArguments(final String args)
    {
        assertEquals(2, stat(args.split(" ")));
        assertOneLineError("");
        assertTrue(err().contains("see pagewire stat --help"), err());
        assertEquals("", out());
    }

    @Test
    void lineAndUptimeFormats()
    {
        assertEquals("  q0 rx packets:" + " ".repeat(40 - 14) + " " + " ".repeat(16) + "1234",
            StatCommand.line("q0 rx packets", 1234));
        assertEquals("00:00:00", StatCommand.uptime(999));
        assertEquals("01:02:03", StatCommand.uptime(3_723_000));
        assertEquals("2d 00:00:01", StatCommand.uptime(2 * 86_400_000L + 1000));
    }

    private static long deadPid()
    {
        for (long pid = 4_194_303; pid > 1; pid--)
        {
            if (ProcessHandle.of(pid).isEmpty())
            {
                return pid;
            }
        }
        throw new IllegalStateException("every pid is in use");
    }
}
