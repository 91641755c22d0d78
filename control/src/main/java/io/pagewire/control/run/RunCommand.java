package io.pagewire.control.run;

import io.pagewire.config.ConfigException;
import io.pagewire.config.GuestType;
import io.pagewire.config.NicType;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.PortConfig;
import io.pagewire.control.cli.Json;
import io.pagewire.control.latency.JvmActivity;
import io.pagewire.control.latency.LatencyRecorders;
import io.pagewire.control.latency.SchedActivity;
import io.pagewire.control.metrics.MetricsServer;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.stats.RuntimeDirectory;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code pagewire run}: runs the forwarder until the duration ends or Ctrl-C, printing one status line per second
 * and a summary at the end. Exit codes: 0 clean run with nothing corrupt or lost, 1 a failure at run time (or frames
 * corrupted/lost), 2 bad arguments or configuration.
 */
public final class RunCommand
{
    /**
     * Longest wait of the control thread between two looks at the forwarder. On a machine with as many busy threads
     * as cores every wake-up preempts one of them, so the control thread wakes ten times a second, not a hundred.
     */
    private static final int POLL_MAX_MS = 100;

    /**
     * How long the control thread may wait now: until the next per-second tick or the end of the run, whichever is
     * first, and at most {@link #POLL_MAX_MS} for the housekeeping (dataplane events, memif connections).
     *
     * @return milliseconds, at least 1.
     */
    public static int pollWaitMs(final long nowNs, final long nextTickNs, final long endNs)
    {
        final long waitNs = Math.min(Math.min(nextTickNs - nowNs, endNs - nowNs),
            TimeUnit.MILLISECONDS.toNanos(POLL_MAX_MS));
        return (int)Math.max(1, TimeUnit.NANOSECONDS.toMillis(waitNs));
    }

    static final String USAGE = """
        usage: pagewire run [--config FILE] [--set key=value]... [--duration TIME] [--summary FILE.json]
                            [--dir DIR] [--quiet] [--latency] [--latency-log FILE.hlog] [--metrics-port PORT]

        Runs the forwarder. With no config, on its embedded default: a shared-memory NIC fed by an in-process traffic
        source, and an embedded virtio-net guest (posting page-sized mergeable buffers) that verifies every frame and
        echoes it back out through its TX queue.

          --config FILE      TOML config file (pagewire config --print-defaults shows every key)
          --set key=value    override one key after the file; repeatable
          --duration TIME    stop after TIME (e.g. 10s, 500ms, 2m); default: run until Ctrl-C
          --summary FILE     also write the end-of-run summary as JSON (format in the README)
          --dir DIR          where runtime files (counters for pagewire stat) live; default /dev/shm/pagewire
          --quiet            no per-second status lines
          --latency          measure each frame's latency, from its intended send time to its consumption by the
                             embedded guest (HdrHistogram); percentiles in the summary (guest.type=embedded)
          --latency-log FILE also write the latency as an HdrHistogram interval log, one histogram a second
                             (implies --latency)
          --metrics-port N   serve Prometheus metrics (counters, latency) on http://*:N/metrics; 0 = off (default)
        """;

    private static volatile boolean interrupted;

    private RunCommand()
    {
    }

