package io.pagewire.control.vhostuser;

import io.pagewire.control.cli.PagewireCli;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12, point 4, against the real process: {@code pagewire run} with a vhost-user guest, in a child JVM started
 * through the launcher class as a user would, faces a hostile frontend (one that floods refused requests, stops
 * mid-message, never reads its replies, or, in client mode, never accepts while its listen backlog is full). Each
 * time the status lines keep coming, a valid frontend is served afterwards (a frame from pagewire's NIC reaches its
 * receive ring), and {@code --duration} or SIGTERM ends the run with its summary. No wall-clock bound but generous
 * ones that only catch a run that does not end.
 */
class ControlLoopFairnessProcessTest
{
    private static final long FEATURES = VhostUserServerTest.FEATURES;
    /** Generous: a run that ends on time ends in seconds; one whose control thread is stuck never does. */
    private static final long EXIT_WITHIN_S = 60;

    @TempDir
    Path temp;

    private Process process;
    private final List<String> stdout = Collections.synchronizedList(new ArrayList<>());
    private final List<String> stderr = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void tearDown()
    {
        if (process != null && process.isAlive())
        {
            process.destroyForcibly();
        }
    }

    @Test
    void aFloodOfRefusedRequestsStarvesNothingAndBecomesAFewLogLines() throws Exception
    {
        final Path socket = temp.resolve("vhost.sock");
        start(socket, false, "--duration", "6s");
        final AtomicLong sent = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        try (TestFrontend flooder = TestFrontend.connect(socket))
        {
            // SET_FEATURES with a bit never offered, refused each time (no reply: REPLY_ACK is not negotiated), as
            // fast as the socket takes them, many per send.
            final int perSend = 200;
            final UnsafeBuffer flood = new UnsafeBuffer(BufferUtil.allocateDirectAligned(perSend * 20, 64));
            for (int i = 0; i < perSend; i++)
            {
                flood.putInt(i * 20 + REQUEST_OFFSET, VhostUserRequest.SET_FEATURES.code());
                flood.putInt(i * 20 + FLAGS_OFFSET, VERSION);
                flood.putInt(i * 20 + SIZE_OFFSET, 8);
                flood.putLong(i * 20 + HEADER_LENGTH, 1L << 62);
            }
            final Thread thread = Thread.ofPlatform().name("test-flood").start(() ->
            {
                try
                {
                    while (!stop.get())
                    {
                        flooder.socket.send(flood.addressOffset(), perSend * 20, null, 0);
                        sent.addAndGet(perSend);
                    }
                }
                catch (final OsException e)
                {
                    // Closed.
                }
            });
            awaitLines(stdout, line -> line.startsWith("["), 2, "status lines during the flood");
            stop.set(true);
            flooder.socket.shutdown();
            thread.join(10_000);
        }
        servedAfterwards(socket);
        final String all = awaitExit(0);
        final long refusedLines = stderr.stream().filter(line -> line.contains("were not offered")).count();
        assertTrue(sent.get() > 1000, "the flood got going: " + sent.get() + " requests");
        assertTrue(refusedLines < 200, refusedLines + " lines for " + sent.get() + " refused requests:\n" + all);
        assertTrue(stderr.stream().anyMatch(line -> line.contains("log lines suppressed")), all);
    }

