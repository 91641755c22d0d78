package io.pagewire.control.interop;

import io.pagewire.control.cli.MiniJson;
import io.pagewire.control.cli.PagewireCli;
import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.CountersLookup;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.interop.TestPmd;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.pagewire.control.interop.Waits.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12, point 6: a frontend that keeps its rings while its backend is killed and restarted. testpmd's
 * {@code net_virtio_user} listens ({@code server=1}) and forwards every frame it receives back out ({@code io}, one
 * port looped to itself); pagewire runs as a child JVM ({@code pagewire run}, {@code guest.mode=client}) whose
 * embedded source feeds the guest's receive queue and whose sink verifies every frame the guest transmits (sequence
 * and check). pagewire is killed with SIGKILL mid-traffic twice; each new process reconnects, gets SET_VRING_BASE 0 on
 * rings whose used.idx is far from 0, resumes at used.idx, and traffic resumes both ways.
 * <p>
 * What is accounted for exactly, every index mod 2^16 (runs stay well below 65536 frames), with U the used.idx and A
 * the avail.idx each ring had when a new pagewire started (it logs them):
 * <ul>
 *   <li>guest TX: testpmd's TX count (frames it put in the transmit ring) = U_tx + (A_tx - U_tx) at each restart:
 *       every frame is either returned by an earlier process or pending for the new one, none skipped; and at the end,
 *       testpmd stopped and the ring drained, = U_tx + the last process's tx packets.</li>
 *   <li>guest RX: testpmd's RX count (used entries it took) + F = U_rx at each restart, with the same F both times:
 *       F is what DPDK's port start discards from the ring uncounted at the very first connection (virtio_dev_start
 *       "flushes the old packets"), at most a ring; so every entry the killed second process published between the two
 *       kills was counted by testpmd, once.</li>
 *   <li>a killed process's own counters (its counters file outlives it): its rx packets are at most the used entries
 *       it published (U_rx after minus U_rx before) and at most a burst fewer: a SIGKILL between a publish of used.idx
 *       and the counters' publication in the same duty cycle. The same for tx packets. A transmit chain the killed
 *       process sent but had not yet returned is sent again by the next (at most a burst, "resent for Tx" in DPDK's
 *       words); buffers it had filled but not published are filled again ("dropped for Rx").</li>
 *   <li>no corrupt frame: the last process's sink checks every frame it gets, including the ones pending across the
 *       kill that the previous process had delivered to testpmd.</li>
 * </ul>
 */
@Tag("interop")
class ReconnectWithStateInteropTest
{
    private static final int RING = 256;
    private static final int BURST = 32;
    private static final Pattern RESUMED = Pattern.compile(
        "ring (\\d+): SET_VRING_BASE (\\d+) but used\\.idx (\\d+), avail\\.idx (\\d+): resumed at used\\.idx");

    @TempDir
    Path temp;

    private final List<Child> children = new ArrayList<>();

    @BeforeEach
    void requireTestPmd()
    {
        final var reason = TestPmd.unavailableReason();
        reason.ifPresent(r -> System.out.println("SKIPPED ReconnectWithStateInteropTest: " + r));
        Assumptions.assumeTrue(reason.isEmpty(), () -> reason.orElse(""));
    }

    @AfterEach
    void killChildren()
    {
        for (final Child child : children)
        {
            child.process.destroyForcibly();
        }
    }

    private Path socket()
    {
        return temp.resolve("vhost.sock");
    }

    private Path runBase()
    {
        return temp.resolve("run");
    }

