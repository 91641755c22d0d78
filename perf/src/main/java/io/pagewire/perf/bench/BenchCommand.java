package io.pagewire.perf.bench;

import io.pagewire.control.cli.Json;
import io.pagewire.interop.TestPmd;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code pagewire bench}: {@code latency} (the embedded default's latency profile, see {@link LatencyBench}) and
 * benchmarks against real peers: {@code pvp}, see {@link PvpBench}; {@code guest} (external → Linux guest TCP), see
 * {@link GuestBench}.
 */
public final class BenchCommand
{
    static final String USAGE = """
        usage: pagewire bench pvp [options]       (pagewire bench pvp --help lists them)
               pagewire bench latency [options]   (pagewire bench latency --help lists them)
               pagewire bench guest [options]     (pagewire bench guest --help lists them)
        """;

    private BenchCommand()
    {
    }

    /**
     * @return the process exit code: 0 done, 1 a repetition failed, 2 bad arguments or no DPDK.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (args.length > 0 && args[0].equals("latency"))
        {
            return LatencyBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out, err);
        }
        if (args.length > 0 && args[0].equals("guest"))
        {
            return guest(java.util.Arrays.copyOfRange(args, 1, args.length), out, err);
        }
        if (args.length == 0 || !args[0].equals("pvp"))
        {
            (args.length == 0 ? err : out).print(USAGE);
            return args.length == 0 || !(args[0].equals("--help") || args[0].equals("-h")) ? 2 : 0;
        }
        if (wantsHelp(args, 1))
        {
            out.print(BenchOptions.USAGE);
            return 0;
        }
        final BenchOptions options;
        try
        {
            options = BenchOptions.parse(java.util.Arrays.copyOfRange(args, 1, args.length));
        }
        catch (final IllegalArgumentException e)
        {
            err.println("pagewire bench pvp: " + e.getMessage());
            return 2;
        }
        final Optional<String> unavailable = TestPmd.unavailableReason();
        if (unavailable.isPresent())
        {
            err.println("pagewire bench pvp: " + unavailable.get());
            return 2;
        }
        try
        {
            final PvpBench bench = new PvpBench(options, out);
            final List<PvpBench.Run> runs = bench.runAll();
            final List<Map<String, Object>> summary = bench.summary();
            out.println();
            out.print(table(summary, options.forwarders()));
            if (options.json() != null)
            {
                final Map<String, Object> json = new LinkedHashMap<>();
                json.put("machine", machine());
                json.put("runs", runsJson(runs));
                json.put("summary", summary);
                Files.writeString(options.json(), Json.write(json));
            }
            return runs.stream().anyMatch(r -> r.error() != null) ? 1 : 0;
        }
        catch (final IOException | RuntimeException e)
        {
            err.println("pagewire bench pvp: " + e.getMessage());
            return 1;
        }
    }

    /** @return whether {@code --help} or {@code -h} stands anywhere from {@code from} on (as bench latency takes it). */
    static boolean wantsHelp(final String[] args, final int from)
    {
        for (int i = from; i < args.length; i++)
        {
            if (args[i].equals("--help") || args[i].equals("-h"))
            {
                return true;
            }
        }
        return false;
    }

    private static int guest(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (wantsHelp(args, 0))
        {
            out.print(GuestBenchOptions.USAGE);
            return 0;
        }
        final GuestBenchOptions options;
        try
        {
            options = GuestBenchOptions.parse(args);
        }
        catch (final IllegalArgumentException e)
        {
            err.println("pagewire bench guest: " + e.getMessage());
            return 2;
        }
        final String unavailable = GuestBench.unavailableReason(options);
        if (unavailable != null)
        {
            err.println("pagewire bench guest: " + unavailable);
            return 2;
        }
        try
        {
            final Map<String, Object> machine = machine();
            machine.put("load_average_start", loadAverage());
            final GuestBench bench = new GuestBench(options, out);
            final List<GuestBench.Run> runs = bench.runAll();
            final List<Map<String, Object>> summary = bench.summary();
            machine.put("load_average_end", loadAverage());
            out.println();
            out.print(GuestBench.table(summary, options.backends()));
            out.println("load average at start: " + machine.get("load_average_start") + ", at the end: " +
                machine.get("load_average_end"));
            if (options.json() != null)
            {
                final Map<String, Object> json = new LinkedHashMap<>();
                json.put("machine", machine);
                json.put("runs", GuestBench.runsJson(runs));
                json.put("summary", summary);
                Files.writeString(options.json(), Json.write(json));
            }
            return runs.stream().anyMatch(r -> r.error() != null) ? 1 : 0;
        }
        catch (final IOException | RuntimeException e)
        {
            err.println("pagewire bench guest: " + e.getMessage());
            return 1;
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            err.println("pagewire bench guest: interrupted");
            return 1;
        }
    }

    /** @return the first three fields of /proc/loadavg, or "?". */
    private static String loadAverage()
    {
        try
        {
            final String[] f = Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        }
        catch (final IOException | RuntimeException e)
        {
            return "?";
        }
    }

    private static Map<String, Object> machine()
    {
        final Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cpus", Runtime.getRuntime().availableProcessors());
        machine.put("dpdk", TestPmd.version());
        machine.put("java", Runtime.version().toString());
        machine.put("date", java.time.Instant.now().toString());
        return machine;
    }

    private static List<Object> runsJson(final List<PvpBench.Run> runs)
    {
        final List<Object> list = new ArrayList<>();
        for (final PvpBench.Run run : runs)
        {
            final Map<String, Object> r = new LinkedHashMap<>();
            r.put("forwarder", run.forwarder());
            r.put("size", run.point().size());
            r.put("mrg", run.point().mrg() ? "on" : "off");
            r.put("qsize", run.point().qsize());
            r.put("rep", run.rep());
            r.put("mpps", Double.isNaN(run.mpps()) ? null : run.mpps());
            r.put("per_second_mpps", run.perSecondMpps());
            r.put("foreign_cpu_cores", Double.isNaN(run.foreignCores()) ? null : run.foreignCores());
            r.put("rtt_before_ns", Double.isNaN(run.roundTripBeforeNs()) ? null : run.roundTripBeforeNs());
            r.put("rtt_after_ns", Double.isNaN(run.roundTripAfterNs()) ? null : run.roundTripAfterNs());
            r.put("regime", run.regime());
            r.put("noisy", run.noisy());
            r.put("error", run.error());
            list.add(r);
        }
        return list;
    }

    static String table(final List<Map<String, Object>> summary, final List<String> forwarders)
    {
        final StringBuilder text = new StringBuilder();
        text.append(String.format(Locale.ROOT, "%5s %4s %5s %-7s", "size", "mrg", "qsize", "regime"));
        for (final String forwarder : forwarders)
        {
            text.append(String.format(Locale.ROOT, " %26s", forwarder + " Mpps min/med/max (n)"));
        }
        text.append(forwarders.size() == 2 ? "  ratio pagewire/dpdk\n" : "\n");
        for (final Map<String, Object> row : summary)
        {
            text.append(String.format(Locale.ROOT, "%5d %4s %5d %-7s", (int)row.get("size"), row.get("mrg"),
                (int)row.get("qsize"), row.get("regime")));
            for (final String forwarder : forwarders)
            {
                @SuppressWarnings("unchecked")
                final Map<String, Object> stats = (Map<String, Object>)row.get(forwarder);
                text.append(stats.get("median") == null ? String.format(Locale.ROOT, " %26s", "-") :
                    String.format(Locale.ROOT, " %7.2f/%6.2f/%6.2f (%d)", (double)stats.get("min"),
                        (double)stats.get("median"), (double)stats.get("max"), (int)stats.get("n")));
            }
            final Object ratio = row.get("ratio");
            text.append(forwarders.size() == 2 ?
                (ratio == null ? "  -" : String.format(Locale.ROOT, "  %.2f", (double)ratio)) : "").append('\n');
        }
        return text.toString();
    }
}
