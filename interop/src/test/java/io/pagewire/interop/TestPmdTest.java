package io.pagewire.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pagewire.interop.TestPmd.PortStats;
import io.pagewire.interop.TestPmd.TestPmdException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Self-test of the {@link TestPmd} harness against DPDK's own PMDs (net_null, net_vhost + net_virtio_user in
 * one process), so the harness is known to work before pagewire is put on the other end of a socket.
 */
@Tag("interop")
class TestPmdTest {

    static final Duration STARTUP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @BeforeAll
    static void requireTestPmd() {
        Optional<String> reason = TestPmd.unavailableReason();
        if (reason.isPresent()) {
            System.out.println("[TestPmdTest] SKIPPED: dpdk-testpmd unavailable: " + reason.get());
        } else {
            System.out.println("[TestPmdTest] using " + TestPmd.BINARY + " (" + TestPmd.version() + ")");
        }
        assumeTrue(reason.isEmpty(), () -> "dpdk-testpmd unavailable: " + reason.orElseThrow());
    }

    @Test
    void ioForwardingBetweenNullPortsCountsPacketsBothWays() throws Exception {
        try (TestPmd pmd = TestPmd.start(List.of("net_null0", "net_null1"), List.of(), STARTUP)) {
            assertEquals(2, pmd.portCount());
            for (PortStats s : pmd.allPortStats()) {
                assertEquals(0, s.rxPackets() + s.txPackets(), "fresh port counts nothing: " + s);
            }
            assertTrue(pmd.command("set fwd io").contains("Set io packet forwarding mode"));
            String started = pmd.command("start");
            assertTrue(started.contains("io packet forwarding - ports=2"), started);
            Thread.sleep(1000);
            String stopped = pmd.command("stop");
            assertTrue(stopped.contains("Forward statistics for port 1"), stopped);

            List<PortStats> stats = pmd.allPortStats();
            assertEquals(List.of(0, 1), stats.stream().map(PortStats::port).toList());
            for (PortStats s : stats) {
                assertTrue(s.rxPackets() > 0, "net_null generates packets on RX: " + s);
                assertTrue(s.txPackets() > 0, "io forwarding transmits what the other port received: " + s);
                assertEquals(0, s.rxErrors() + s.txErrors() + s.rxNombuf(), s.toString());
            }
            // io forwarding sends on port 1 what port 0 received and vice versa, never more.
            assertTrue(stats.get(1).txPackets() <= stats.get(0).rxPackets(), stats.toString());
            assertTrue(stats.get(0).txPackets() <= stats.get(1).rxPackets(), stats.toString());
            // Stopped: a second read sees the same counters, through the single-port command too.
            assertEquals(stats.get(0), pmd.portStats(0));
            assertEquals(stats.get(1), pmd.portStats(1));
        }
    }

    @Test
    void parsedStatsMatchTheRawTextFieldByField() throws Exception {
        // net_null counts no bytes, so loop a vhost port and a virtio_user port inside one testpmd. The
        // virtio_user port is hot-attached: at startup it would probe before the vhost socket exists.
        Path sock = tmp.resolve("loop.sock");
        try (TestPmd pmd = TestPmd.start(
                List.of("net_vhost0,iface=" + sock + ",queues=1,client=0"), List.of(), STARTUP)) {
            String attached = pmd.command("port attach net_virtio_user0,path=" + sock
                    + ",queues=1,queue_size=256,mrg_rxbuf=1", Duration.ofSeconds(10));
            assertTrue(attached.contains("Port 1 is attached"), attached);
            pmd.command("port start 1", Duration.ofSeconds(10));
            pmd.awaitLinkUp(0, Duration.ofSeconds(5));
            pmd.awaitLinkUp(1, Duration.ofSeconds(5));
            pmd.command("set fwd io");
            pmd.command("start tx_first 4");
            Thread.sleep(500);
            pmd.command("stop");

            String raw = pmd.command("show port stats all");
            List<PortStats> parsed = TestPmd.parsePortStats(raw);
            assertEquals(2, parsed.size(), raw);
            for (PortStats s : parsed) {
                String block = blockOf(raw, s.port());
                assertEquals(field(block, "RX-packets"), s.rxPackets(), "RX-packets");
                assertEquals(field(block, "RX-missed"), s.rxMissed(), "RX-missed");
                assertEquals(field(block, "RX-bytes"), s.rxBytes(), "RX-bytes");
                assertEquals(field(block, "RX-errors"), s.rxErrors(), "RX-errors");
                assertEquals(field(block, "RX-nombuf"), s.rxNombuf(), "RX-nombuf");
                assertEquals(field(block, "TX-packets"), s.txPackets(), "TX-packets");
                assertEquals(field(block, "TX-errors"), s.txErrors(), "TX-errors");
                assertEquals(field(block, "TX-bytes"), s.txBytes(), "TX-bytes");
                // tx_first and io forwarding move testpmd's default 64-byte frames: bytes = 64 x packets,
                // which also catches a packets/bytes mix-up in the parser.
                assertTrue(s.rxPackets() > 0 && s.txPackets() > 0, s.toString());
                assertEquals(64 * s.rxPackets(), s.rxBytes(), s.toString());
                assertEquals(64 * s.txPackets(), s.txBytes(), s.toString());
            }
            assertFalse(raw.contains(TestPmd.PROMPT), "command output carries no prompt");
            assertFalse(raw.contains("show port stats all"), "command output carries no echo");
        }
    }