    /**
     * @return the process exit code.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        Path configFile = null;
        final List<String> overrides = new ArrayList<>();
        long durationNs = -1;
        Path summaryFile = null;
        Path runBase = RuntimeDirectory.defaultBase();
        boolean quiet = false;
        boolean latency = false;
        Path latencyLog = null;
        int metricsPort = 0;
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                switch (arg)
                {
                    case "--help", "-h" ->
                    {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--config" -> configFile = Path.of(value(args, ++i, arg));
                    case "--set" -> overrides.add(value(args, ++i, arg));
                    case "--duration" -> durationNs = parseDuration(value(args, ++i, arg));
                    case "--summary" -> summaryFile = Path.of(value(args, ++i, arg));
                    case "--dir" -> runBase = Path.of(value(args, ++i, arg));
                    case "--quiet" -> quiet = true;
                    case "--latency" -> latency = true;
                    case "--latency-log" ->
                    {
                        latencyLog = Path.of(value(args, ++i, arg));
                        latency = true;
                    }
                    case "--metrics-port" -> metricsPort = parsePort(value(args, ++i, arg));
                    default ->
                    {
                        if (arg.startsWith("--set="))
                        {
                            overrides.add(arg.substring("--set=".length()));
                        }
                        else
                        {
                            throw new IllegalArgumentException("unknown option '" + arg + "'");
                        }
                    }
                }
            }
        }
        catch (final IllegalArgumentException e)
        {
            err.println("pagewire run: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }

        final PagewireConfig config;
        try
        {
            config = PagewireConfig.load(configFile, overrides);
        }
        catch (final ConfigException e)
        {
            for (final String problem : e.problems())
            {
                err.println("pagewire: config error: " + problem);
            }
            return 2;
        }
        if (!config.shorthand())
        {
            // Issue 13 lands in steps: the config step reads and validates port tables; running them is the next.
            err.println("pagewire: config error: [port.NAME] tables (" + config.portTables().stream()
                .map(PortConfig::name).collect(Collectors.joining(", ")) + ") are checked by `pagewire config " +
                "--check` but `pagewire run` does not run a multi-port bridge yet (wiring ports into the dataplane " +
                "is the next step of issue 13); run one guest with the guest.* and nic.* keys instead");
            return 2;
        }
        if (latency && (config.guest().type() != GuestType.EMBEDDED || config.nic().type() != NicType.SHM))
        {
            err.println("pagewire: --latency needs guest.type=embedded and nic.type=shm (the embedded traffic " +
                "source stamps the intended send times; a guest in another process cannot report when it consumed " +
                "a frame)");
            return 2;
        }
        return runForwarder(config, durationNs, summaryFile, runBase, quiet,
            new Profiling(latency, latencyLog, metricsPort), out, err);
    }

    /** What to measure and export beyond the traffic counters. */
    private record Profiling(boolean latency, Path latencyLog, int metricsPort)
    {
    }

    static int parsePort(final String text)
    {
        try
        {
            final int port = Integer.parseInt(text.trim());
            if (port >= 0 && port <= 65535)
            {
                return port;
            }
        }
        catch (final NumberFormatException e)
        {
            // Reported below.
        }
        throw new IllegalArgumentException("--metrics-port " + text + ": must be a TCP port in 0..65535 (0 = off)");
    }

    private static int runForwarder(
        final PagewireConfig config,
        final long durationNs,
        final Path summaryFile,
        final Path runBase,
        final boolean quiet,
        final Profiling profiling,
        final PrintStream out,
        final PrintStream err)
    {
        installSignalHandlers();
        final Forwarder forwarder;
        final LatencyRecorders recorders = profiling.latency() ? new LatencyRecorders() : null;
        try
        {
            forwarder = config.guest().type() == GuestType.VHOST_USER ?
                new VhostUserForwarder(config, runBase) : new EmbeddedForwarder(config, runBase, recorders);
        }
        catch (final NicPortException e)
        {
            err.println("pagewire: config error: " + e.getMessage());
            return 2;
        }
        catch (final RuntimeException e)
        {
            err.println("pagewire: cannot set up the forwarder: " + e.getMessage());
            return 1;
        }
        LatencyRecorders.Monitors latency = null;
        MetricsServer metrics = null;
        try (forwarder)
        {
            if (recorders != null)
            {
                latency = recorders.monitor(profiling.latencyLog());
            }
            if (profiling.metricsPort() != 0)
            {
                metrics = MetricsServer.start(profiling.metricsPort(), forwarder.countersFile().reader(),
                    latency == null ? null : latency.frames()::snapshot,
                    latency == null ? null : latency.usedRing()::snapshot);
                if (!quiet)
                {
                    out.println("pagewire: metrics on http://localhost:" + metrics.port() + "/metrics");
                }
            }
            final JvmActivity jvm = JvmActivity.start();
            final SchedActivity sched = SchedActivity.start();
            forwarder.start();
            if (!quiet)
            {
                out.println(forwarder.startMessage());
            }
            final long startNs = System.nanoTime();
            final StatusLine status = new StatusLine(forwarder.countersFile().reader(), forwarder::rxRingSize, startNs);
            long nextStatusNs = startNs + TimeUnit.SECONDS.toNanos(1);
            while (!interrupted && forwarder.failure() == null)
            {
                final long nowNs = System.nanoTime();
                if (durationNs >= 0 && nowNs - startNs >= durationNs)
                {
                    break;
                }
                if (nowNs - nextStatusNs >= 0)
                {
                    if (!quiet)
                    {
                        out.println(status.next(nowNs, (nowNs - startNs) / 1e9, forwarder.nicRingFullDrops()));
                    }
                    nextStatusNs += TimeUnit.SECONDS.toNanos(1);
                    if (latency != null)
                    {
                        latency.sample();
                    }
                }
                forwarder.poll(pollWaitMs(nowNs, nextStatusNs,
                    durationNs >= 0 ? startNs + durationNs : nowNs + TimeUnit.SECONDS.toNanos(1)));
                if (Thread.currentThread().isInterrupted())
                {
                    interrupted = true;
                }
            }
            // While the busy threads still run: an ended thread has no /proc entry.
            final SchedActivity.Snapshot schedSnapshot = sched.snapshot(forwarder.busyThreads());
            forwarder.stop();
            if (forwarder.failure() != null)
            {
                err.println("pagewire: a thread failed: " + forwarder.failure());
                return 1;
            }
            final RunResult result = forwarder.result();
            if (latency != null)
            {
                latency.sample();
            }
            final RunProfile profile = new RunProfile(latency == null ? null : latency.frames().snapshot(),
                latency == null ? null : latency.usedRing().snapshot(), jvm.gcCount(),
                jvm.gcPauseMs(), forwarder instanceof final EmbeddedForwarder embedded ?
                    embedded.peerAllocatedBytesPerPacket() : Double.NaN, schedSnapshot);
            final RunSummary summary = new RunSummary(result, profile);
            out.print(summary.text());
            if (summaryFile != null)
            {
                Files.writeString(summaryFile, Json.write(summary.json()));
            }
            long corrupt = 0;
            for (final io.pagewire.dataplane.guest.TrafficSink sink : result.sinks())
            {
                corrupt += sink.verify().corrupt();
            }
            if (result.rxVerify() != null)
            {
                corrupt += result.rxVerify().corrupt();
            }
            final long lost = result.rxLost();
            // With a guest in another process, frames left in the NIC ring when it leaves are not a failure.
            final boolean mustDrain = result.rxVerify() != null;
            if (corrupt != 0 || lost != 0 || (mustDrain && !result.drained()))
            {
                err.println("pagewire: verification failed: " + corrupt + " corrupt, " + lost + " lost" +
                    (result.drained() ? "" : ", not drained"));
                return 1;
            }
            return 0;
        }
        catch (final IllegalStateException e)
        {
            err.println("pagewire: " + e.getMessage());
            return 1;
        }
        catch (final IOException e)
        {
            err.println("pagewire: cannot write the summary, the latency log or serve metrics: " + e.getMessage());
            return 1;
        }
        finally
        {
            if (metrics != null)
            {
                metrics.close();
            }
            if (latency != null)
            {
                latency.close();
            }
        }
    }

