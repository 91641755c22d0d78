package io.pagewire.dataplane.stats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where a running forwarder keeps the files other processes open: {@code <base>/<pid>/}, holding
 * {@value #COUNTERS_FILE} (its {@link CountersFile}) and later {@value #NIC_RING_FILE}. One directory per process, so
 * several forwarders on a host never share a file, and a tool finds them all by listing the base.
 * <p>
 * The default base is {@code /dev/shm/pagewire} where {@code /dev/shm} exists and is writable (memory, never written
 * back to a disk), else {@code ${java.io.tmpdir}/pagewire}. Directories are created {@code rwx------} and the files
 * in them {@code rw-------}: only the forwarder's user (and root) can read its counters.
 * <p>
 * The owner {@link #create creates} its directory at start and {@link #delete deletes} it on a clean shutdown. A
 * directory whose process is gone is stale (the forwarder crashed or was killed): {@link #live} skips it,
 * {@link #stale} lists it, {@link #deleteStale} removes it.
 */
public final class RuntimeDirectory
{
    /** Name of the base directory under {@code /dev/shm} or the temporary directory. */
    public static final String BASE_NAME = "pagewire";
    /** Name of the counters file in a forwarder's directory. */
    public static final String COUNTERS_FILE = "counters.dat";
    /** Name of the embedded shared-memory NIC ring file in a forwarder's directory. */
    public static final String NIC_RING_FILE = "nic.ring";

    private static final Path SHM = Path.of("/dev/shm");

    private final Path base;
    private final long pid;
    private final Path path;

    private RuntimeDirectory(final Path base, final long pid)
    {
        this.base = base;
        this.pid = pid;
        this.path = base.resolve(Long.toString(pid));
    }

    /**
     * @return {@code /dev/shm/pagewire} if {@code /dev/shm} is a writable directory, else
     * {@code ${java.io.tmpdir}/pagewire}.
     */
    public static Path defaultBase()
    {
        return defaultBase(SHM, Path.of(System.getProperty("java.io.tmpdir")));
    }

    /**
     * @param shm    the shared-memory file system's mount point.
     * @param tmpDir the fallback.
     * @return {@code shm/pagewire} if {@code shm} is a writable directory, else {@code tmpDir/pagewire}.
     */
    static Path defaultBase(final Path shm, final Path tmpDir)
    {
        return (Files.isDirectory(shm) && Files.isWritable(shm) ? shm : tmpDir).resolve(BASE_NAME);
    }

    /**
     * A handle on the directory of process {@code pid} under {@code base}; touches nothing on disk.
     *
     * @param base the base directory.
     * @param pid  a process id, > 0.
     * @return the handle.
     */
    public static RuntimeDirectory of(final Path base, final long pid)
    {
        if (pid <= 0)
        {
            throw new IllegalArgumentException("pid=" + pid + ": must be > 0");
        }
        return new RuntimeDirectory(base, pid);
    }

    /**
     * Creates this process's directory under {@code base}, creating {@code base} too if needed. A directory already
     * there for this pid was left by an earlier process that had the same pid (this one is the only process with it
     * now), so it is emptied and reused.
     *
     * @param base the base directory, e.g. {@link #defaultBase()}.
     * @return the created directory.
     * @throws UncheckedIOException if {@code base} or the directory cannot be created or written.
     */
    public static RuntimeDirectory create(final Path base)
    {
        final RuntimeDirectory directory = new RuntimeDirectory(base, ProcessHandle.current().pid());
        try
        {
            if (!Files.isDirectory(base))
            {
                try
                {
                    Files.createDirectories(base, ownerOnlyDirectory(base));
                }
                catch (final FileAlreadyExistsException ex)
                {
                    // Another forwarder created it between the check and here: fine, if it is a directory.
                    if (!Files.isDirectory(base))
                    {
                        throw ex;
                    }
                }
            }
            if (!Files.isWritable(base))
            {
                throw new IOException("not writable by this user (give another base directory)");
            }
            deleteRecursively(directory.path);
            Files.createDirectory(directory.path, ownerOnlyDirectory(base));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(
                "cannot create runtime directory " + directory.path + ": " + describe(ex), ex);
        }
        return directory;
    }

    /**
     * @param base the base directory.
     * @return the directories under {@code base} whose process is running, by pid; empty if {@code base} does not
     * exist.
     */
    public static List<RuntimeDirectory> live(final Path base)
    {
        return list(base, true);
    }

    /**
     * @param base the base directory.
     * @return the directories under {@code base} whose process is gone (crashed or killed forwarders), by pid.
     */
    public static List<RuntimeDirectory> stale(final Path base)
    {
        return list(base, false);
    }

    /**
     * Deletes the directories of forwarders that are gone. Tries every one before reporting a failure.
     *
     * @param base the base directory.
     * @return the directories deleted.
     * @throws UncheckedIOException naming the ones that could not be deleted.
     */
    public static List<RuntimeDirectory> deleteStale(final Path base)
    {
        final List<RuntimeDirectory> deleted = new ArrayList<>();
        final List<String> failures = new ArrayList<>();
        IOException firstFailure = null;
        for (final RuntimeDirectory directory : stale(base))
        {
            try
            {
                deleteRecursively(directory.path);
                deleted.add(directory);
            }
            catch (final IOException ex)
            {
                failures.add(directory.path + " (" + describe(ex) + ")");
                firstFailure = null == firstFailure ? ex : firstFailure;
            }
        }
        if (null != firstFailure)
        {
            throw new UncheckedIOException("cannot delete stale runtime directories: " + failures, firstFailure);
        }
        return deleted;
    }

    /**
     * @param base the base directory.
     * @param pid  a process id.
     * @return the directory of {@code pid} under {@code base} if it exists, running or not.
     */
    public static Optional<RuntimeDirectory> find(final Path base, final long pid)
    {
        if (pid <= 0)
        {
            return Optional.empty();
        }
        final RuntimeDirectory directory = new RuntimeDirectory(base, pid);
        return Files.isDirectory(directory.path) ? Optional.of(directory) : Optional.empty();
    }

    /**
     * @return the base directory this one is in.
     */
    public Path base()
    {
        return base;
    }

    /**
     * @return the process id of the forwarder that owns the directory.
     */
    public long pid()
    {
        return pid;
    }

    /**
     * @return the directory, {@code <base>/<pid>}.
     */
    public Path path()
    {
        return path;
    }

    /**
     * @return the path of the counters file in it.
     */
    public Path countersFile()
    {
        return path.resolve(COUNTERS_FILE);
    }

    /**
     * @return the path of the NIC ring file in it.
     */
    public Path nicRingFile()
    {
        return path.resolve(NIC_RING_FILE);
    }

    /**
     * @return true while a process with this directory's pid runs. A pid can be reused after a crash, so a true
     * here on a directory the forwarder never cleaned up is possible, though rare; {@link CountersFile#pid()} and
     * {@link CountersFile#startTimeMs()} tell more.
     */
    public boolean isOwnerRunning()
    {
        return ProcessHandle.of(pid).isPresent();
    }

    /**
     * Deletes the directory and everything in it; nothing if it is already gone. The owner calls this on a clean
     * shutdown, after closing the files in it (readers still mapping them keep their pages).
     *
     * @throws UncheckedIOException if something in it cannot be deleted.
     */
    public void delete()
    {
        try
        {
            deleteRecursively(path);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot delete runtime directory " + path + ": " + describe(ex), ex);
        }
    }

    @Override
    public boolean equals(final Object other)
    {
        return other instanceof RuntimeDirectory that && that.pid == pid && that.base.equals(base);
    }

    @Override
    public int hashCode()
    {
        return Long.hashCode(pid) * 31 + base.hashCode();
    }

    @Override
    public String toString()
    {
        return path.toString();
    }

    private static List<RuntimeDirectory> list(final Path base, final boolean running)
    {
        final List<RuntimeDirectory> directories = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(base, Files::isDirectory))
        {
            for (final Path entry : entries)
            {
                final long pid = parsePid(entry.getFileName().toString());
                if (pid > 0)
                {
                    final RuntimeDirectory directory = new RuntimeDirectory(base, pid);
                    if (directory.isOwnerRunning() == running)
                    {
                        directories.add(directory);
                    }
                }
            }
        }
        catch (final NoSuchFileException ex)
        {
            return directories;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list runtime directories in " + base + ": " + describe(ex), ex);
        }
        directories.sort(Comparator.comparingLong(RuntimeDirectory::pid));
        return directories;
    }

    private static long parsePid(final String name)
    {
        if (name.isEmpty() || name.length() > 18)
        {
            return -1;
        }
        for (int i = 0; i < name.length(); i++)
        {
            if (name.charAt(i) < '0' || name.charAt(i) > '9')
            {
                return -1;
            }
        }
        return Long.parseLong(name);
    }

    private static void deleteRecursively(final Path path) throws IOException
    {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        final List<Path> paths;
        try (Stream<Path> walk = Files.walk(path))
        {
            paths = walk.sorted(Comparator.reverseOrder()).toList();
        }
        for (final Path each : paths)
        {
            Files.deleteIfExists(each);
        }
    }

    private static FileAttribute<?>[] ownerOnlyDirectory(final Path path)
    {
        if (path.getFileSystem().supportedFileAttributeViews().contains("posix"))
        {
            return new FileAttribute<?>[]{ PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                "rwx------")) };
        }
        return new FileAttribute<?>[0];
    }

    private static String describe(final IOException ex)
    {
        if (ex instanceof AccessDeniedException denied)
        {
            return "permission denied: " + denied.getFile();
        }
        if (ex instanceof NoSuchFileException missing)
        {
            return "does not exist: " + missing.getFile();
        }
        if (ex instanceof FileAlreadyExistsException exists)
        {
            return "exists and is not a directory: " + exists.getFile();
        }
        return String.valueOf(ex.getMessage());
    }
}
