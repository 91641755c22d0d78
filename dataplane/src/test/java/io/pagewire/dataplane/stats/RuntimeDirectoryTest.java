package io.pagewire.dataplane.stats;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link RuntimeDirectory}: the per-process directory, and telling running forwarders from stale directories with
 * this test's own pid (running) and a pid no process has.
 */
class RuntimeDirectoryTest
{
    private static final long OWN_PID = ProcessHandle.current().pid();

    @TempDir
    Path base;

    /** A pid no process has now: counts down from the kernel's largest pid_max. */
    static long deadPid()
    {
        for (long pid = 4_194_303; pid > 1; pid--)
        {
            if (ProcessHandle.of(pid).isEmpty())
            {
                return pid;
            }
        }
        throw new IllegalStateException("every pid is in use");
    }

    @Test
    void defaultBaseIsUnderShmWhenWritable() throws IOException
    {
        final Path shm = Files.createDirectory(base.resolve("shm"));
        final Path tmp = Files.createDirectory(base.resolve("tmp"));
        assertEquals(shm.resolve("pagewire"), RuntimeDirectory.defaultBase(shm, tmp));
        assertEquals(tmp.resolve("pagewire"), RuntimeDirectory.defaultBase(base.resolve("no-shm"), tmp));
        final Path notADirectory = Files.createFile(base.resolve("file"));
        assertEquals(tmp.resolve("pagewire"), RuntimeDirectory.defaultBase(notADirectory, tmp));
        assertEquals("pagewire", RuntimeDirectory.defaultBase().getFileName().toString());
    }

    @Test
    void createMakesAnOwnerOnlyDirectoryForThisProcess() throws IOException
    {
        final Path nestedBase = base.resolve("a").resolve("pagewire");
        final RuntimeDirectory directory = RuntimeDirectory.create(nestedBase);
        assertEquals(OWN_PID, directory.pid());
        assertEquals(nestedBase.resolve(Long.toString(OWN_PID)), directory.path());
        assertEquals(directory.path().resolve("counters.dat"), directory.countersFile());
        assertEquals(directory.path().resolve("nic.ring"), directory.nicRingFile());
        assertTrue(Files.isDirectory(directory.path()));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(directory.path())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(nestedBase)));
        assertTrue(directory.isOwnerRunning());
    }

    @Test
    void createEmptiesADirectoryLeftByAnEarlierProcessWithTheSamePid() throws IOException
    {
        final Path left = Files.createDirectories(base.resolve(Long.toString(OWN_PID)).resolve("old"));
        Files.writeString(left.resolve("x"), "x");
        final RuntimeDirectory directory = RuntimeDirectory.create(base);
        try (var entries = Files.list(directory.path()))
        {
            assertEquals(0, entries.count());
        }
    }

    @Test
    void liveAndStaleDirectories() throws IOException
    {
        final long deadPid = deadPid();
        final RuntimeDirectory own = RuntimeDirectory.create(base);
        final Path dead = Files.createDirectory(base.resolve(Long.toString(deadPid)));
        Files.writeString(dead.resolve("counters.dat"), "left behind by a crash");
        Files.createDirectory(base.resolve("not-a-pid"));
        Files.writeString(base.resolve("12345"), "a file, not a directory");

        assertEquals(List.of(own), RuntimeDirectory.live(base));
        assertEquals(List.of(RuntimeDirectory.of(base, deadPid)), RuntimeDirectory.stale(base));
        assertFalse(RuntimeDirectory.of(base, deadPid).isOwnerRunning());
        assertTrue(RuntimeDirectory.find(base, deadPid).isPresent());
        assertTrue(RuntimeDirectory.find(base, OWN_PID).isPresent());
        assertTrue(RuntimeDirectory.find(base, 7).isEmpty() || Files.isDirectory(base.resolve("7")));

        assertEquals(List.of(RuntimeDirectory.of(base, deadPid)), RuntimeDirectory.deleteStale(base));
        assertFalse(Files.exists(dead));
        assertTrue(Files.isDirectory(own.path()), "a running forwarder's directory stays");
        assertTrue(Files.isDirectory(base.resolve("not-a-pid")), "what is not a pid directory stays");
        assertEquals(List.of(), RuntimeDirectory.stale(base));
        assertEquals(List.of(own), RuntimeDirectory.live(base));
    }

    @Test
    void deleteRemovesTheDirectoryAndItsFiles() throws IOException
    {
        final RuntimeDirectory directory = RuntimeDirectory.create(base);
        CountersFile.create(directory.countersFile(), 4).close();
        Files.writeString(directory.nicRingFile(), "ring");
        directory.delete();
        assertFalse(Files.exists(directory.path()));
        directory.delete();
        assertEquals(List.of(), RuntimeDirectory.live(base));
    }

    @Test
    void aMissingBaseHasNoForwarders()
    {
        final Path missing = base.resolve("missing");
        assertEquals(List.of(), RuntimeDirectory.live(missing));
        assertEquals(List.of(), RuntimeDirectory.stale(missing));
        assertEquals(List.of(), RuntimeDirectory.deleteStale(missing));
        assertTrue(RuntimeDirectory.find(missing, OWN_PID).isEmpty());
    }

    @Test
    void aBaseThatIsAFileIsAClearError() throws IOException
    {
        final Path file = Files.writeString(base.resolve("pagewire"), "not a directory");
        final var ex = assertThrows(java.io.UncheckedIOException.class, () -> RuntimeDirectory.create(file));
        assertTrue(ex.getMessage().startsWith("cannot create runtime directory " + file.resolve(Long.toString(OWN_PID))),
            ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RuntimeDirectory.of(base, 0));
    }
}
