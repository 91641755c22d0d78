package io.pagewire.control.interop;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.run.VhostUserForwarder;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.stats.CountersLookup;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.interop.TestPmd;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

import static io.pagewire.control.interop.Waits.await;
import static io.pagewire.control.interop.Waits.reach;
import static io.pagewire.control.interop.Waits.settle;
import static org.junit.jupiter.api.Assertions.*;

/**
 * pagewire as the vhost-user backend of a real virtio-net driver: DPDK testpmd's {@code net_virtio_user}. Frames from
 * pagewire's embedded traffic source reach testpmd ({@code rxonly}); frames testpmd sends ({@code txonly}) reach
 * pagewire's NIC side; counts must match exactly once traffic has stopped and the rings drained.
 */
@Tag("interop")
class VhostUserInteropTest
{
    @TempDir
    Path temp;

    private VhostUserForwarder forwarder;
    private Thread control;
    private final AtomicBoolean controlRunning = new AtomicBoolean();

    @BeforeEach
    void requireTestPmd()
    {
        final var reason = TestPmd.unavailableReason();
        reason.ifPresent(r -> System.out.println("SKIPPED VhostUserInteropTest: " + r));
        Assumptions.assumeTrue(reason.isEmpty(), () -> reason.orElse(""));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        stopControl();
        if (forwarder != null)
        {
            forwarder.close();
        }
    }

    private Path socket()
    {
        return temp.resolve("vhost.sock");
    }

    private void startForwarder(final String... overrides)
    {
        final List<String> settings = new ArrayList<>(List.of(
            "guest.type=vhost-user", "guest.socket=" + socket(),
            "dataplane.idle_strategy=backoff", "dataplane.rx_policy=drop"));
        settings.addAll(List.of(overrides));
        forwarder = new VhostUserForwarder(PagewireConfig.load(null, settings), temp.resolve("run"));
        forwarder.holdTraffic();
        forwarder.start();
        controlRunning.set(true);
        control = Thread.ofPlatform().name("test-control").start(() ->
        {
            while (controlRunning.get())
            {
                forwarder.poll(5);
            }
        });
    }

    private void stopControl() throws InterruptedException
    {
        controlRunning.set(false);
        if (control != null)
        {
            control.join();
            control = null;
        }
    }

    private long counter(final QueueCounter counter, final int queue)
    {
        final CountersReader reader = forwarder.countersFile().reader();
        final int id = CountersLookup.findCounterId(reader, counter, queue);
        return id == CountersReader.NULL_COUNTER_ID ? 0 : reader.getCounterValue(id);
    }

    /** Diagnostic: used ids around where the driver stopped, and whether any repeats within one ring's window. */
    private static String usedWindow(final QueuePair pair, final long from, final long to)
    {
        final int size = pair.rxQueue().size();
        final org.agrona.concurrent.UnsafeBuffer used =
            new org.agrona.concurrent.UnsafeBuffer(pair.rxRings().usedRing(), 4 + 8 * size + 2);
        final org.agrona.concurrent.UnsafeBuffer avail =
            new org.agrona.concurrent.UnsafeBuffer(pair.rxRings().availRing(), 4 + 2 * size + 2);
        final StringBuilder out = new StringBuilder("used.idx=" + (used.getShort(2) & 0xFFFF) + " avail.idx=" +
            (avail.getShort(2) & 0xFFFF) + " avail.flags=" + avail.getShort(0) + "\n");
        for (long i = Math.max(0, from - 3); i < Math.min(to, from + 6); i++)
        {
            final int slot = (int)(i & (size - 1));
            final int id = used.getInt(4 + 8 * slot);
            int repeats = 0;
            for (long j = Math.max(0, i - size + 1); j < to; j++)
            {
                if (j != i && used.getInt(4 + 8 * (int)(j & (size - 1))) == id && j > i - size && j < i + size)
                {
                    repeats++;
                }
            }
            out.append("  used[").append(i).append("] id=").append(id).append(" len=")
                .append(used.getInt(4 + 8 * slot + 4)).append(" avail[").append(i).append("]=")
                .append(avail.getShort(4 + 2 * slot) & 0xFFFF).append(" repeats-in-window=").append(repeats)
                .append('\n');
        }
        return out.toString();
    }

