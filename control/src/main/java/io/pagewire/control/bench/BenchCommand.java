package io.pagewire.control.bench;

import java.io.PrintStream;
import java.util.Arrays;

/** {@code pagewire bench <name>}: dispatches to a benchmark of the running forwarder. */
public final class BenchCommand
{
    static final String USAGE = """
        usage: pagewire bench <benchmark> [options]

        benchmarks:
          latency  per-frame latency of the embedded default at several offered loads and rx modes

        pagewire bench <benchmark> --help shows its options.
        """;

    private BenchCommand()
    {
    }

    /**
     * @return the process exit code.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (args.length == 0 || "--help".equals(args[0]) || "-h".equals(args[0]))
        {
            (args.length == 0 ? err : out).print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if ("latency".equals(args[0]))
        {
            return LatencyBench.run(rest, out, err);
        }
        err.println("pagewire bench: unknown benchmark '" + args[0] + "'");
        err.print(USAGE);
        return 2;
    }
}