    @Test
    void txonlyWith64ByteFramesIncrementsTxPackets() throws Exception {
        try (TestPmd pmd = TestPmd.start(List.of("net_null0,no-rx=1"), List.of(), STARTUP)) {
            pmd.command("set fwd txonly");
            pmd.command("set txpkts 64");
            assertEquals(0, pmd.portStats(0).txPackets());

            String started = pmd.command("start");
            assertTrue(started.contains("txonly packet forwarding") && started.contains("packet len=64"),
                    started);
            Thread.sleep(300);
            pmd.command("stop");
            long first = pmd.portStats(0).txPackets();
            assertTrue(first > 0, "txonly sent nothing");

            pmd.command("start");
            Thread.sleep(300);
            pmd.command("stop");
            PortStats second = pmd.portStats(0);
            assertTrue(second.txPackets() > first, first + " then " + second);
            assertEquals(0, second.rxPackets(), "no-rx=1 port received: " + second);

            pmd.clearPortStats();
            assertEquals(0, pmd.portStats(0).txPackets(), "clear port stats all");
        }
    }

    @Test
    void unknownDriverFailsStartupWithTheLogInTheMessage() {
        long t0 = System.nanoTime();
        TestPmdException e = assertThrows(TestPmdException.class,
                () -> TestPmd.start(List.of("net_bogus0"), List.of(), STARTUP));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertTrue(took.compareTo(STARTUP) < 0, "failed only after " + took);
        assertTrue(e.getMessage().contains("exited during startup"), e.getMessage());
        assertTrue(e.getMessage().contains("Unable to parse device 'net_bogus0'"), e.getMessage());
        assertTrue(e.getMessage().contains("Cannot init EAL"), e.getMessage());
        assertGone(e.pid());
    }

