package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static org.junit.jupiter.api.Assertions.*;

class OsExceptionTest
{
    @Test
    void messageNamesTheCallTheErrnoAndItsName()
    {
        final OsException e = new OsException("connect(/tmp/x.sock)", 111);
        assertEquals("connect(/tmp/x.sock): errno 111 (ECONNREFUSED)", e.getMessage());
        assertEquals(111, e.errno());
    }

    @Test
    void unknownErrnoHasNoNameAndErrnoZeroOnlyTheWords()
    {
        assertEquals("frob: errno 4000", new OsException("frob", 4000).getMessage());
        assertEquals("recvmsg: control data truncated", new OsException("recvmsg: control data truncated", 0).getMessage());
        assertEquals("bind(/x): errno 98 (EADDRINUSE): not a socket",
            new OsException("bind(/x)", 98, "not a socket").getMessage());
    }

    /** The table is checked against glibc's own names, for every errno glibc knows. */
    @Test
    @SuppressWarnings("restricted")
    void namesAgreeWithGlibcStrerrornameNp() throws Throwable
    {
        final Linker linker = Linker.nativeLinker();
        final MethodHandle strerrorname = linker.downcallHandle(
            linker.defaultLookup().find("strerrorname_np").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        int checked = 0;
        for (int errno = 1; errno < 140; errno++)
        {
            final String ours = OsException.errnoName(errno);
            if (ours == null)
            {
                continue;
            }
            final MemorySegment name = (MemorySegment)strerrorname.invokeExact(errno);
            assertNotEquals(MemorySegment.NULL, name, "glibc has no name for errno " + errno + ", we say " + ours);
            assertEquals(name.reinterpret(64).getString(0), ours, "errno " + errno);
            checked++;
        }
        assertTrue(checked > 60, "checked " + checked);
    }
}
