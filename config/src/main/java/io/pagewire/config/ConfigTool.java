package io.pagewire.config;

import java.io.PrintStream;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code pagewire config} command: prints the default config file, or validates a config file with overrides and
 * prints the effective configuration.
 * <p>
 * Every configuration or argument problem is printed on the error stream, one per line, after
 * {@value #ERROR_PREFIX}, and the command exits with {@value #EXIT_ERROR}; it never prints a stack trace for them.
 */
public final class ConfigTool
{
    /** Exit status when the command did what was asked. */
    public static final int EXIT_OK = 0;

    /** Exit status on any configuration or argument error. */
    public static final int EXIT_ERROR = 2;

    /** Put before every problem printed on the error stream. */
    public static final String ERROR_PREFIX = "pagewire: config error: ";

    /** The usage text printed by {@code --help}. */
    public static final String USAGE = """
        usage: pagewire config --print-defaults
               pagewire config --check FILE [--set KEY=VALUE]...
               pagewire config --help

          --print-defaults   print the default config file: every key with its default, description and rule
          --check FILE       validate FILE with the overrides applied after it, then print the effective config
          --set KEY=VALUE    override one key, the value typed by the key (repeatable); port keys are
                             port.NAME.KEY=VALUE
          --help             print this help

        Exit status: 0 when the config is valid, 2 on any config or argument error (listed on stderr).
        """;

    private ConfigTool()
    {
    }

    /**
     * Runs the command and exits the JVM with its status.
     *
     * @param args the command-line arguments.
     */
    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the command.
     *
     * @param args the arguments after {@code pagewire config}.
     * @param out  where the default file, the effective config and the usage go.
     * @param err  where problems go, one per line.
     * @return {@link #EXIT_OK} or {@link #EXIT_ERROR}.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        try
        {
            final Arguments arguments = Arguments.parse(args);
            if (arguments.help)
            {
                out.print(USAGE);
            }
            else if (arguments.printDefaults)
            {
                out.print(PagewireConfig.defaultFileText());
            }
            else
            {
                final PagewireConfig config = PagewireConfig.load(arguments.checkFile, arguments.overrides);
                out.print(effectiveHeader(arguments));
                out.print(config.toToml());
            }
            out.flush();
            return EXIT_OK;
        }
        catch (final ConfigException ex)
        {
            for (final String problem : ex.problems())
            {
                err.println(ERROR_PREFIX + problem);
            }
            err.flush();
            return EXIT_ERROR;
        }
    }

    private static String effectiveHeader(final Arguments arguments)
    {
        final StringBuilder header = new StringBuilder("# effective pagewire config: ").append(arguments.checkFile);
        for (final String override : arguments.overrides)
        {
            header.append(" --set ").append(override.replace('\n', ' '));
        }
        return header.append("\n\n").toString();
    }

    private static final class Arguments
    {
        private boolean help;
        private boolean printDefaults;
        private Path checkFile;
        private final List<String> overrides = new ArrayList<>();

        static Arguments parse(final String[] args)
        {
            final Arguments arguments = new Arguments();
            final List<String> problems = new ArrayList<>();
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                switch (arg)
                {
                    case "--help", "-h" -> arguments.help = true;
                    case "--print-defaults" -> arguments.printDefaults = true;
                    case "--check", "--set" ->
                    {
                        if (i + 1 == args.length)
                        {
                            problems.add(arg + " needs " + ("--check".equals(arg) ? "a FILE" : "a KEY=VALUE"));
                        }
                        else
                        {
                            arguments.option(arg, args[++i], problems);
                        }
                    }
                    default ->
                    {
                        final int equals = arg.indexOf('=');
                        final String name = equals < 0 ? arg : arg.substring(0, equals);
                        if (equals > 0 && (name.equals("--check") || name.equals("--set")))
                        {
                            arguments.option(name, arg.substring(equals + 1), problems);
                        }
                        else
                        {
                            problems.add("unknown argument " + arg + " (see --help)");
                        }
                    }
                }
            }
            if (arguments.help)
            {
                return arguments;
            }
            if (arguments.printDefaults && (arguments.checkFile != null || !arguments.overrides.isEmpty()))
            {
                problems.add("--print-defaults takes no other option");
            }
            else if (!arguments.printDefaults && arguments.checkFile == null && problems.isEmpty())
            {
                problems.add(arguments.overrides.isEmpty() ?
                    "nothing to do: give --print-defaults, --check FILE or --help" : "--set needs --check FILE");
            }
            if (!problems.isEmpty())
            {
                throw new ConfigException(problems);
            }
            return arguments;
        }

        private void option(final String name, final String value, final List<String> problems)
        {
            if (name.equals("--set"))
            {
                overrides.add(value);
            }
            else if (checkFile != null)
            {
                problems.add("--check given twice");
            }
            else
            {
                try
                {
                    checkFile = Path.of(value);
                }
                catch (final InvalidPathException ex)
                {
                    problems.add("--check " + value + ": not a valid path");
                }
            }
        }
    }
}
