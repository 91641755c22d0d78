package io.pagewire.perf.bench;

import io.pagewire.config.ConfigException;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.TrafficConfig;
import io.pagewire.control.latency.JvmActivity;
import io.pagewire.control.latency.LatencyMonitor;
import io.pagewire.control.latency.LatencyRecorders;
import io.pagewire.control.latency.LatencySnapshot;
import io.pagewire.control.latency.PercentilePlot;
import io.pagewire.control.run.EmbeddedForwarder;
import io.pagewire.control.run.RunCommand;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * {@code pagewire bench latency}: the embedded default's latency at several offered loads, in each receive mode.
 * For each mode it first measures the maximum rate (the source as fast as possible), then runs each load as a
 * percentage of that maximum at a fixed offered rate, recording each frame's latency from its intended send time to
 * its consumption by the embedded guest. It writes one {@code .hlog} per point, {@code latency.svg} (percentile
 * plot) and {@code latency.md} (a table) into the output directory.
 */
public final class LatencyBench
{
    static final String USAGE = """
        usage: pagewire bench latency [--duration TIME] [--warmup TIME] [--probe TIME] [--loads 10,50,90] [--modes mergeable,big]
                                      [--out DIR] [--set key=value]...

        Measures the embedded default's latency (intended send time -> consumed by the embedded guest) at several
        offered loads, as percentages of the maximum rate measured first for each rx.mode (the source as fast as
        possible). Writes DIR/<mode>-<load>pct.hlog, DIR/latency.svg and DIR/latency.md.

          --duration TIME   measured time per point (default 20s)
          --probe TIME      time the max-rate probe measures per mode, after 1s of warm-up (default 5s)
          --warmup TIME     time per point before measuring starts, not recorded (default 2s)
          --loads LIST      offered loads in percent of the measured maximum (default 10,50,90)
          --modes LIST      rx.mode values (default mergeable,big; big uses rx.buffer_size=4096 chains)
          --out DIR         output directory (default perf/results/latency-<UTC date-time>)
          --set key=value   a config override applied to every point; repeatable
        """;

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

    private record Point(String mode, int loadPercent, int rateMbps, double seconds, long offered, long delivered,
        long nicRingFull, LatencySnapshot latency, Histogram histogram, LatencySnapshot usedRing, long gcCount,
        long gcPauseMs,
        double dataplaneAlloc, double guestAlloc)
    {
    }

    private LatencyBench()
    {
    }

