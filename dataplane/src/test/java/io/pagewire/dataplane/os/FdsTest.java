package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoFdLeaks.class)
class FdsTest
{
    @Test
    void memfdHasTheSizeAskedForAndIsCountedWhileOpen() throws Exception
    {
        final int before = Fds.openFdCount();
        final int fd = Fds.memfdCreate("pagewire-test", 3 * 4096 + 5);
        try
        {
            assertEquals(before + 1, Fds.openFdCount());
            assertEquals(3 * 4096 + 5, Fds.size(fd));
            assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString().startsWith("/memfd:pagewire-test"));
        }
        finally
        {
            Fds.close(fd);
        }
        assertEquals(before, Fds.openFdCount());
    }

    @Test
    void closingAClosedFdIsEbadfAndCloseQuietlyNeverThrows()
    {
        final int fd = Fds.memfdCreate("twice", 0);
        Fds.close(fd);
        final OsException e = assertThrows(OsException.class, () -> Fds.close(fd));
        assertEquals(9, e.errno());
        assertEquals("close(" + fd + "): errno 9 (EBADF)", e.getMessage());
        Fds.closeQuietly(fd);
        Fds.closeQuietly(-1);
    }

    @Test
    void sizeOfABadFdIsEbadf()
    {
        final OsException e = assertThrows(OsException.class, () -> Fds.size(-1));
        assertEquals(9, e.errno());
        assertTrue(e.getMessage().startsWith("fstat(-1)"), e.getMessage());
    }

    @Test
    void negativeMemfdSizeIsRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> Fds.memfdCreate("neg", -1));
    }
}
