package io.pagewire.control.vhostuser;

import io.pagewire.control.cli.PagewireCli;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12 point 2 against the real process ({@code pagewire run} in a second JVM, as a user starts it): a frontend
 * makes its call fd blocking and fills it while the embedded traffic source sends frames into its receive queue. The
 * dataplane's notification would sleep in write(2) for good; instead the watchdog's signal interrupts it in that JVM
 * (HotSpot carries on), the frontend is dropped, the next frontend receives frames, and SIGINT still ends the run
 * with exit 0 and a summary.
 */
class VhostUserPeerFdProcessTest
{
    private static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask();

    @TempDir
    Path temp;

    @Test
    void aBlockingFullCallFdDropsThatFrontendAndTheProcessServesTheNext() throws Throwable
    {
        final Path socket = temp.resolve("vhost.sock");
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--dir", temp.resolve("run").toString(), "--duration", "120s",
            "--set", "guest.type=vhost-user", "--set", "guest.socket=" + socket,
            "--set", "dataplane.idle_strategy=backoff", "--set", "dataplane.rx_policy=drop"));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final List<String> output = Collections.synchronizedList(new ArrayList<>());
        final Thread collector = Thread.ofPlatform().name("test-output").start(() ->
        {
            try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    output.add(line);
                }
            }
            catch (final java.io.IOException ignored)
            {
                // the process ended
            }
        });
        try
        {
            final long deadline = System.nanoTime() + 30_000_000_000L;
            while (!Files.exists(socket))
            {
                assertTrue(process.isAlive(), "pagewire exited: " + output);
                assertTrue(System.nanoTime() - deadline < 0, "no vhost-user socket: " + output);
                Thread.sleep(20);
            }

            try (TestFrontend hostile = TestFrontend.connect(socket); EventFd call = EventFd.create())
            {
                hostile.negotiate(FEATURES);
                hostile.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                    new int[] {call.fd()}, 1);
                hostile.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
                final DriverVirtqueue rx = hostile.setupRing(0, 256, false);
                hostile.setupRing(1, 256, false);
                VhostUserPeerFdTest.fill(call.fd());
                VhostUserPeerFdTest.clearNonBlock(call.fd());
                postReceiveBuffers(hostile, rx);
                assertTrue(hostile.closedByPeer(30_000), "the hostile frontend dropped: " + output);
                assertEquals(0xffff_ffff_ffff_fffeL, VhostUserPeerFdTest.readCounter(call.fd()), "nothing written");
            }

            try (TestFrontend next = TestFrontend.connect(socket))
            {
                next.negotiate(FEATURES);
                final DriverVirtqueue rx = next.setupRing(0, 256, false);
                next.setupRing(1, 256, false);
                postReceiveBuffers(next, rx);
                final long until = System.nanoTime() + 30_000_000_000L;
                while (rx.usedAvailable() == 0)
                {
                    assertTrue(System.nanoTime() - until < 0, "the next frontend receives frames: " + output);
                    Thread.sleep(5);
                }
            }

            final Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
            assertEquals(0, kill.waitFor());
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "exits after SIGINT: " + output);
            collector.join();
            final String all = String.join("\n", output);
            assertEquals(0, process.exitValue(), all);
            assertTrue(all.contains("the frontend made its call fd of ring 0 blocking and filled it: disconnecting"),
                all);
            assertTrue(all.contains("pagewire run summary"), all);
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    private static void postReceiveBuffers(final TestFrontend frontend, final DriverVirtqueue rx)
    {
        for (int i = 0; i < 128; i++)
        {
            rx.addBuffer(frontend.allocate(2048, 64), 2048, true);
        }
        rx.publishAvail();
    }

    private static UnsafeBuffer u64(final long value)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        buffer.putLong(0, value);
        return buffer;
    }
}