    /**
     * @return the process exit code.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        long durationNs = TimeUnit.SECONDS.toNanos(20);
        long warmupNs = TimeUnit.SECONDS.toNanos(2);
        long probeNs = TimeUnit.SECONDS.toNanos(5);
        List<Integer> loads = List.of(10, 50, 90);
        List<String> modes = List.of("mergeable", "big");
        final List<String> overrides = new ArrayList<>();
        Path outDir = null;
        try
        {
            final BenchArgs options = new BenchArgs(args);
            while (options.next())
            {
                if (options.help())
                {
                    out.print(USAGE);
                    return 0;
                }
                switch (options.option())
                {
                    case "--duration" -> durationNs = options.duration();
                    case "--warmup" -> warmupNs = options.duration();
                    case "--probe" -> probeNs = options.duration();
                    case "--loads" -> loads = options.percentages("load");
                    case "--modes" -> modes = List.of(options.value().split(","));
                    case "--out" -> outDir = Path.of(options.value());
                    case "--set" -> overrides.add(options.value());
                    default -> throw options.unknown();
                }
            }
            for (final String mode : modes)
            {
                config(overrides, mode, 0);
            }
        }
        catch (final IllegalArgumentException e)
        {
            err.println("pagewire bench latency: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }
        catch (final ConfigException e)
        {
            for (final String problem : e.problems())
            {
                err.println("pagewire: config error: " + problem);
            }
            return 2;
        }
        final ZonedDateTime started = ZonedDateTime.now(ZoneOffset.UTC);
        final String loadAtStart = loadAverage();
        if (outDir == null)
        {
            outDir = Path.of("perf", "results",
                "latency-" + started.format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        try
        {
            Files.createDirectories(outDir);
            final List<Point> points = new ArrayList<>();
            for (final String mode : modes)
            {
                final int maxMbps = probeMaxMbps(config(overrides, mode, 0), probeNs);
                out.printf(Locale.ROOT, "%s: max %,d Mb/s (as fast as possible, %.1f s)%n", mode, maxMbps,
                    probeNs / 1e9);
                for (final int load : loads)
                {
                    final int rate = Math.max(1, (int)((long)maxMbps * load / 100));
                    final Point point = measure(config(overrides, mode, rate), mode, load, rate, warmupNs, durationNs,
                        outDir.resolve(mode + "-" + load + "pct.hlog"));
                    points.add(point);
                    out.println(row(point));
                }
            }
            final PercentilePlot plot = new PercentilePlot("pagewire embedded latency (intended send -> guest " +
                "consumed), " + started.format(DateTimeFormatter.ISO_LOCAL_DATE));
            for (final Point point : points)
            {
                plot.add(point.mode() + " " + point.loadPercent() + "% (" + point.rateMbps() + " Mb/s)",
                    COLORS[loads.indexOf(point.loadPercent()) % COLORS.length], modes.indexOf(point.mode()) > 0,
                    point.histogram());
            }
            Files.writeString(outDir.resolve("latency.svg"), plot.svg());
            final String table = table(points, started, durationNs, warmupNs, loadAtStart, loadAverage());
            Files.writeString(outDir.resolve("latency.md"), table);
            out.print(table);
            out.println("wrote " + outDir.toAbsolutePath());
            return 0;
        }
        catch (final IOException | IllegalStateException e)
        {
            err.println("pagewire bench latency: " + e.getMessage());
            return 1;
        }
    }

    static PagewireConfig config(final List<String> overrides, final String mode, final int rateMbps)
    {
        final List<String> all = new ArrayList<>();
        all.add("rx.mode=" + mode);
        if (mode.equals("big"))
        {
            all.add("rx.buffer_size=4096");
        }
        all.addAll(overrides);
        all.add("traffic.rate_mbps=" + rateMbps);
        return PagewireConfig.load(null, all);
    }

    /** @return the wire rate (Mb/s, as traffic.rate_mbps counts it) delivered with the source unpaced. */
    private static int probeMaxMbps(final PagewireConfig config, final long probeNs)
    {
        // Recording on, as at the measured points: the clock reads it costs belong in the maximum the loads are a
        // share of (the probe discards what is recorded).
        try (EmbeddedForwarder forwarder =
            new EmbeddedForwarder(config, RuntimeDirectory.defaultBase(), new LatencyRecorders()))
        {
            forwarder.start();
            runFor(forwarder, TimeUnit.SECONDS.toNanos(1), null);
            final long before = delivered(forwarder);
            final long startNs = System.nanoTime();
            runFor(forwarder, probeNs, null);
            final long packets = delivered(forwarder) - before;
            final double seconds = (System.nanoTime() - startNs) / 1e9;
            forwarder.stop();
            failIfFailed(forwarder);
            final long wireBits = (config.traffic().frameSize() + TrafficConfig.WIRE_OVERHEAD_BYTES) * 8L;
            return (int)Math.min(Integer.MAX_VALUE, packets * wireBits / seconds / 1e6);
        }
    }

    private static long delivered(final EmbeddedForwarder forwarder)
    {
        final QueuePair pair = forwarder.device().attached();
        return pair == null || pair.counters() == null ? 0 : pair.counters().rxPackets().get();
    }

    private static void failIfFailed(final EmbeddedForwarder forwarder)
    {
        if (forwarder.failure() != null)
        {
            throw new IllegalStateException("a thread failed: " + forwarder.failure());
        }
    }

    private static void runFor(final EmbeddedForwarder forwarder, final long ns, final LatencyMonitor monitor)
    {
        final long startNs = System.nanoTime();
        long nextSampleNs = startNs + TimeUnit.SECONDS.toNanos(1);
        long nowNs;
        while ((nowNs = System.nanoTime()) - startNs < ns && forwarder.failure() == null)
        {
            if (monitor != null && nowNs - nextSampleNs >= 0)
            {
                monitor.sample();
                nextSampleNs += TimeUnit.SECONDS.toNanos(1);
            }
            forwarder.poll(RunCommand.pollWaitMs(nowNs, nextSampleNs, startNs + ns));
            if (Thread.currentThread().isInterrupted())
            {
                throw new IllegalStateException("interrupted");
            }
        }
    }

