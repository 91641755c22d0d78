package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoFdLeaks.class)
class MappingTest
{
    private static final long PAGE = 4096;

    @Test
    @SuppressWarnings("restricted")
    void twoMappingsOfOneFdShareTheirBytes()
    {
        final int fd = Fds.memfdCreate("shared", 4 * PAGE);
        try (Mapping whole = Mapping.map(fd, 0, 4 * PAGE); Mapping third = Mapping.map(fd, 2 * PAGE, PAGE))
        {
            assertEquals(4 * PAGE, whole.length());
            assertEquals(PAGE, third.length());
            assertEquals(0, whole.address() % PAGE);
            whole.segment().set(ValueLayout.JAVA_LONG, 2 * PAGE + 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, third.segment().get(ValueLayout.JAVA_LONG, 8));
            MemorySegment.ofAddress(third.address()).reinterpret(PAGE).set(ValueLayout.JAVA_INT, 100, 42);
            assertEquals(42, whole.segment().get(ValueLayout.JAVA_INT, 2 * PAGE + 100));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void theMappingOutlivesTheFd()
    {
        final int fd = Fds.memfdCreate("outlive", PAGE);
        final Mapping mapping = Mapping.map(fd, 0, PAGE);
        Fds.close(fd);
        mapping.segment().set(ValueLayout.JAVA_LONG, 0, 7L);
        assertEquals(7L, mapping.segment().get(ValueLayout.JAVA_LONG, 0));
        mapping.close();
    }

    @Test
    void anUnalignedOffsetIsRefusedByName()
    {
        final int fd = Fds.memfdCreate("bad-offset", 2 * PAGE);
        try
        {
            final IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Mapping.map(fd, 100, PAGE));
            assertTrue(e.getMessage().startsWith("offset=100: must be a non-negative multiple of the page size"),
                e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Mapping.map(fd, -PAGE, PAGE));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> Mapping.map(fd, 0, 0))
                .getMessage().startsWith("length=0"));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void aBadFdIsAnOsException()
    {
        final OsException e = assertThrows(OsException.class, () -> Mapping.map(-1, 0, PAGE));
        assertEquals(9, e.errno());
        assertTrue(e.getMessage().startsWith("mmap(fd -1, offset 0, length 4096): errno 9 (EBADF)"), e.getMessage());
    }

    @Test
    void closeIsIdempotent()
    {
        final int fd = Fds.memfdCreate("close-twice", PAGE);
        final Mapping mapping = Mapping.map(fd, 0, PAGE);
        Fds.close(fd);
        mapping.close();
        mapping.close();
        assertTrue(mapping.toString().endsWith("closed]"), mapping.toString());
    }
}