    private String vdev(final int queues, final int queueSize, final boolean mergeable)
    {
        return "net_virtio_user0,path=" + socket() + ",queues=" + queues + ",queue_size=" + queueSize +
            ",mrg_rxbuf=" + (mergeable ? 1 : 0) + (queues > 1 ? ",cq=1" : "");
    }

    @ParameterizedTest(name = "mrg_rxbuf={0}, queue size {1}")
    @CsvSource({"true, 256", "false, 256", "true, 1024"})
    void framesFromPagewireReachTestPmdExactly(final boolean mergeable, final int queueSize) throws Exception
    {
        startForwarder("traffic.rate_mbps=200", "dataplane.rx_policy=wait");
        try (TestPmd pmd = TestPmd.start(List.of(vdev(1, queueSize, mergeable)),
            List.of("--forward-mode=rxonly"), Duration.ofSeconds(30)))
        {
            // Traffic only once testpmd's port is up: DPDK's port start discards frames already in the ring.
            forwarder.resumeTraffic();
            pmd.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), 3000, "frames delivered to testpmd");
            forwarder.stopTraffic();
            await(() -> forwarder.nicRxEmpty() ? 1 : 0, 1, "the NIC ring to drain");
            final long delivered = settle(() -> counter(QueueCounter.RX_PACKETS, 0));
            final long received = reach(() -> pmd.portStats(0).rxPackets(), delivered);
            final QueuePair running = forwarder.server().backend().running(0);
            final String state = "testpmd " + pmd.portStats(0) + "; device lastAvail=" +
                running.rxQueue().lastAvailIdx() + " used=" + running.rxQueue().usedIdx() + " pending=" +
                running.rxQueue().pendingChains() + " drops=" + java.util.Arrays.toString(running.rxDrops());
            assertEquals(delivered, received, "testpmd received every frame pagewire delivered: " + state +
                (received < delivered ? "\n" + usedWindow(running, received, delivered) : ""));
            assertEquals(received * 1514, pmd.portStats(0).rxBytes(), "whole 1514-byte frames");
            final QueuePair pair = forwarder.server().backend().running(0);
            assertNotNull(pair, "the queue pair runs");
            assertEquals(mergeable, FeatureBit.MRG_RXBUF.isSetIn(forwarder.server().backend().lastNegotiatedFeatures()));
            assertEquals(queueSize, pair.rxQueue().size());
            pmd.command("stop");
        }
    }

    @Test
    void jumboFramesArriveIntactAcrossSeveralMergedBuffers() throws Exception
    {
        startForwarder("traffic.rate_mbps=200", "traffic.frame_size=9000", "nic.slot_size=16384");
        try (TestPmd pmd = TestPmd.start(List.of(vdev(1, 256, true)),
            List.of("--forward-mode=rxonly", "--max-pkt-len=9018", "--enable-scatter"), Duration.ofSeconds(30)))
        {
            forwarder.resumeTraffic();
            pmd.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), 500, "jumbo frames delivered");
            forwarder.stopTraffic();
            await(() -> forwarder.nicRxEmpty() ? 1 : 0, 1, "the NIC ring to drain");
            final long delivered = settle(() -> counter(QueueCounter.RX_PACKETS, 0));
            final long received = reach(() -> pmd.portStats(0).rxPackets(), delivered);
            assertEquals(delivered, received, "every jumbo frame arrived");
            assertEquals(received * 9000, pmd.portStats(0).rxBytes(), "whole frames, not truncated");
            final long[] buckets = CountersLookup.rxBuffersPerPacket(forwarder.countersFile().reader(), 0);
            assertEquals(delivered, buckets[4], "9000 + 12 bytes in DPDK's 2 KiB buffers: 5 per frame");
            pmd.command("stop");
        }
    }

    @Test
    void framesFromTestPmdReachPagewiresNicSide() throws Exception
    {
        startForwarder("traffic.rate_mbps=10");
        try (TestPmd pmd = TestPmd.start(List.of(vdev(1, 256, true)),
            List.of("--forward-mode=txonly", "--txpkts=64"), Duration.ofSeconds(30)))
        {
            forwarder.resumeTraffic();
            pmd.command("start");
            await(() -> forwarder.sink(0).frames(), 5000, "frames from testpmd at the NIC side");
            pmd.command("stop");
            final long sent = settle(() -> pmd.portStats(0).txPackets());
            final long arrived = reach(() -> forwarder.sink(0).frames(), sent);
            assertEquals(sent, arrived, "every frame testpmd sent reached the NIC side");
            assertEquals(sent, counter(QueueCounter.TX_PACKETS, 0));
            assertEquals(0, forwarder.sink(0).verify().corrupt());
        }
    }

    @Test
    void twoQueuePairsCarryTrafficIndependently() throws Exception
    {
        startForwarder("traffic.rate_mbps=100", "guest.queue_pairs=2");
        try (TestPmd pmd = TestPmd.start(List.of(vdev(2, 256, true)),
            List.of("--forward-mode=rxonly", "--rxq=2", "--txq=2"), Duration.ofSeconds(30)))
        {
            forwarder.resumeTraffic();
            pmd.command("start");
            await(() -> Math.min(counter(QueueCounter.RX_PACKETS, 0), counter(QueueCounter.RX_PACKETS, 1)), 1000,
                "frames on both queue pairs");
            forwarder.stopTraffic();
            await(() -> forwarder.nicRxEmpty() ? 1 : 0, 1, "the NIC rings to drain");
            final long delivered = settle(() -> counter(QueueCounter.RX_PACKETS, 0) +
                counter(QueueCounter.RX_PACKETS, 1));
            final long received = reach(() -> pmd.portStats(0).rxPackets(), delivered);
            assertEquals(delivered, received, "testpmd received every frame pagewire delivered on both pairs");
            assertTrue(counter(QueueCounter.RX_PACKETS, 0) > 0 && counter(QueueCounter.RX_PACKETS, 1) > 0);
            pmd.command("stop");
        }
    }

    @Test
    void testPmdKilledAndRestartedIsServedAgainWithoutLeaks() throws Exception
    {
        startForwarder("traffic.rate_mbps=100");
        final long fdsIdle = Fds.openFdCount();
        try (TestPmd first = TestPmd.start(List.of(vdev(1, 256, true)), List.of("--forward-mode=rxonly"),
            Duration.ofSeconds(30)))
        {
            forwarder.resumeTraffic();
            first.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), 1000, "frames to the first testpmd");
            assertTrue(frontendMappings() > 0, "pagewire maps the frontend's memory while it is connected");
            first.kill();
        }
        await(() -> forwarder.server().isConnected() ? 0 : 1, 1, "pagewire to notice the frontend died");
        final long beforeRestart = counter(QueueCounter.RX_PACKETS, 0);
        assertEquals(0, forwarder.server().backend().mappingCount(), "memory unmapped");
        assertEquals(0, frontendMappings(), "no mapping of the dead frontend's memory left");
        assertEquals(fdsIdle, Fds.openFdCount(), "every fd of the dead frontend closed");

        try (TestPmd second = TestPmd.start(List.of(vdev(1, 256, true)), List.of("--forward-mode=rxonly"),
            Duration.ofSeconds(30)))
        {
            forwarder.resumeTraffic();
            second.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), beforeRestart + 1000,
                "frames to the second testpmd, counters continuing");
            assertEquals(2, forwarder.server().connections());
            second.command("stop");
        }
        await(() -> forwarder.server().isConnected() ? 0 : 1, 1, "the second frontend to leave");
        assertEquals(0, frontendMappings());
        assertEquals(fdsIdle, Fds.openFdCount(), "no fd leaked across two connections");
    }

    /**
     * {@code guest.mode=client}: testpmd's virtio_user listens ({@code server=1}) and pagewire connects to it, and
     * connects again by itself to a new testpmd after the first one is killed. Non-mergeable so that counts can be
     * compared exactly (see the issue 4 note above). The traffic source cannot be restarted once stopped, so the exact
     * checks are: on the first connection the direction testpmd can stop and restart (its {@code txonly} frames
     * against what reached pagewire's NIC side), and on the second, after the reconnect, every frame pagewire delivered
     * against what testpmd counted once the source stopped and the rings drained.
     */
    @Test
    void clientModeConnectsToAListeningFrontendAndReconnects() throws Exception
    {
        startForwarder("guest.mode=client", "traffic.rate_mbps=100", "dataplane.rx_policy=wait");
        final String vdev = vdev(1, 256, false) + ",server=1";
        // testpmd's probe blocks in accept() until pagewire, backing off up to 5 s between attempts, connects.
        try (TestPmd first = TestPmd.start(List.of(vdev), List.of("--forward-mode=rxonly"), Duration.ofSeconds(60)))
        {
            forwarder.resumeTraffic();
            assertEquals(1, forwarder.server().connections(), "pagewire connected to the listening frontend");
            first.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), 3000, "frames to the first testpmd");
            await(() -> first.portStats(0).rxPackets(), 1000, "the first testpmd to count frames");
            assertFalse(FeatureBit.MRG_RXBUF.isSetIn(forwarder.server().backend().lastNegotiatedFeatures()));

            // The other direction, exactly: testpmd sends, stops, and pagewire's NIC side has every frame.
            first.command("stop");
            first.command("set fwd txonly");
            first.command("start");
            await(() -> forwarder.sink(0).frames(), 3000, "frames from the first testpmd at the NIC side");
            first.command("stop");
            final long sent = settle(() -> first.portStats(0).txPackets());
            final long arrived = reach(() -> forwarder.sink(0).frames(), sent);
            assertEquals(sent, arrived, "every frame the first testpmd sent reached the NIC side");
            assertEquals(sent, counter(QueueCounter.TX_PACKETS, 0));
            assertEquals(0, forwarder.sink(0).verify().corrupt());
            first.kill();
        }
        // disconnects() counts after the connection is dropped: wait on it, not on isConnected().
        await(() -> forwarder.server().disconnects(), 1, "pagewire to notice the frontend died");
        assertFalse(forwarder.server().isConnected());
        final long beforeRestart = settle(() -> counter(QueueCounter.RX_PACKETS, 0));
        final long txBeforeRestart = counter(QueueCounter.TX_PACKETS, 0);
        // A killed virtio_user server leaves its socket file behind, and the next one's bind() fails on it.
        Files.deleteIfExists(socket());
        // Hold the source again until the second testpmd has started its port: DPDK's port start discards frames
        // already in its receive ring, uncounted (see holdTraffic).
        forwarder.holdTraffic();

        try (TestPmd second = TestPmd.start(List.of(vdev), List.of("--forward-mode=rxonly"), Duration.ofSeconds(60)))
        {
            assertEquals(2, forwarder.server().connections(), "pagewire reconnected by itself");
            // Frames that waited in the NIC ring while no frontend was there (rx_policy=wait) are delivered as soon
            // as the queue runs, possibly before testpmd's port start discards its ring: only those may be missing.
            final long beforePortUp = counter(QueueCounter.RX_PACKETS, 0) - beforeRestart;
            forwarder.resumeTraffic();
            second.command("start");
            await(() -> counter(QueueCounter.RX_PACKETS, 0), beforeRestart + 3000,
                "frames to the second testpmd, counters continuing");
            forwarder.stopTraffic();
            await(() -> forwarder.nicRxEmpty() ? 1 : 0, 1, "the NIC ring to drain");
            final long delivered = settle(() -> counter(QueueCounter.RX_PACKETS, 0)) - beforeRestart;
            final long received = reach(() -> second.portStats(0).rxPackets(), delivered);
            // Every frame delivered after the port was up is counted; of the backlog delivered while it started,
            // DPDK's port start may have discarded some (uncounted, see holdTraffic).
            final long missing = delivered - received;
            assertTrue(missing >= 0 && missing <= beforePortUp, () -> "the second testpmd received every frame " +
                "pagewire delivered after its port was up (" + missing + " missing, " + beforePortUp + " delivered " +
                "before; the driver took every used entry: " +
                driverTookEverything(forwarder.server().backend().running(0)) + "): " + second.portStats(0));
            assertEquals(received * 1514, second.portStats(0).rxBytes(), "whole 1514-byte frames");
            assertEquals(txBeforeRestart, counter(QueueCounter.TX_PACKETS, 0), "the rxonly testpmd sent nothing");
            assertEquals(0, forwarder.server().protocolErrors());
            second.command("stop");
        }
        await(() -> forwarder.server().isConnected() ? 0 : 1, 1, "the second frontend to leave");
        assertEquals(2, forwarder.server().connections());
        assertNull(forwarder.failure());
    }

    /**
     * Per-queue counts of port 0 from the virtio PMD's own xstats, {@code rx_q<N>_good_packets} or
     * {@code tx_q<N>_good_packets}. (Not the per-stream forward stats that {@code stop} prints: those leave out what
     * {@code start} flushed from the queues.)
     */
    private static long[] queuePackets(final TestPmd pmd, final String direction, final int queues)
    {
        final String xstats = pmd.command("show port xstats 0");
        final long[] perQueue = new long[queues];
        java.util.Arrays.fill(perQueue, -1);
        final var matcher = java.util.regex.Pattern.compile("(?m)^" + direction + "_q(\\d+)_good_packets: *(\\d+)")
            .matcher(xstats);
        while (matcher.find())
        {
            final int queue = Integer.parseInt(matcher.group(1));
            if (queue < queues)
            {
                perQueue[queue] = Long.parseLong(matcher.group(2));
            }
        }
        return perQueue;
    }

    private long[] perQueue(final QueueCounter counter, final int queues)
    {
        final long[] values = new long[queues];
        for (int q = 0; q < queues; q++)
        {
            values[q] = counter(counter, q);
        }
        return values;
    }

    /**
     * @return whether the driver has taken every used entry of the pair's receive ring and posted a buffer in its place
     * (avail.idx = used.idx + ring size; one descriptor per frame, non-mergeable).
     */
    private static boolean driverTookEverything(final QueuePair pair)
    {
        if (pair == null)
        {
            return false;
        }
        final int size = pair.rxQueue().size();
        final var used = new org.agrona.concurrent.UnsafeBuffer(pair.rxRings().usedRing(), 4);
        final var avail = new org.agrona.concurrent.UnsafeBuffer(pair.rxRings().availRing(), 4);
        return ((avail.getShortVolatile(2) - used.getShortVolatile(2)) & 0xFFFF) == size;
    }

    /**
     * Four queue pairs split over two dataplane agents (pairs 0 and 2 on one, 1 and 3 on the other) with testpmd
     * polling all four queues, non-mergeable: every pair carries traffic both ways, and the counts match testpmd's
     * queue by queue.
     * <p>
     * Guest TX (testpmd {@code txonly}) is checked exactly. Guest RX is checked exactly for every frame delivered after
     * testpmd's port came up; frames delivered before may be missing from testpmd's counters, and no more than those.
     * The virtio PMD's {@code virtio_dev_start} (DPDK 22.11) posts the RX buffers, then sends the multi-queue control
     * command (virtio_user turns it into vhost-user round trips to pagewire's control thread), then "flushes the old
     * packets": it frees every used entry already in each RX ring without counting it. A queue pair runs from
     * DRIVER_OK, so frames pagewire delivers in that window are taken by the driver (it posts new buffers for them)
     * yet never counted. With one queue pair the window is microseconds; with four it includes those round trips,
     * and in about one run in ten testpmd's counters missed 32 to 96 frames of queue 0 that way (while pagewire's
     * ring showed the driver had taken them all).
     */
    @Test
    void fourQueuePairsOnTwoAgents() throws Exception
    {
        // 4 x 50 Mb/s of 1514-byte frames (the rate is per queue pair): gentle enough for 2 cores shared by
        // testpmd's polling lcore, two dataplane agents, the wire thread and the control thread.
        startForwarder("guest.queue_pairs=4", "dataplane.agents=2", "traffic.rate_mbps=50",
            "dataplane.rx_policy=wait");
        try (TestPmd pmd = TestPmd.start(List.of(vdev(4, 256, false)),
            List.of("--forward-mode=rxonly", "--rxq=4", "--txq=4"), Duration.ofSeconds(60)))
        {
            forwarder.resumeTraffic();
            // testpmd's port is up: what is delivered from here on must all be counted.
            final long[] beforePortUp = perQueue(QueueCounter.RX_PACKETS, 4);

            // Guest RX on every pair.
            pmd.command("start");
            await(() -> java.util.Arrays.stream(perQueue(QueueCounter.RX_PACKETS, 4)).min().orElseThrow(), 1000,
                "frames to testpmd on all four queue pairs");
            final long negotiated = forwarder.server().backend().lastNegotiatedFeatures();
            assertFalse(FeatureBit.MRG_RXBUF.isSetIn(negotiated));
            assertTrue(FeatureBit.MQ.isSetIn(negotiated));

            // Guest TX on every pair, exactly: testpmd stops sending, and each queue's frames reached its NIC port.
            pmd.command("stop");
            pmd.command("set fwd txonly");
            pmd.command("start");
            await(() -> java.util.Arrays.stream(perQueue(QueueCounter.TX_PACKETS, 4)).min().orElseThrow(), 1000,
                "frames from testpmd on all four queue pairs");
            pmd.command("stop");
            final long sent = settle(() -> pmd.portStats(0).txPackets());
            final LongSupplier arrived = () ->
                forwarder.sink(0).frames() + forwarder.sink(1).frames() + forwarder.sink(2).frames() +
                forwarder.sink(3).frames();
            assertEquals(sent, reach(arrived, sent), "every frame testpmd sent reached a NIC port");
            final long[] txPerQueue = perQueue(QueueCounter.TX_PACKETS, 4);
            assertArrayEquals(queuePackets(pmd, "tx", 4), txPerQueue, "testpmd's TX queues against pagewire's");
            for (int q = 0; q < 4; q++)
            {
                assertEquals(txPerQueue[q], forwarder.sink(q).frames(), "queue pair " + q + " to its own NIC port");
                assertEquals(0, forwarder.sink(q).verify().corrupt());
            }

            // Guest RX to the end: the source stops, the NIC rings drain, the driver takes every used entry.
            pmd.command("set fwd rxonly");
            pmd.command("start");
            forwarder.stopTraffic();
            await(() -> forwarder.nicRxEmpty() ? 1 : 0, 1, "the NIC rings to drain");
            final long delivered = settle(() -> java.util.Arrays.stream(perQueue(QueueCounter.RX_PACKETS, 4)).sum());
            await(() -> java.util.stream.IntStream.range(0, 4)
                    .allMatch(q -> driverTookEverything(forwarder.server().backend().running(q))) ? 1 : 0, 1,
                "testpmd to take every frame from the four receive rings");
            final long[] rxPerQueue = perQueue(QueueCounter.RX_PACKETS, 4);
            final long[] counted = queuePackets(pmd, "rx", 4);
            final TestPmd.PortStats stats = pmd.portStats(0);
            final String state = "pagewire delivered " + java.util.Arrays.toString(rxPerQueue) + " (" +
                java.util.Arrays.toString(beforePortUp) + " of them before testpmd's port was up), testpmd counted " +
                java.util.Arrays.toString(counted) + "; " + stats;
            System.out.println("four queue pairs: " + state);
            assertEquals(delivered, java.util.Arrays.stream(rxPerQueue).sum());
            assertEquals(java.util.Arrays.stream(counted).sum(), stats.rxPackets(), "per-queue and port counts agree");
            for (int q = 0; q < 4; q++)
            {
                assertTrue(rxPerQueue[q] > 0, "queue pair " + q + " carried traffic to the guest");
                final long uncounted = rxPerQueue[q] - counted[q];
                assertTrue(uncounted >= 0 && uncounted <= beforePortUp[q],
                    "queue " + q + ": testpmd counted every frame delivered after its port came up: " + state);
            }
            assertEquals(stats.rxPackets() * 1514, stats.rxBytes(), "whole 1514-byte frames");
            assertEquals(0, stats.rxErrors());
            pmd.command("stop");
            assertNull(forwarder.failure());
        }
    }

    /** @return mappings of memory received from a frontend (DPDK shares memfds; none of pagewire's own are memfds). */
    private static long frontendMappings() throws Exception
    {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(line -> line.contains("/memfd:")).count();
    }

}
