package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.stats.StatCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code pagewire stat} attached to a running forwarder reads the same numbers the end-of-run summary reports: the
 * traffic is stopped and drained first, so the counters are final while the forwarder still runs.
 */
class StatAgainstRunningForwarderTest
{
    @TempDir
    Path temp;

    private static long counter(final String output, final String label)
    {
        final Matcher matcher = Pattern.compile("^\\s*" + Pattern.quote(label) + ":\\s+(\\d+)\\s*$", Pattern.MULTILINE)
            .matcher(output);
        assertTrue(matcher.find(), "stat shows '" + label + "' in:\n" + output);
        return Long.parseLong(matcher.group(1));
    }

    @Test
    void statReadsCountersThatMatchTheSummary() throws Exception
    {
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(PagewireConfig.defaults(), temp))
        {
            forwarder.start();
            final long end = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() - end < 0)
            {
                forwarder.poll();
                Thread.sleep(5);
            }
            forwarder.peer().stop();
            final long deadline = System.nanoTime() + 10_000_000_000L;
            while (!forwarder.peer().isDrained() && System.nanoTime() - deadline < 0)
            {
                forwarder.poll();
                Thread.sleep(5);
            }
            assertTrue(forwarder.peer().isDrained());
            Thread.sleep(50); // a few more duty cycles publish the last counter values

            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final int exit = StatCommand.run(new String[] {"--dir", temp.toString(), "--count", "1"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
            final String shown = out.toString(StandardCharsets.UTF_8);
            assertEquals(0, exit, err.toString(StandardCharsets.UTF_8));
            assertTrue(shown.contains("pagewire pid " + ProcessHandle.current().pid()), shown);

            final long rxPackets = counter(shown, "q0 rx packets");
            final long rxBytes = counter(shown, "q0 rx bytes");
            final long txPackets = counter(shown, "q0 tx packets");
            forwarder.stop();

            final RunSummary summary = new RunSummary(forwarder.result());
            @SuppressWarnings("unchecked")
            final java.util.Map<String, Object> rx = (java.util.Map<String, Object>)summary.json().get("rx");
            @SuppressWarnings("unchecked")
            final java.util.Map<String, Object> tx = (java.util.Map<String, Object>)summary.json().get("tx");
            assertTrue(rxPackets > 1000, "traffic flowed: " + rxPackets);
            assertEquals(rx.get("packets"), rxPackets, "stat rx packets = summary rx.packets");
            assertEquals(rx.get("bytes"), rxBytes);
            assertEquals(tx.get("packets"), txPackets);
        }
    }
}