    private static Point measure(
        final PagewireConfig config, final String mode, final int load, final int rate, final long warmupNs,
        final long durationNs, final Path hlog) throws IOException
    {
        final LatencyRecorders recorders = new LatencyRecorders();
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(config, RuntimeDirectory.defaultBase(), recorders))
        {
            forwarder.start();
            runFor(forwarder, warmupNs, null);
            final long offeredBefore = forwarder.peer().source().offered();
            final long droppedBefore = forwarder.peer().source().droppedRingFull();
            final long deliveredBefore = delivered(forwarder);
            final JvmActivity jvm = JvmActivity.start();
            final long startNs = System.nanoTime();
            // What the warm-up recorded (JIT compilation) is dropped; measuring starts now.
            try (LatencyRecorders.Monitors latency = recorders.monitor(hlog))
            {
                runFor(forwarder, durationNs, latency.frames());
                final long offered = forwarder.peer().source().offered() - offeredBefore;
                final long dropped = forwarder.peer().source().droppedRingFull() - droppedBefore;
                final long deliveredCount = delivered(forwarder) - deliveredBefore;
                final double seconds = (System.nanoTime() - startNs) / 1e9;
                forwarder.stop();
                failIfFailed(forwarder);
                latency.sample();
                final Histogram histogram = latency.frames().total().copy();
                return new Point(mode, load, rate, seconds, offered, deliveredCount, dropped,
                    LatencySnapshot.of(histogram), histogram, latency.usedRing().snapshot(), jvm.gcCount(),
                    jvm.gcPauseMs(), forwarder.dataplaneAllocatedBytesPerPacket(),
                    forwarder.peerAllocatedBytesPerPacket());
            }
        }
    }

    private static String row(final Point p)
    {
        final LatencySnapshot l = p.latency();
        return String.format(Locale.ROOT,
            "| %s | %d %% | %,d | %.1f | %.1f | %.2f %% | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f | " +
            "%d / %d ms | %.3f / %.3f |",
            p.mode(), p.loadPercent(), p.rateMbps(), p.offered() / p.seconds() / 1e3, p.delivered() / p.seconds() / 1e3,
            p.offered() == 0 ? 0.0 : 100.0 * p.nicRingFull() / p.offered(), l.p50Ns() / 1e3, l.p90Ns() / 1e3,
            l.p99Ns() / 1e3, l.p999Ns() / 1e3, l.p9999Ns() / 1e3, l.maxNs() / 1e3, p.usedRing().p50Ns() / 1e3,
            p.usedRing().p999Ns() / 1e3, p.gcCount(), p.gcPauseMs(),
            p.dataplaneAlloc(), p.guestAlloc());
    }

    private static String table(
        final List<Point> points, final ZonedDateTime started, final long durationNs, final long warmupNs,
        final String loadAtStart, final String loadAtEnd)
    {
        final StringBuilder table = new StringBuilder();
        table.append(String.format(Locale.ROOT, "Latency from intended send time to consumption by the embedded " +
            "guest, %s UTC, %d CPUs, %s, Java %s; %.1f s measured per point after %.1f s warm-up; load average " +
            "(1/5/15 min) %s at the start, %s at the end.%n%n",
            started.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")),
            Runtime.getRuntime().availableProcessors(), cpuModel(), Runtime.version(),
            durationNs / 1e9, warmupNs / 1e9, loadAtStart, loadAtEnd));
        table.append("| rx.mode | load | offered Mb/s | offered kpps | delivered kpps | nic_ring_full | p50 us | " +
            "p90 us | p99 us | p99.9 us | p99.99 us | max us | to used ring p50 / p99.9 us | GCs / pause | " +
            "alloc B/pkt dataplane / guest |\n");
        table.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (final Point point : points)
        {
            table.append(row(point)).append('\n');
        }
        return table.toString();
    }

    private static String loadAverage()
    {
        try
        {
            final String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return fields[0] + " " + fields[1] + " " + fields[2];
        }
        catch (final IOException | RuntimeException e)
        {
            return "unknown";
        }
    }

    private static String cpuModel()
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
            {
                if (line.startsWith("model name"))
                {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            // Not Linux, or not readable: the model is left out.
        }
        return "unknown CPU";
    }
}
