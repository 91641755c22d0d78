package io.pagewire.control.cli;

import io.pagewire.config.ConfigTool;
import io.pagewire.control.nic.PcapGenCommand;
import io.pagewire.control.run.RunCommand;
import io.pagewire.control.stats.StatCommand;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.ServiceLoader;

/**
 * The {@code pagewire} command: dispatches to subcommands. Exit codes: 0 success, 2 bad usage or configuration,
 * 1 a runtime failure. Errors are one clear line each, never a stack trace.
 */
public final class PagewireCli
{
    /** Exit code for success. */
    public static final int EXIT_OK = 0;
    /** Exit code for a failure at run time. */
    public static final int EXIT_FAILURE = 1;
    /** Exit code for bad arguments or configuration. */
    public static final int EXIT_USAGE = 2;

    static final String USAGE = """
        usage: pagewire <command> [options]

        commands:
          run      run the forwarder (on its embedded default without a config)
          stat     show the live counters of running forwarders
          config   print the default config file, or check one
          bench    benchmarks: bench latency (the embedded default's latency profile), bench pvp (side by
                   side with DPDK against real peers), bench guest (external → Linux guest TCP, with DPDK)
          pcap-gen write a synthetic capture to replay with nic.type=pcap

        pagewire <command> --help shows the options of a command.
        """;

    private PagewireCli()
    {
    }

    /**
     * Entry point of the launcher.
     */
    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs one command.
     *
     * @return the process exit code.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (args.length == 0 || "--help".equals(args[0]) || "-h".equals(args[0]) || "help".equals(args[0]))
        {
            (args.length == 0 ? err : out).print(USAGE);
            return args.length == 0 ? EXIT_USAGE : EXIT_OK;
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0])
        {
            case "run" -> RunCommand.run(rest, out, err);
            case "stat" -> StatCommand.run(rest, out, err);
            case "config" -> ConfigTool.run(rest, out, err);
            case "bench" -> outside("bench", rest, out, err);
            case "pcap-gen" -> PcapGenCommand.run(rest, out, err);
            default ->
            {
                err.println("pagewire: unknown command '" + args[0] + "'");
                err.print(USAGE);
                yield EXIT_USAGE;
            }
        };
    }

    /**
     * Runs a command that is not in the product's jar (see {@link Subcommand}), or says where it is.
     */
    private static int outside(final String name, final String[] args, final PrintStream out, final PrintStream err)
    {
        for (final Subcommand command : ServiceLoader.load(Subcommand.class))
        {
            if (command.name().equals(name))
            {
                return command.run(args, out, err);
            }
        }
        err.println("pagewire: '" + name + "' is the benchmark harness (perf/), which is not on the class path: " +
            "run it through ./pagewire, which builds it and adds it");
        return EXIT_FAILURE;
    }
}