    @SuppressWarnings("restriction")
    private static void installSignalHandlers()
    {
        interrupted = false;
        for (final String name : new String[] {"INT", "TERM"})
        {
            try
            {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> interrupted = true);
            }
            catch (final IllegalArgumentException e)
            {
                // The signal is reserved here (for example under some debuggers): Ctrl-C then ends the JVM directly.
            }
        }
    }

    private static String value(final String[] args, final int index, final String option)
    {
        if (index >= args.length)
        {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[index];
    }

    /**
     * @param text a duration: a number with unit {@code ms}, {@code s}, {@code m} (or {@code us}, {@code ns}).
     * @return nanoseconds.
     * @throws IllegalArgumentException naming {@code --duration} and the text when it is not a positive duration.
     */
    public static long parseDuration(final String text)
    {
        return parseDuration("--duration", text);
    }

    /**
     * @param option the option the duration was given to, named in the message ({@code --warmup}).
     * @param text   a duration: a number with unit {@code ms}, {@code s}, {@code m} (or {@code us}, {@code ns}).
     * @return nanoseconds.
     * @throws IllegalArgumentException {@code --x text: must be a positive duration ...} when it is not one.
     */
    public static long parseDuration(final String option, final String text)
    {
        final String trimmed = text.trim();
        int split = 0;
        while (split < trimmed.length() && (Character.isDigit(trimmed.charAt(split)) || trimmed.charAt(split) == '.'))
        {
            split++;
        }
        try
        {
            final double number = Double.parseDouble(trimmed.substring(0, split));
            final double nanosPerUnit = switch (trimmed.substring(split))
            {
                case "ns" -> 1;
                case "us" -> 1e3;
                case "ms" -> 1e6;
                case "s", "" -> 1e9;
                case "m" -> 60e9;
                default -> -1;
            };
            if (nanosPerUnit > 0 && number > 0)
            {
                return (long)(number * nanosPerUnit);
            }
        }
        catch (final NumberFormatException e)
        {
            // Reported below.
        }
        throw new IllegalArgumentException(option + " " + text + ": must be a positive duration such as 10s, " +
            "500ms or 2m");
    }
}