    @Test
    void pagewireKilledMidTrafficResumesBothWaysOnTheRingsTheFrontendKept() throws Exception
    {
        final String vdev = "net_virtio_user0,path=" + socket() + ",queues=1,queue_size=" + RING +
            ",mrg_rxbuf=0,server=1";
        // testpmd's probe blocks in accept() until pagewire connects: start it first, in the background.
        final CompletableFuture<TestPmd> starting = CompletableFuture.supplyAsync(() -> TestPmd.start(List.of(vdev),
            List.of("--forward-mode=io", "--port-topology=loop", "--no-flush-rx"), Duration.ofSeconds(90)));
        await(() -> Files.exists(socket()) || starting.isDone() ? 1 : 0, 1, "testpmd to listen");
        final Child first = startPagewire(1);
        try (TestPmd pmd = starting.get(90, TimeUnit.SECONDS))
        {
            pmd.command("start");
            await(() -> pmd.portStats(0).txPackets(), 2000, "frames through testpmd, both ways (1st pagewire)");
            await(() -> first.counter(QueueCounter.TX_PACKETS), 1000, "frames back at the 1st pagewire");

            // ---- SIGKILL mid-traffic, restart: the rings keep used.idx, the new process gets base 0 ----
            final Killed killed1 = first.kill();
            final long r1 = settle(() -> pmd.portStats(0).rxPackets());
            final long t1 = settle(() -> pmd.portStats(0).txPackets());
            final Child second = startPagewire(2);
            final Resumed at2 = second.awaitResumed();
            assertEquals(0, at2.rxBase(), "virtio_user sends SET_VRING_BASE 0 to a restarted backend");
            assertEquals(0, at2.txBase());
            final String state1 = "testpmd rx " + r1 + " tx " + t1 + "; 1st pagewire " + killed1 + "; resumed " + at2;
            System.out.println("reconnect 1: " + state1);
            assertEquals(mod(t1), mod(at2.txAvail()), "every frame testpmd sent is returned or pending: " + state1);
            final long flushed = mod(at2.rxUsed() - r1);
            assertTrue(flushed <= RING, "only DPDK's port start may discard used entries uncounted: " + state1);
            assertWithinABurst(killed1.rxPackets(), at2.rxUsed(), "rx of the 1st pagewire", state1);
            assertWithinABurst(killed1.txPackets(), at2.txUsed(), "tx of the 1st pagewire", state1);
            assertEquals(0, killed1.queueErrors() + killed1.resyncs(), state1);

            await(() -> pmd.portStats(0).rxPackets(), r1 + 2000, "frames to testpmd again (2nd pagewire)");
            await(() -> pmd.portStats(0).txPackets(), t1 + 2000, "frames from testpmd again (2nd pagewire)");
            await(() -> second.counter(QueueCounter.TX_PACKETS), 1000, "frames back at the 2nd pagewire");
            assertEquals(1, second.counter(QueueCounter.RX_RING_RESYNCS));
            assertEquals(1, second.counter(QueueCounter.TX_RING_RESYNCS));

            // ---- again: everything the second process did between the two kills is accounted for ----
            final Killed killed2 = second.kill();
            final long r2 = settle(() -> pmd.portStats(0).rxPackets());
            final long t2 = settle(() -> pmd.portStats(0).txPackets());
            final Child third = startPagewire(3);
            final Resumed at3 = third.awaitResumed();
            final String state2 = "testpmd rx " + r2 + " tx " + t2 + "; 2nd pagewire " + killed2 + "; resumed " + at3 +
                "; before: " + state1;
            System.out.println("reconnect 2: " + state2);
            assertEquals(mod(t2), mod(at3.txAvail()), "every frame testpmd sent is returned or pending: " + state2);
            assertEquals(flushed, mod(at3.rxUsed() - r2),
                "testpmd counted every used entry the 2nd pagewire published, once: " + state2);
            assertWithinABurst(killed2.rxPackets(), mod(at3.rxUsed() - at2.rxUsed()), "rx of the 2nd pagewire", state2);
            assertWithinABurst(killed2.txPackets(), mod(at3.txUsed() - at2.txUsed()), "tx of the 2nd pagewire", state2);
            assertEquals(0, killed2.queueErrors(), state2);
            assertEquals(2, killed2.resyncs(), "one resync per ring: " + state2);

            await(() -> pmd.portStats(0).rxPackets(), r2 + 2000, "frames to testpmd again (3rd pagewire)");
            await(() -> pmd.portStats(0).txPackets(), t2 + 2000, "frames from testpmd again (3rd pagewire)");

            // ---- the end: testpmd stops sending, the third process drains the transmit ring ----
            pmd.command("stop");
            final long tEnd = settle(() -> pmd.portStats(0).txPackets());
            final long tx3 = settle(() -> third.counter(QueueCounter.TX_PACKETS));
            assertEquals(mod(tEnd), mod(at3.txUsed() + tx3),
                "every frame testpmd ever sent was returned by one of the three: testpmd tx " + tEnd +
                ", 3rd pagewire tx " + tx3 + "; " + state2);
            final Map<String, Object> summary = third.interrupt();
            final Map<String, Object> verify = map(summary, "verify_tx");
            System.out.println("3rd pagewire summary: tx " + summary.get("tx") + ", verify_tx " + verify);
            assertEquals(0L, verify.get("corrupt"), "no corrupt frame: " + verify);
            assertEquals(0L, verify.get("unverifiable"), "every frame testpmd returned is one of pagewire's");
            assertEquals(tx3, (long)(Long)map(summary, "tx").get("packets"));
            assertEquals(tx3, (long)(Long)verify.get("checked"), "the sink checked every frame sent");
            assertEquals(0, pmd.portStats(0).rxErrors());
        }
    }

