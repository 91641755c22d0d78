package io.pagewire.perf.bench;

import io.pagewire.interop.TestPmd;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code pagewire bench pvp}: "PVP without a VM". One DPDK testpmd process is both traffic source and guest (ports
 * {@code net_memif} client and {@code net_virtio_user}, {@code io} forwarding, bursts kept in flight with
 * {@code start tx_first}); the forwarder under test sits between them: pagewire (memif server + vhost-user) or DPDK
 * testpmd itself ({@code net_memif} server + {@code net_vhost}, {@code io} forwarding). Exactly two threads busy-poll:
 * the generator's forwarding lcore on CPU 1 and the forwarder's on CPU 0.
 * <p>
 * Each repetition starts both processes afresh, warms up, then reads the generator's port counters once a second;
 * the rate is the frames the generator received on both ports (both directions through the forwarder) per second.
 * A cross-core round-trip probe before and after tags the repetition with the machine's regime, and CPU time not
 * spent by the two processes (or this one) is recorded as foreign load; noisy repetitions are flagged and left out
 * of the medians.
 */
final class PvpBench
{
    /** Foreign CPU above this (in cores, averaged over the measurement) flags a repetition as noisy. */
    static final double NOISY_FOREIGN_CORES = 0.10;

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final int BURSTS_IN_FLIGHT = 4;

    /** One point of the matrix. */
    record Point(int size, boolean mrg, int qsize)
    {
    }

    /** One repetition of one forwarder at one point. */
    record Run(
        String forwarder, Point point, int rep, double mpps, List<Double> perSecondMpps, double foreignCores,
        double roundTripBeforeNs, double roundTripAfterNs, String regime, boolean noisy, String error)
    {
    }

    private final BenchOptions options;
    private final PrintStream out;
    private final WorkDir workDir;
    private final List<Run> runs = new ArrayList<>();

    PvpBench(final BenchOptions options, final PrintStream out) throws IOException
    {
        this.options = options;
        this.out = out;
        workDir = WorkDir.create("pagewire-pvp-");
    }

