package io.pagewire.control.vhostuser;

import io.pagewire.control.cli.PagewireCli;
import io.pagewire.dataplane.os.MemoryFiles;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The process survives a frontend that shrinks its memory (issue 12, point 1): {@code pagewire run} as a vhost-user
 * server in a second JVM, started as the CLI starts it; a frontend in this process shrinks its memfd while frames
 * flow; pagewire disconnects it, keeps running, serves the next frontend (frames reach its guest), and ends cleanly on
 * SIGINT. On today's main the process exits ("dataplane did not release queue pair 0 within 5 s").
 */
class VhostUserMemoryFaultProcessTest
{
    @TempDir
    Path temp;

    @Test
    void processServesTheNextFrontendAfterOneShrankItsMemory() throws Exception
    {
        final Path socket = temp.resolve("vhost.sock");
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--dir", temp.toString(), "--set", "guest.type=vhost-user", "--set", "guest.socket=" + socket,
            "--set", "dataplane.idle_strategy=sleep", "--duration", "60s"));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final ConcurrentLinkedQueue<String> output = new ConcurrentLinkedQueue<>();
        final Thread reader = Thread.ofPlatform().name("child-output").start(() ->
        {
            try (BufferedReader lines = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = lines.readLine()) != null)
                {
                    output.add(line);
                }
            }
            catch (final Exception ignored)
            {
                // the child is gone
            }
        });
        try
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket))
            {
                assertTrue(process.isAlive(), "pagewire exited: " + String.join("\n", output));
                assertTrue(System.nanoTime() - deadline < 0, "no socket: " + String.join("\n", output));
                Thread.sleep(20);
            }
            try (TestFrontend hostile = TestFrontend.connect(socket))
            {
                final DriverVirtqueue rx = runPair(hostile);
                awaitFrames(rx, process, output);
                MemoryFiles.truncate(hostile.memfd, 0);
                assertTrue(hostile.closedOrReset(15_000), "disconnected: " + String.join("\n", output));
            }
            Thread.sleep(200);
            assertTrue(process.isAlive(), "pagewire still runs: " + String.join("\n", output));
            try (TestFrontend next = TestFrontend.connect(socket))
            {
                final DriverVirtqueue rx = runPair(next);
                awaitFrames(rx, process, output);
            }
            assertTrue(process.isAlive(), "pagewire still runs: " + String.join("\n", output));
            final Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
            assertEquals(0, kill.waitFor());
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "exits after SIGINT");
            reader.join(5_000);
            final String all = String.join("\n", output);
            assertTrue(all.contains("the frontend's memory faulted"), all);
            assertFalse(all.contains("did not release queue pair"), all);
            assertTrue(all.contains("pagewire run summary"), all);
            assertEquals(0, process.exitValue(), all);
        }
        finally
        {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static DriverVirtqueue runPair(final TestFrontend frontend)
    {
        frontend.negotiate(VhostUserServerTest.FEATURES);
        final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
        frontend.setupRing(1, 256, true);
        for (int i = 0; i < 64; i++)
        {
            rx.addBuffer(frontend.allocate(4096, 64), 4096, true);
        }
        rx.publishAvail();
        return rx;
    }

    private static void awaitFrames(final DriverVirtqueue rx, final Process process,
        final ConcurrentLinkedQueue<String> output) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (rx.usedAvailable() == 0)
        {
            assertTrue(process.isAlive(), "pagewire exited: " + String.join("\n", output));
            assertTrue(System.nanoTime() - deadline < 0, "no frame reached the guest: " + String.join("\n", output));
            Thread.sleep(5);
        }
    }
}
