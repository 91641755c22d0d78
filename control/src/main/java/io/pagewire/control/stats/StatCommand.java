package io.pagewire.control.stats;

import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.CountersFileException;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code pagewire stat} command: prints the counters of running forwarders, read from the counters file each
 * keeps in its {@link RuntimeDirectory} (a {@link CountersFile} mapped read-only), every interval, like Aeron's
 * {@code AeronStat}. It finds forwarders by listing the runtime base, so it sees ones that start while it runs, and
 * says when one stops.
 * <p>
 * Every problem is one line on the error stream after {@value #ERROR_PREFIX}, never a stack trace. Exit status: 0
 * after {@code --count} prints or an interrupt, 1 when no forwarder is running (or none is left, or none could be
 * read), 2 on bad arguments.
 */
public final class StatCommand
{
    /** Exit status after the asked-for prints (the same codes as {@code PagewireCli}). */
    public static final int EXIT_OK = 0;
    /** Exit status when no forwarder is running, none is left, or none could be read. */
    public static final int EXIT_FAILURE = 1;
    /** Exit status on bad arguments. */
    public static final int EXIT_USAGE = 2;

    /** Put before every problem printed on the error stream. */
    public static final String ERROR_PREFIX = "pagewire stat: ";

    /** The usage text printed by {@code --help}. */
    public static final String USAGE = """
        usage: pagewire stat [--dir DIR] [--pid PID] [--interval 1s] [--count N]
               pagewire stat --help

          --dir DIR        the runtime base the forwarders keep their directories in (default: /dev/shm/pagewire,
                           or ${java.io.tmpdir}/pagewire where /dev/shm is not writable)
          --pid PID        show only the forwarder with this process id (default: every running forwarder)
          --interval T     time between prints: 500ms, 2s, 1m; a bare number is seconds (default: 1s)
          --count N        stop after N prints (default: until interrupted)
          --help           print this help

        Prints a timestamped block per forwarder, one counter a line (label: value); histogram buckets that are zero
        are left out. Exit status: 0 after N prints, 1 when no forwarder is running or none is left, 2 on bad
        arguments.
        """;

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT);
    private static final Pattern INTERVAL = Pattern.compile("([0-9]{1,9})(ms|s|m)?");
    private static final int LABEL_WIDTH = 40;
    private static final int VALUE_WIDTH = 20;

    private final Options options;
    private final PrintStream out;
    private final PrintStream err;
    private final Map<Long, Attached> attached = new LinkedHashMap<>();

    private record Attached(CountersFile file, Object fileKey)
    {
    }

    private StatCommand(final Options options, final PrintStream out, final PrintStream err)
    {
        this.options = options;
        this.out = out;
        this.err = err;
    }

    /**
     * Runs the command and exits the JVM with its status.
     *
     * @param args the command-line arguments after {@code stat}.
     */
    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the command.
     *
     * @param args the arguments after {@code pagewire stat}.
     * @param out  where the counters and the usage go.
     * @param err  where problems go, one per line.
     * @return {@link #EXIT_OK}, {@link #EXIT_FAILURE} or {@link #EXIT_USAGE}.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        final Options options;
        try
        {
            options = Options.parse(args);
        }
        catch (final UsageException ex)
        {
            err.println(ERROR_PREFIX + ex.getMessage() + " (see pagewire stat --help)");
            err.flush();
            return EXIT_USAGE;
        }
        if (options.help)
        {
            out.print(USAGE);
            out.flush();
            return EXIT_OK;
        }

        final StatCommand command = new StatCommand(options, out, err);
        try
        {
            return command.loop();
        }
        catch (final RuntimeException ex)
        {
            err.println(ERROR_PREFIX + oneLine(ex));
            return EXIT_FAILURE;
        }
        finally
        {
            command.closeAll();
            out.flush();
            err.flush();
        }
    }

    private int loop()
    {
        boolean shownAny = false;
        for (int printed = 0; ; )
        {
            final List<RuntimeDirectory> running = running(printed > 0);
            if (running.isEmpty())
            {
                return EXIT_FAILURE;
            }
            final String timestamp = LocalDateTime.now().format(TIMESTAMP);
            for (final RuntimeDirectory directory : running)
            {
                shownAny |= print(timestamp, directory);
            }
            out.flush();
            printed++;
            if (printed == options.count)
            {
                if (!shownAny)
                {
                    err.println(ERROR_PREFIX + "no forwarder's counters could be read");
                    return EXIT_FAILURE;
                }
                return EXIT_OK;
            }
            try
            {
                Thread.sleep(options.intervalMs);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return EXIT_OK;
            }
        }
    }

    /**
     * The forwarders to print this round; closes the files of ones that stopped. Empty (with the reason printed)
     * when there is none.
     */
    private List<RuntimeDirectory> running(final boolean printedBefore)
    {
        final List<RuntimeDirectory> running;
        if (options.pid > 0)
        {
            final Optional<RuntimeDirectory> found = RuntimeDirectory.find(options.base, options.pid);
            if (found.isEmpty())
            {
                err.println(ERROR_PREFIX + (printedBefore ?
                    "forwarder pid " + options.pid + " has stopped" :
                    "no forwarder with pid " + options.pid + " in " + options.base));
                running = List.of();
            }
            else if (!found.get().isOwnerRunning())
            {
                err.println(ERROR_PREFIX + "forwarder pid " + options.pid + " is not running (" +
                    (printedBefore ? "it has stopped" : "stale directory " + found.get().path() + " left by a crash") +
                    ")");
                running = List.of();
            }
            else
            {
                running = List.of(found.get());
            }
        }
        else
        {
            running = RuntimeDirectory.live(options.base);
            if (running.isEmpty())
            {
                err.println(ERROR_PREFIX + (printedBefore ? "no forwarder is running any more in " :
                    "no running forwarder in ") + options.base + staleNote());
            }
        }

        for (final Iterator<Map.Entry<Long, Attached>> it = attached.entrySet().iterator(); it.hasNext(); )
        {
            final Map.Entry<Long, Attached> entry = it.next();
            if (running.stream().noneMatch((directory) -> directory.pid() == entry.getKey()))
            {
                entry.getValue().file().close();
                it.remove();
                if (!running.isEmpty())
                {
                    out.println("pagewire pid " + entry.getKey() + " stopped");
                }
            }
        }
        return running;
    }

    private String staleNote()
    {
        final List<RuntimeDirectory> stale = RuntimeDirectory.stale(options.base);
        if (stale.isEmpty())
        {
            return "";
        }
        final List<String> pids = new ArrayList<>();
        for (final RuntimeDirectory directory : stale)
        {
            pids.add(Long.toString(directory.pid()));
        }
        return " (stale directories of stopped forwarders: pid " + String.join(", ", pids) + ")";
    }

    /**
     * Prints one forwarder's block.
     *
     * @return true if its counters were printed, false if its file could not be read.
     */
    private boolean print(final String timestamp, final RuntimeDirectory directory)
    {
        final Path path = directory.countersFile();
        final CountersFile file;
        try
        {
            file = attach(directory);
        }
        catch (final CountersFileException ex)
        {
            out.println(timestamp + " - pagewire pid " + directory.pid() + ", " + directory.path());
            out.println("  counters not readable: " + ex.getMessage());
            out.println();
            return false;
        }

        out.println(timestamp + " - pagewire pid " + file.pid() + ", up " +
            uptime(System.currentTimeMillis() - file.startTimeMs()) + ", " + path);
        final CountersReader reader = file.reader();
        reader.forEach((final int counterId, final int typeId, final DirectBuffer key, final String label) ->
        {
            final long value = reader.getCounterValue(counterId);
            if (0 != value || QueueCounter.RX_BUFFERS_PER_PACKET.id() != typeId)
            {
                out.println(line(label, value));
            }
        });
        out.println();
        return true;
    }

    /**
     * The attached file of a forwarder: attaches on first sight, and again when the forwarder replaced its file
     * (another inode), since the old mapping would never change again.
     */
    private CountersFile attach(final RuntimeDirectory directory)
    {
        final Path path = directory.countersFile();
        final Object fileKey;
        try
        {
            fileKey = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        }
        catch (final NoSuchFileException ex)
        {
            detach(directory.pid());
            throw new CountersFileException("counters file " + path + ": does not exist (yet?)");
        }
        catch (final IOException ex)
        {
            detach(directory.pid());
            throw new CountersFileException("counters file " + path + ": cannot be read: " + ex.getMessage(), ex);
        }

        final Attached current = attached.get(directory.pid());
        if (null != current && null != fileKey && Objects.equals(current.fileKey(), fileKey))
        {
            return current.file();
        }
        detach(directory.pid());
        final CountersFile file = CountersFile.attach(path);
        attached.put(directory.pid(), new Attached(file, fileKey));
        return file;
    }

    private void detach(final long pid)
    {
        final Attached previous = attached.remove(pid);
        if (null != previous)
        {
            previous.file().close();
        }
    }

    private void closeAll()
    {
        for (final Attached each : attached.values())
        {
            each.file().close();
        }
        attached.clear();
    }

    static String line(final String label, final long value)
    {
        return String.format(Locale.ROOT, "  %-" + LABEL_WIDTH + "s %" + VALUE_WIDTH + "d", label + ":", value);
    }

    static String uptime(final long ms)
    {
        final long seconds = Math.max(0, ms) / 1000;
        final long days = seconds / 86_400;
        final String time = String.format(Locale.ROOT, "%02d:%02d:%02d",
            (seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
        return days > 0 ? days + "d " + time : time;
    }

    private static String oneLine(final Throwable ex)
    {
        return (null == ex.getMessage() ? ex.toString() : ex.getMessage()).replace('\n', ' ');
    }

    private static final class UsageException extends Exception
    {
        private static final long serialVersionUID = 1L;

        UsageException(final String message)
        {
            super(message, null, false, false);
        }
    }

    /** The parsed command line. */
    private static final class Options
    {
        private boolean help;
        private Path base;
        private long pid;
        private long intervalMs = 1000;
        private int count;
        private final List<String> given = new ArrayList<>();

        static Options parse(final String[] args) throws UsageException
        {
            final Options options = new Options();
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                if ("--help".equals(arg) || "-h".equals(arg))
                {
                    options.help = true;
                    continue;
                }
                final int equals = arg.indexOf('=');
                final String name = arg.startsWith("--") && equals > 0 ? arg.substring(0, equals) : arg;
                switch (name)
                {
                    case "--dir", "--pid", "--interval", "--count" ->
                    {
                        final String value;
                        if (equals > 0 && arg.startsWith("--"))
                        {
                            value = arg.substring(equals + 1);
                        }
                        else if (i + 1 < args.length)
                        {
                            value = args[++i];
                        }
                        else
                        {
                            throw new UsageException(name + " needs a value");
                        }
                        options.option(name, value);
                    }
                    default -> throw new UsageException("unknown argument '" + arg + "'");
                }
            }
            if (null == options.base && !options.help)
            {
                options.base = RuntimeDirectory.defaultBase();
            }
            return options;
        }

        private void option(final String name, final String value) throws UsageException
        {
            if (given.contains(name))
            {
                throw new UsageException(name + " given twice");
            }
            given.add(name);
            switch (name)
            {
                case "--dir" ->
                {
                    if (value.isEmpty())
                    {
                        throw new UsageException("--dir needs a directory");
                    }
                    try
                    {
                        base = Path.of(value);
                    }
                    catch (final InvalidPathException ex)
                    {
                        throw new UsageException("--dir " + value + ": not a valid path");
                    }
                }
                case "--pid" -> pid = positive(name, value, Long.MAX_VALUE);
                case "--count" -> count = (int)positive(name, value, Integer.MAX_VALUE);
                case "--interval" -> intervalMs = interval(value);
                default -> throw new IllegalStateException(name);
            }
        }

        private static long positive(final String name, final String value, final long max) throws UsageException
        {
            try
            {
                final long parsed = Long.parseLong(value);
                if (parsed >= 1 && parsed <= max)
                {
                    return parsed;
                }
            }
            catch (final NumberFormatException ex)
            {
                // reported below
            }
            throw new UsageException(name + " " + value + ": must be a whole number in 1.." + max);
        }

        private static long interval(final String value) throws UsageException
        {
            final Matcher matcher = INTERVAL.matcher(value);
            if (matcher.matches())
            {
                final long amount = Long.parseLong(matcher.group(1));
                final String unit = null == matcher.group(2) ? "s" : matcher.group(2);
                final long ms = switch (unit)
                {
                    case "ms" -> amount;
                    case "m" -> amount * 60_000;
                    default -> amount * 1000;
                };
                if (ms > 0)
                {
                    return ms;
                }
            }
            throw new UsageException("--interval " + value + ": must be a positive time such as 500ms, 2s or 1m");
        }
    }
}