    @Test
    void aFrontendStalledMidMessageStarvesNothingAndSigtermEndsTheRun() throws Exception
    {
        final Path socket = temp.resolve("vhost.sock");
        start(socket, false);
        // Three frontends in a row that each send half a header and then nothing.
        for (int i = 0; i < 3; i++)
        {
            try (TestFrontend staller = TestFrontend.connect(socket))
            {
                staller.sendRaw(new byte[] {1, 0, 0, 0, 1}, 5, null, 0);
                assertTrue(staller.closedOrReset(30_000), "the stalled frontend is closed");
            }
        }
        awaitLines(stdout, line -> line.startsWith("["), 2, "status lines");
        awaitLines(stderr, line -> line.contains("then the frontend stalled for"), 3, "each stall logged");
        servedAfterwards(socket);
        assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(process.pid())).start().waitFor());
        awaitExit(0);
    }

    @Test
    void aFrontendThatNeverReadsIsClosedAndStarvesNothing() throws Exception
    {
        final Path socket = temp.resolve("vhost.sock");
        start(socket, false, "--duration", "5s");
        try (TestFrontend deaf = TestFrontend.connect(socket))
        {
            final Thread thread = Thread.ofPlatform().name("test-deaf").start(() ->
            {
                try
                {
                    while (true)
                    {
                        deaf.send(VhostUserRequest.GET_FEATURES.code(), VERSION, null, 0, null, 0);
                    }
                }
                catch (final OsException e)
                {
                    // Closed by pagewire.
                }
            });
            thread.join(TimeUnit.SECONDS.toMillis(EXIT_WITHIN_S));
            assertFalse(thread.isAlive(), "pagewire closed the frontend that does not read");
        }
        awaitLines(stderr, line -> line.contains("does not read its replies"), 1, "the reason logged");
        servedAfterwards(socket);
        awaitExit(0);
        assertTrue(stdout.stream().filter(line -> line.startsWith("[")).count() >= 2, String.join("\n", stdout));
    }

    @Test
    void inClientModeAFrontendWhoseBacklogIsFullStarvesNothing() throws Exception
    {
        final Path socket = temp.resolve("frontend.sock");
        final List<UnixSocket> fillers = new ArrayList<>();
        try (UnixSocket listener = UnixSocket.listen(socket))
        {
            try
            {
                while (fillers.size() < 64)
                {
                    fillers.add(UnixSocket.connectNonBlocking(socket));
                }
                fail("the backlog never filled");
            }
            catch (final OsException e)
            {
                assertEquals(11, e.errno(), e.getMessage());
            }
            start(socket, true, "--duration", "10s");
            awaitLines(stderr, line -> line.contains("cannot connect to the frontend"), 1, "the failure logged");
            awaitLines(stdout, line -> line.startsWith("["), 2, "status lines while the frontend never accepts");
            assertEquals(1, stderr.stream().filter(line -> line.contains("cannot connect to the frontend")).count(),
                "said once, not per attempt:\n" + dump());

            // The frontend comes round: its backlog empties and pagewire's next attempt gets through.
            while (listener.awaitReadable(0))
            {
                listener.tryAccept().close();
            }
            fillers.forEach(UnixSocket::close);
            fillers.clear();
            assertTrue(listener.awaitReadable(30_000), "pagewire connects once there is room");
            try (TestFrontend frontend = TestFrontend.over(listener.accept()))
            {
                receivesAFrame(frontend);
            }
        }
        finally
        {
            fillers.forEach(UnixSocket::close);
        }
        awaitExit(0);
    }

    private void start(final Path socket, final boolean client, final String... extra)
        throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--dir", temp.resolve("run").toString(),
            "--set", "guest.type=vhost-user", "--set", "guest.socket=" + socket,
            "--set", "guest.mode=" + (client ? "client" : "server"),
            "--set", "dataplane.idle_strategy=sleep", "--set", "traffic.rate_mbps=10"));
        command.addAll(List.of(extra));
        process = new ProcessBuilder(command).start();
        collect(process.getInputStream(), stdout);
        collect(process.getErrorStream(), stderr);
        awaitLines(stdout, line -> line.contains("Ctrl-C stops"), 1, "the start message");
        if (!client)
        {
            assertTrue(Files.exists(socket), "listening");
        }
    }

    private static void collect(final InputStream stream, final List<String> lines)
    {
        Thread.ofPlatform().daemon().start(() ->
        {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    lines.add(line);
                }
            }
            catch (final IOException e)
            {
                // The process is gone.
            }
        });
    }

    private void awaitLines(final List<String> lines, final Predicate<String> matching, final int count,
        final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EXIT_WITHIN_S);
        while (lines.stream().filter(matching).count() < count)
        {
            assertTrue(process.isAlive() || lines.stream().filter(matching).count() >= count,
                "pagewire exited before " + what + ":\n" + dump());
            assertTrue(System.nanoTime() - deadline < 0, "no " + what + ":\n" + dump());
            Thread.sleep(20);
        }
    }

    /** A valid frontend connects after the hostile one and gets a frame from pagewire's NIC. */
    private void servedAfterwards(final Path socket) throws Exception
    {
        try (TestFrontend frontend = TestFrontend.connect(socket))
        {
            receivesAFrame(frontend);
        }
    }

    private void receivesAFrame(final TestFrontend frontend) throws InterruptedException
    {
        frontend.negotiate(FEATURES);
        final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
        frontend.setupRing(1, 256, true);
        for (int i = 0; i < 16; i++)
        {
            rx.addBuffer(frontend.allocate(4096, 64), 4096, true);
        }
        rx.publishAvail();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EXIT_WITHIN_S);
        while (rx.usedAvailable() == 0)
        {
            assertTrue(System.nanoTime() - deadline < 0, "no frame reached the valid frontend:\n" + dump());
            Thread.sleep(5);
        }
        assertTrue(rx.usedLength(0) > 12, "a frame with its header");
    }

    /** @return everything it printed, once it exited with {@code expected}. */
    private String awaitExit(final int expected) throws InterruptedException
    {
        assertTrue(process.waitFor(EXIT_WITHIN_S, TimeUnit.SECONDS), "the run did not end:\n" + dump());
        // Let the readers take the last lines.
        Thread.sleep(200);
        final String all = dump();
        assertEquals(expected, process.exitValue(), all);
        assertTrue(stdout.stream().anyMatch(line -> line.contains("pagewire run summary")), all);
        assertTrue(stdout.stream().filter(line -> line.startsWith("[")).count() >= 2, all);
        return all;
    }

    private String dump()
    {
        synchronized (stdout)
        {
            synchronized (stderr)
            {
                return "--- stdout\n" + String.join("\n", stdout) + "\n--- stderr\n" + String.join("\n", stderr);
            }
        }
    }
}
