package io.pagewire.perf;

import org.openjdk.jmh.Main;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.List;

/**
 * Main class of {@code perf/target/benchmarks.jar}: JMH's own command line, except that every forked JVM gets
 * {@code bin/jvm.options} by absolute path ({@link JvmOptions#locate()}), so the suite runs from any working
 * directory. A {@code -jvmArgsAppend} given on the command line is kept, after the argfile.
 * <p>
 * The JVM running this class must itself be started with the same file:
 * {@code java @bin/jvm.options -jar perf/target/benchmarks.jar [JMH options]}, or use {@code perf/run-jmh.sh}.
 */
public final class PerfMain
{
    private PerfMain()
    {
    }

    /**
     * @param args JMH command-line options ({@code -h} lists them).
     */
    public static void main(final String[] args) throws Exception
    {
        final CommandLineOptions commandLine;
        try
        {
            commandLine = new CommandLineOptions(args);
        }
        catch (final CommandLineOptionException ex)
        {
            System.err.println("Error parsing command line:");
            System.err.println(" " + ex.getMessage());
            System.exit(1);
            return;
        }
        if (commandLine.shouldHelp() || commandLine.shouldList() || commandLine.shouldListWithParams() ||
            commandLine.shouldListProfilers() || commandLine.shouldListResultFormats())
        {
            Main.main(args);
            return;
        }

        final List<String> append = new ArrayList<>();
        append.add("@" + JvmOptions.locate());
        if (commandLine.getJvmArgsAppend().hasValue())
        {
            append.addAll(commandLine.getJvmArgsAppend().get());
        }
        try
        {
            new Runner(new OptionsBuilder().parent(commandLine).jvmArgsAppend(append.toArray(new String[0])).build())
                .run();
        }
        catch (final NoBenchmarksException ex)
        {
            System.err.println("No matching benchmarks. Miss-spelled regexp? Use -l to list them.");
            System.exit(1);
        }
        catch (final RunnerException ex)
        {
            System.err.print("ERROR: ");
            ex.printStackTrace(System.err);
            System.exit(1);
        }
    }
}
