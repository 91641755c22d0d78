package io.pagewire.perf.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A benchmark's scratch directory under the system's temporary directory (sockets, logs, the forwarders' counters
 * files), removed whole by {@link #close()}.
 */
final class WorkDir implements AutoCloseable
{
    private final Path path;

    private WorkDir(final Path path)
    {
        this.path = path;
    }

    static WorkDir create(final String prefix) throws IOException
    {
        return new WorkDir(Files.createTempDirectory(prefix));
    }

    Path resolve(final String name)
    {
        return path.resolve(name);
    }

    Path path()
    {
        return path;
    }

    /**
     * Deletes the directory and everything in it; a directory already gone is fine. Synchronized: a shutdown hook and
     * the main thread may both close it.
     */
    @Override
    public synchronized void close()
    {
        if (!Files.exists(path))
        {
            return;
        }
        try (Stream<Path> tree = Files.walk(path))
        {
            for (final Path p : tree.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(p);
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot remove " + path + ": " + e.getMessage(), e);
        }
    }
}