    /** Runs the whole matrix; every forwarder once per repetition, alternating. */
    List<Run> runAll()
    {
        try
        {
            for (final int size : options.sizes())
            {
                for (final boolean mrg : options.mrg())
                {
                    if (!mrg && size > MBUF_DATA_ROOM)
                    {
                        out.println("skipped: " + size + "-byte frames with mrg off (virtio_user posts 2 KiB " +
                            "receive buffers: without merging, no such frame fits one)");
                        continue;
                    }
                    for (final int qsize : options.qsizes())
                    {
                        final Point point = new Point(size, mrg, qsize);
                        for (int rep = 1; rep <= options.reps(); rep++)
                        {
                            for (final String forwarder : options.forwarders())
                            {
                                final Run run = runOne(forwarder, point, rep);
                                runs.add(run);
                                out.println(describe(run));
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            workDir.close();
        }
        return runs;
    }

    private Run runOne(final String forwarder, final Point point, final int rep)
    {
        final double rttBefore = RegimeProbe.roundTripNs();
        // A socket path per run: a server that was killed leaves its socket file behind, and DPDK will not bind over it.
        final int run = runs.size();
        final Path memifSocket = workDir.resolve("memif-" + run + ".sock");
        final Path vhostSocket = workDir.resolve("vhost-" + run + ".sock");
        final List<Double> perSecond = new ArrayList<>();
        double foreign = Double.NaN;
        String error = null;
        try (ForwarderUnderTest fwd = forwarder.equals("dpdk") ?
            DpdkForwarder.start(memifSocket, vhostSocket, point) :
            PagewireForwarder.start(memifSocket, vhostSocket, point, options, workDir.path()))
        {
            try (TestPmd generator = startGenerator(memifSocket, vhostSocket, point))
            {
                generator.awaitLinkUp(0, START_TIMEOUT);
                generator.awaitLinkUp(1, START_TIMEOUT);
                generator.command("start tx_first " + BURSTS_IN_FLIGHT);
                sleep(TimeUnit.SECONDS.toMillis(options.warmupSeconds()));
                final List<Long> ours = new ArrayList<>(fwd.pids());
                ours.add(generator.pid());
                ours.add(ProcessHandle.current().pid());
                long lastPackets = received(generator);
                long lastNs = System.nanoTime();
                final double busyStart = CpuAccounting.machineBusySeconds();
                final double oursStart = CpuAccounting.processSeconds(ours);
                final long startNs = lastNs;
                for (int s = 0; s < options.seconds(); s++)
                {
                    sleep(1000);
                    final long packets = received(generator);
                    final long nowNs = System.nanoTime();
                    perSecond.add((packets - lastPackets) * 1e3 / (nowNs - lastNs));
                    lastPackets = packets;
                    lastNs = nowNs;
                }
                final double elapsed = (lastNs - startNs) / 1e9;
                foreign = ((CpuAccounting.machineBusySeconds() - busyStart) -
                    (CpuAccounting.processSeconds(ours) - oursStart)) / elapsed;
                // Only the measurement matters: what the forwarder does once the generator goes is not measured.
                fwd.checkAlive();
                generator.command("stop");
            }
        }
        catch (final RuntimeException e)
        {
            error = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
        }
        final double rttAfter = RegimeProbe.roundTripNs();
        final String before = RegimeProbe.regimeOf(rttBefore);
        final String after = RegimeProbe.regimeOf(rttAfter);
        final String regime = before.equals(after) ? before : "mixed";
        final double mpps = perSecond.isEmpty() ? Double.NaN : median(perSecond);
        final boolean noisy = error != null || !(foreign <= NOISY_FOREIGN_CORES) || regime.equals("mixed");
        return new Run(forwarder, point, rep, mpps, List.copyOf(perSecond), foreign, rttBefore, rttAfter, regime,
            noisy, error);
    }

    /** Data room of testpmd's default mbuf (RTE_MBUF_DEFAULT_DATAROOM). */
    private static final int MBUF_DATA_ROOM = 2048;

    private static TestPmd startGenerator(final Path memifSocket, final Path vhostSocket, final Point point)
    {
        return TestPmd.start(
            List.of("-l", "0-1", "--main-lcore", "0", "--no-huge", "-m", "1024", "--no-pci"),
            List.of("net_memif0,role=client,socket=" + memifSocket + ",socket-abstract=no,id=0",
                "net_virtio_user0,path=" + vhostSocket + ",queues=1,queue_size=" + point.qsize() + ",mrg_rxbuf=" +
                    (point.mrg() ? 1 : 0) + ",in_order=1"),
            List.of("--forward-mode=io", "--nb-cores=1", "--txpkts=" + txSegments(point.size()),
                "--rxd=" + point.qsize(), "--txd=" + point.qsize()),
            START_TIMEOUT);
    }

    /**
     * The generator's {@code --txpkts}: one segment up to a default mbuf's 2048 bytes of data room, else as many
     * 2048-byte segments as the frame needs. A 9000-byte frame then leaves in five mbufs: chained over five memif
     * buffers towards the forwarder, and merged by the forwarder over five of virtio_user's 2 KiB buffers on the way
     * back, which is what mergeable receive buffers are for.
     */
    static String txSegments(final int frameSize)
    {
        final StringBuilder segments = new StringBuilder();
        for (int left = frameSize; left > 0; left -= MBUF_DATA_ROOM)
        {
            segments.append(segments.isEmpty() ? "" : ",").append(Math.min(left, MBUF_DATA_ROOM));
        }
        return segments.toString();
    }

    /** @return frames the generator received on both ports so far. */
    private static long received(final TestPmd generator)
    {
        long packets = 0;
        for (final TestPmd.PortStats stats : generator.allPortStats())
        {
            packets += stats.rxPackets();
        }
        return packets;
    }

    /** @return the per-point comparison: medians over the repetitions of the point's prevailing regime. */
    List<Map<String, Object>> summary()
    {
        final Map<Point, List<Run>> byPoint = new LinkedHashMap<>();
        for (final Run run : runs)
        {
            byPoint.computeIfAbsent(run.point(), p -> new ArrayList<>()).add(run);
        }
        final List<Map<String, Object>> rows = new ArrayList<>();
        for (final Map.Entry<Point, List<Run>> entry : byPoint.entrySet())
        {
            final String regime = prevailingRegime(entry.getValue());
            final Map<String, Object> row = new LinkedHashMap<>();
            row.put("size", entry.getKey().size());
            row.put("mrg", entry.getKey().mrg() ? "on" : "off");
            row.put("qsize", entry.getKey().qsize());
            row.put("regime", regime);
            final Map<String, List<Double>> rates = new LinkedHashMap<>();
            for (final String forwarder : options.forwarders())
            {
                rates.put(forwarder, new ArrayList<>());
            }
            for (final Run run : entry.getValue())
            {
                if (!run.noisy() && run.regime().equals(regime))
                {
                    rates.get(run.forwarder()).add(run.mpps());
                }
            }
            for (final Map.Entry<String, List<Double>> rate : rates.entrySet())
            {
                row.put(rate.getKey() + "_mpps", rate.getValue().isEmpty() ? null : median(rate.getValue()));
            }
            for (final Map.Entry<String, List<Double>> rate : rates.entrySet())
            {
                final List<Double> values = rate.getValue();
                final Map<String, Object> stats = new LinkedHashMap<>();
                stats.put("n", values.size());
                stats.put("min", values.isEmpty() ? null : values.stream().mapToDouble(d -> d).min().orElseThrow());
                stats.put("median", values.isEmpty() ? null : median(values));
                stats.put("max", values.isEmpty() ? null : values.stream().mapToDouble(d -> d).max().orElseThrow());
                row.put(rate.getKey(), stats);
            }
            final Object pagewire = row.get("pagewire_mpps");
            final Object dpdk = row.get("dpdk_mpps");
            row.put("ratio", pagewire instanceof final Double p && dpdk instanceof final Double d && d > 0 ? p / d : null);
            rows.add(row);
        }
        return rows;
    }

    /** @return the regime most clean runs of a point were in (near wins a tie: the regime worth comparing in). */
    private static String prevailingRegime(final List<Run> runs)
    {
        int near = 0;
        int far = 0;
        for (final Run run : runs)
        {
            if (!run.noisy())
            {
                near += run.regime().equals("near") ? 1 : 0;
                far += run.regime().equals("far") ? 1 : 0;
            }
        }
        return near == 0 && far == 0 ? "unknown" : near >= far ? "near" : "far";
    }

    static String describe(final Run run)
    {
        return String.format(Locale.ROOT, "%-8s size %5d mrg %-3s qsize %4d rep %d: %s  (regime %s, rtt %.0f/%.0f ns, " +
                "foreign %.2f cores)%s%s",
            run.forwarder(), run.point().size(), run.point().mrg() ? "on" : "off", run.point().qsize(), run.rep(),
            Double.isNaN(run.mpps()) ? "no rate" : String.format(Locale.ROOT, "%.3f Mpps", run.mpps()),
            run.regime(), run.roundTripBeforeNs(), run.roundTripAfterNs(), run.foreignCores(),
            run.noisy() ? "  NOISY" : "", run.error() == null ? "" : "  error: " + run.error());
    }

    static double median(final List<Double> values)
    {
        final double[] sorted = values.stream().mapToDouble(d -> d).sorted().toArray();
        final int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    /** The forwarder between generator and guest, as a process. */
    interface ForwarderUnderTest extends AutoCloseable
    {
        /** @return its process ids (for CPU accounting). */
        List<Long> pids();

        /** @throws IllegalStateException when it died during the measurement. */
        void checkAlive();

        @Override
        void close();
    }

    /**
     * DPDK testpmd as the forwarder under test, its lcore on CPU 0: between {@code net_memif} (server) and
     * {@code net_vhost} here ({@link #start}), between {@code net_af_packet} and {@code net_vhost} in
     * {@code bench guest}.
     */
    static final class DpdkForwarder implements ForwarderUnderTest
    {
        private final TestPmd testpmd;

        /** @param testpmd a started testpmd, forwarding. */
        DpdkForwarder(final TestPmd testpmd)
        {
            this.testpmd = testpmd;
        }

        static DpdkForwarder start(final Path memifSocket, final Path vhostSocket, final Point point)
        {
            final TestPmd testpmd = TestPmd.start(
                List.of("-l", "0-1", "--main-lcore", "1", "--no-huge", "-m", "1024", "--no-pci"),
                List.of("net_memif0,role=server,socket=" + memifSocket + ",socket-abstract=no,id=0",
                    "net_vhost0,iface=" + vhostSocket + ",queues=1"),
                List.of("--forward-mode=io", "--nb-cores=1", "--rxd=" + point.qsize(), "--txd=" + point.qsize()),
                START_TIMEOUT);
            testpmd.command("start");
            return new DpdkForwarder(testpmd);
        }

        @Override
        public List<Long> pids()
        {
            return List.of(testpmd.pid());
        }

        @Override
        public void checkAlive()
        {
            if (!testpmd.isAlive())
            {
                throw new IllegalStateException("dpdk-testpmd died: " + testpmd.logTail(5));
            }
        }

        @Override
        public void close()
        {
            testpmd.close();
        }
    }
}
