package io.pagewire.perf;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the JVM flags every pagewire JVM needs are kept: {@code bin/jvm.options}, a java {@code @argfile} shared by
 * the launcher, surefire forks and JMH forks, so the flags live in one place.
 * <p>
 * Every benchmark carries {@code @Fork(jvmArgsAppend = JvmOptions.ARGFILE)}. An annotation value must be a
 * compile-time constant, so that argfile is relative: the java launcher of a forked JVM resolves it against the
 * working directory it inherits, which works when JMH is started from the repository root (an IDE, or
 * {@code org.openjdk.jmh.Main} run by hand). {@link PerfMain}, the main class of {@code benchmarks.jar}, makes it work
 * from anywhere: it resolves the file with {@link #locate()} and hands the forks the absolute path instead.
 */
public final class JvmOptions
{
    /** The options file, relative to the repository root. */
    public static final String RELATIVE_PATH = "bin/jvm.options";
    /** The argfile for {@code @Fork(jvmArgsAppend = ...)}: {@value}, relative to the forked JVM's working directory. */
    public static final String ARGFILE = "@" + RELATIVE_PATH;
    /** System property a launcher sets to the options file's path ({@code perf/run-jmh.sh} does). */
    public static final String PROPERTY = "pagewire.jvmOptions";

    private static final int MAX_LEVELS_UP = 5;

    private JvmOptions()
    {
    }

    /**
     * Finds {@code bin/jvm.options}: the file named by {@value #PROPERTY} if set, else {@code bin/jvm.options} under
     * the working directory, else under the nearest ancestor of the directory holding this class (for
     * {@code perf/target/benchmarks.jar} that is the repository root).
     *
     * @return the absolute path of the file.
     * @throws IllegalStateException naming the places looked at when none holds the file.
     */
    public static Path locate()
    {
        final String property = System.getProperty(PROPERTY);
        if (property != null)
        {
            final Path path = Path.of(property).toAbsolutePath().normalize();
            if (!Files.isRegularFile(path))
            {
                throw new IllegalStateException("-D" + PROPERTY + "=" + property + ": no such file");
            }
            return path;
        }
        final Path fromWorkingDirectory = Path.of(RELATIVE_PATH).toAbsolutePath().normalize();
        if (Files.isRegularFile(fromWorkingDirectory))
        {
            return fromWorkingDirectory;
        }
        final Path codeLocation = codeLocation();
        Path directory = codeLocation;
        for (int i = 0; directory != null && i < MAX_LEVELS_UP; i++, directory = directory.getParent())
        {
            final Path candidate = directory.resolve(RELATIVE_PATH);
            if (Files.isRegularFile(candidate))
            {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find " + RELATIVE_PATH + " under the working directory (" +
            fromWorkingDirectory.getParent().getParent() + ") nor above " + codeLocation + "; pass -D" + PROPERTY +
            "=/path/to/pagewire/" + RELATIVE_PATH);
    }

    private static Path codeLocation()
    {
        try
        {
            final Path path = Path.of(JvmOptions.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.isDirectory(path) ? path : path.getParent();
        }
        catch (final URISyntaxException | SecurityException | NullPointerException ex)
        {
            return null;
        }
    }
}