    /**
     * Waits until a count has not moved for 1 s and returns it: after a SIGKILL testpmd drains what was published,
     * and at the end pagewire drains what testpmd sent; on two shared cores a polling thread may be off its CPU for a
     * while, so the bound is twice {@link Waits#settle}'s.
     */
    private static long settle(final java.util.function.LongSupplier value) throws InterruptedException
    {
        long last = value.getAsLong();
        long stableSince = System.nanoTime();
        while (System.nanoTime() - stableSince < 1_000_000_000L)
        {
            Thread.sleep(20);
            final long now = value.getAsLong();
            if (now != last)
            {
                last = now;
                stableSince = System.nanoTime();
            }
        }
        return last;
    }

    private static void assertWithinABurst(final long counted, final long published, final String what,
        final String state)
    {
        assertTrue(counted <= published && published - counted <= BURST, () -> what + ": counted " + counted +
            ", published " + published + " (the counters lag used.idx by at most one burst at a SIGKILL): " + state);
    }

    private static long mod(final long index)
    {
        return index & 0xFFFF;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(final Map<String, Object> parent, final String key)
    {
        return (Map<String, Object>)parent.get(key);
    }

    /** Starts {@code pagewire run} in a child JVM, as the launcher runs it, in vhost-user client mode. */
    private Child startPagewire(final int number) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        final Path summary = temp.resolve("summary-" + number + ".json");
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--duration", "10m", "--quiet", "--dir", runBase().toString(), "--summary", summary.toString(),
            "--set", "guest.type=vhost-user", "--set", "guest.socket=" + socket(), "--set", "guest.mode=client",
            "--set", "traffic.rate_mbps=50", "--set", "dataplane.idle_strategy=backoff",
            "--set", "dataplane.rx_policy=drop", "--set", "dataplane.burst=" + BURST));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final Child child = new Child(process, summary, number);
        children.add(child);
        return child;
    }

    /** The indices both rings of queue pair 0 resumed at, as the new process logged them. */
    record Resumed(int rxBase, int rxUsed, int rxAvail, int txBase, int txUsed, int txAvail)
    {
    }

    /** What a killed process's counters file said after its death. */
    record Killed(long pid, long rxPackets, long txPackets, long queueErrors, long resyncs)
    {
    }

    /** A pagewire child process and the lines it printed. */
    private final class Child
    {
        private final Process process;
        private final Path summary;
        private final int number;
        private final List<String> output = new ArrayList<>();
        private final Thread reader;

        Child(final Process process, final Path summary, final int number)
        {
            this.process = process;
            this.summary = summary;
            this.number = number;
            this.reader = Thread.ofPlatform().daemon().name("pagewire-child-" + number).start(this::read);
        }

        private void read()
        {
            try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = in.readLine()) != null)
                {
                    System.out.println("[pagewire " + number + "] " + line);
                    synchronized (output)
                    {
                        output.add(line);
                    }
                }
            }
            catch (final IOException ignored)
            {
                // the process is gone
            }
        }

        private String output()
        {
            synchronized (output)
            {
                return String.join("\n", output);
            }
        }

        Resumed awaitResumed() throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true)
            {
                final int[][] rings = new int[2][];
                final Matcher matcher = RESUMED.matcher(output());
                while (matcher.find())
                {
                    final int ring = Integer.parseInt(matcher.group(1));
                    if (ring < 2 && rings[ring] == null)
                    {
                        rings[ring] = new int[] {Integer.parseInt(matcher.group(2)),
                            Integer.parseInt(matcher.group(3)), Integer.parseInt(matcher.group(4))};
                    }
                }
                if (rings[0] != null && rings[1] != null)
                {
                    return new Resumed(rings[0][0], rings[0][1], rings[0][2], rings[1][0], rings[1][1], rings[1][2]);
                }
                assertTrue(process.isAlive(), () -> "pagewire " + number + " exited:\n" + output());
                assertTrue(System.nanoTime() - deadline < 0,
                    () -> "pagewire " + number + " did not log both rings resuming at used.idx:\n" + output());
                Thread.sleep(20);
            }
        }

        /** @return a queue pair 0 counter of the live process, 0 before its counters file exists. */
        long counter(final QueueCounter counter)
        {
            final Path file = RuntimeDirectory.of(runBase(), process.pid()).countersFile();
            if (!Files.exists(file))
            {
                return 0;
            }
            try (CountersFile counters = CountersFile.attach(file))
            {
                return value(counters.reader(), counter);
            }
            catch (final RuntimeException e)
            {
                return 0; // still being created
            }
        }

        private static long value(final CountersReader reader, final QueueCounter counter)
        {
            final int id = CountersLookup.findCounterId(reader, counter, 0);
            return id == CountersReader.NULL_COUNTER_ID ? 0 : reader.getCounterValue(id);
        }

        /** SIGKILL; then reads what its counters file (which outlives it) says. */
        Killed kill() throws InterruptedException
        {
            process.destroyForcibly(); // SIGKILL on Linux
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "pagewire " + number + " gone after SIGKILL");
            reader.join(5000);
            final Path file = RuntimeDirectory.of(runBase(), process.pid()).countersFile();
            assertTrue(Files.exists(file), "a killed forwarder leaves its counters file behind");
            try (CountersFile counters = CountersFile.attach(file))
            {
                final CountersReader reader = counters.reader();
                long errors = 0;
                for (final QueueError error : QueueError.values())
                {
                    final int id = CountersLookup.findCounterId(reader, QueueCounter.QUEUE_ERRORS.id(), 0,
                        QueueCounter.queueErrorCode(error));
                    errors += id == CountersReader.NULL_COUNTER_ID ? 0 : reader.getCounterValue(id);
                }
                return new Killed(process.pid(), value(reader, QueueCounter.RX_PACKETS),
                    value(reader, QueueCounter.TX_PACKETS), errors,
                    value(reader, QueueCounter.RX_RING_RESYNCS) + value(reader, QueueCounter.TX_RING_RESYNCS));
            }
        }

        /** SIGINT, as Ctrl-C: a clean stop that writes the summary. @return the summary. */
        @SuppressWarnings("unchecked")
        Map<String, Object> interrupt() throws Exception
        {
            final Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
            assertEquals(0, kill.waitFor());
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "pagewire " + number + " exits after SIGINT");
            reader.join(5000);
            assertTrue(Files.exists(summary), () -> "summary written (exit " + process.exitValue() + "):\n" +
                output());
            return (Map<String, Object>)MiniJson.parse(Files.readString(summary));
        }
    }
}