    @Test
    void virtioUserWithoutABackendFailsStartupInsteadOfComingUpWithoutPorts() {
        // testpmd itself carries on with zero ports and a prompt; the harness must not.
        Path nobody = tmp.resolve("nobody-listens.sock");
        long t0 = System.nanoTime();
        TestPmdException e = assertThrows(TestPmdException.class, () -> TestPmd.start(
                List.of("net_virtio_user0,path=" + nobody + ",queues=1,queue_size=256,mrg_rxbuf=1"),
                List.of(), STARTUP));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "failed only after " + took);
        assertTrue(e.getMessage().contains("failed to initialize net_virtio_user0 device"), e.getMessage());
        assertTrue(e.getMessage().contains("connect error"), e.getMessage());
        assertGone(e.pid());
    }

    @Test
    void startupThatNeverPromptsTimesOutAndLeavesNoProcess() {
        // virtio_user in server mode blocks in accept() during probe until a vhost-user client connects.
        Path listen = tmp.resolve("server.sock");
        Duration timeout = Duration.ofSeconds(2);
        long t0 = System.nanoTime();
        TestPmdException e = assertThrows(TestPmdException.class, () -> TestPmd.start(
                List.of("net_virtio_user0,path=" + listen + ",server=1,queues=1"), List.of(), timeout));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertTrue(took.compareTo(timeout) >= 0 && took.compareTo(Duration.ofSeconds(8)) < 0,
                "timed out after " + took);
        assertTrue(e.getMessage().contains("no prompt within 2000 ms"), e.getMessage());
        assertTrue(e.getMessage().contains("waiting for client connection"), e.getMessage());
        assertGone(e.pid());
    }

    @Test
    void closeQuitsAndLeavesNoProcessNorRuntimeDirectory() {
        TestPmd pmd = TestPmd.start(List.of("net_null0"), List.of(), STARTUP);
        long pid = pmd.pid();
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "running after start");
        Path runtimeDir = Path.of("/var/run/dpdk", pmd.filePrefix());
        boolean root = Files.isWritable(Path.of("/var/run"));
        if (root) {
            assertTrue(Files.isDirectory(runtimeDir), "EAL runtime dir " + runtimeDir);
        }

        pmd.close();

        assertGone(pid);
        assertFalse(pmd.isAlive());
        assertTrue(pmd.log().contains("Bye..."), "quit was clean:\n" + pmd.logTail(20));
        if (root) {
            assertFalse(Files.exists(runtimeDir), runtimeDir + " left behind");
        }
        assertTrue(Files.isRegularFile(pmd.logFile()), "log file " + pmd.logFile());
        pmd.close(); // idempotent
        TestPmdException e = assertThrows(TestPmdException.class, () -> pmd.command("show port summary all"));
        assertTrue(e.getMessage().contains("not running"), e.getMessage());
    }

    @Test
    void killReturnsOnlyAfterTheProcessIsGoneAndKeepsTheLog() throws Exception {
        TestPmd pmd = TestPmd.start(List.of("net_null0"), List.of(), STARTUP);
        pmd.command("set fwd txonly");
        pmd.command("start"); // forwarding core busy, as in a crash test
        long pid = pmd.pid();

        pmd.kill();

        assertGone(pid);
        assertTrue(pmd.log().contains("txonly packet forwarding"), pmd.logTail(20));
        assertFalse(pmd.log().contains("Bye..."), "SIGKILL, not a clean quit");
        assertTrue(Files.readString(pmd.logFile()).contains("txonly packet forwarding"), "log file mirrors");
        assertThrows(TestPmdException.class, () -> pmd.command("stop"));
        pmd.close(); // closing a killed instance is harmless
    }

    @Test
    void eachCommandGetsItsOwnOutput() {
        try (TestPmd pmd = TestPmd.start(List.of("net_null0", "net_null1"), List.of(), STARTUP)) {
            String summary = pmd.command("show port summary all");
            assertTrue(summary.contains("Number of available ports: 2"), summary);
            assertTrue(summary.contains("net_null1"), summary);
            assertFalse(summary.contains(TestPmd.PROMPT), summary);

            String info = pmd.command("show port info 1");
            assertTrue(info.contains("Device name: net_null1"), info);
            assertFalse(info.contains("Number of available ports"), "previous output leaked:\n" + info);

            String invalid = pmd.command("show port stats 7");
            assertTrue(invalid.contains("Invalid port 7"), invalid);
            assertThrows(TestPmdException.class, () -> pmd.portStats(7));
            assertThrows(IllegalArgumentException.class, () -> pmd.command("quit"));
        }
    }

    // ------------------------------------------------------------------------------------------------

    private static void assertGone(long pid) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        assertFalse(handle.map(ProcessHandle::isAlive).orElse(false), "testpmd pid " + pid + " still alive");
    }

    /** The text of one {@code NIC statistics for port N} block, found independently of the parser. */
    private static String blockOf(String raw, int port) {
        int from = raw.indexOf("NIC statistics for port " + port + " ");
        assertTrue(from >= 0, "no block for port " + port + " in:\n" + raw);
        int to = raw.indexOf("NIC statistics for port", from + 1);
        return raw.substring(from, to < 0 ? raw.length() : to);
    }

    /** The number after {@code name:} in whitespace-split tokens of {@code block}. */
    private static long field(String block, String name) {
        String[] tokens = block.trim().split("\\s+");
        for (int i = 0; i + 1 < tokens.length; i++) {
            if (tokens[i].equals(name + ":")) {
                Matcher m = Pattern.compile("\\d+").matcher(tokens[i + 1]);
                assertTrue(m.matches(), name + " followed by " + tokens[i + 1]);
                return Long.parseLong(tokens[i + 1]);
            }
        }
        throw new AssertionError(name + " not in:\n" + block);
    }
}
