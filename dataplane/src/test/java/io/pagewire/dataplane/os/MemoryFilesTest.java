package io.pagewire.dataplane.os;

import io.pagewire.dataplane.memory.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The file checks behind SET_MEM_TABLE's refusal and the dataplane's memory-fault attribution. */
class MemoryFilesTest
{
    @TempDir
    Path temp;

    @Test
    void memfdIsOnTmpfsAndMemoryBacked()
    {
        final int fd = Fds.memfdCreate("files-test", 4096);
        try
        {
            assertEquals(MemoryFiles.TMPFS_MAGIC, MemoryFiles.fileSystemType(fd));
            assertTrue(MemoryFiles.isMemoryBacked(MemoryFiles.fileSystemType(fd)));
            assertEquals("tmpfs (magic 0x1021994)", MemoryFiles.describe(MemoryFiles.TMPFS_MAGIC));
        }
        finally
        {
            Fds.closeQuietly(fd);
        }
    }

    @Test
    void aFileOnADiskFileSystemIsNotMemoryBacked() throws Exception
    {
        final Path file = Files.createFile(temp.resolve("disk"));
        assumeDiskFileSystem(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r"))
        {
            final int fd = newestFdOf(file);
            assertFalse(MemoryFiles.isMemoryBacked(MemoryFiles.fileSystemType(fd)),
                MemoryFiles.describe(MemoryFiles.fileSystemType(fd)));
        }
        assertEquals("fuse (magic 0x65735546)", MemoryFiles.describe(0x65735546L));
        assertEquals("file system magic 0x1234", MemoryFiles.describe(0x1234L));
    }

    @Test
    void aDuplicateTellsWhenThePeerShrankTheFile()
    {
        final int fd = Fds.memfdCreate("files-test", 8192);
        final int copy = MemoryFiles.duplicate(fd);
        final GuestMemory memory = new GuestMemory();
        try (Mapping mapping = Mapping.map(fd, 0, 8192))
        {
            assertNotEquals(fd, copy);
            memory.addRegion(0x1000_0000L, 8192, 0x1000_0000L, mapping.address(), copy, 8192);
            assertTrue(MemoryFiles.backs(copy, 8192));
            assertEquals(-1, memory.lostRegion());

            MemoryFiles.truncate(fd, 4096); // the peer, through its own descriptor

            assertFalse(MemoryFiles.backs(copy, 8192));
            assertTrue(MemoryFiles.backs(copy, 4096));
            assertEquals(0, memory.lostRegion());
        }
        finally
        {
            memory.closeBackingFds();
            Fds.closeQuietly(fd);
        }
        assertThrows(OsException.class, () -> Fds.size(copy), "the table closed its duplicate");
    }

    private static void assumeDiskFileSystem(final Path file) throws Exception
    {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.getFileStore(file).type().equals("tmpfs"),
            "the temporary directory is on tmpfs here");
    }

    private static int newestFdOf(final Path file) throws Exception
    {
        int found = -1;
        try (var entries = Files.list(Path.of("/proc/self/fd")))
        {
            for (final Path entry : entries.toList())
            {
                try
                {
                    if (Files.readSymbolicLink(entry).equals(file.toAbsolutePath()))
                    {
                        found = Math.max(found, Integer.parseInt(entry.getFileName().toString()));
                    }
                }
                catch (final java.io.IOException ignored)
                {
                    // the listing's own descriptor
                }
            }
        }
        assertTrue(found >= 0, "an fd of " + file);
        return found;
    }
}
