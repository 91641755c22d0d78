package io.pagewire.dataplane.memory;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.MemoryFiles;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * How this JVM reports a fault in memory a peer shrank, for every kind of access the dataplane makes to guest
 * memory: each must end in an {@link InternalError} that {@link DataplaneAgent#isMemoryFault(Throwable)} recognises,
 * thrown on the faulting thread (possibly a little after the access: HotSpot delivers it at the next safepoint poll),
 * and never crash the JVM. A JDK that changes this breaks the fault handling the dataplane relies on: this test says
 * so first. (Not tested because it crashes JDK 25 when interpreted: {@code Unsafe.compareAndSetLong} on such memory;
 * the dataplane makes no compare-and-set on peer memory.)
 */
class MemoryFaultReportTest
{
    private static final long SIZE = 1 << 16;

    private int memfd;
    private Mapping mapping;
    private long scratch;
    private long sink;

    @BeforeEach
    void setUp()
    {
        memfd = Fds.memfdCreate("fault-probe", SIZE);
        mapping = Mapping.map(memfd, 0, SIZE);
        scratch = UnsafeApi.allocateMemory(SIZE);
    }

    @AfterEach
    void tearDown()
    {
        mapping.close();
        Fds.closeQuietly(memfd);
        UnsafeApi.freeMemory(scratch);
    }

    @Test
    void everyKindOfGuestMemoryAccessReportsAFaultAsARecognisedInternalError()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(0, 0);
        final Map<String, LongConsumer> accesses = new LinkedHashMap<>();
        accesses.put("UnsafeBuffer.getLong", address -> sink += view(buffer, address).getLong(0));
        accesses.put("UnsafeBuffer.putLong", address -> view(buffer, address).putLong(0, 1));
        accesses.put("UnsafeBuffer.getShortVolatile", address -> sink += view(buffer, address).getShortVolatile(0));
        accesses.put("UnsafeBuffer.putShortVolatile", address -> view(buffer, address).putShortVolatile(0, (short)1));
        accesses.put("UnsafeBuffer.putIntOrdered", address -> view(buffer, address).putIntOrdered(0, 1));
        accesses.put("UnsafeBuffer.getIntVolatile", address -> sink += view(buffer, address).getIntVolatile(0));
        accesses.put("MemoryCopy.copy small to guest", address -> MemoryCopy.copy(scratch, address, 60));
        accesses.put("MemoryCopy.copy large to guest", address -> MemoryCopy.copy(scratch, address, 4096));
        accesses.put("MemoryCopy.copy large from guest", address -> MemoryCopy.copy(address, scratch, 4096));
        accesses.put("MemoryCopy.fill", address -> MemoryCopy.fill(address, 4096, (byte)1));
        accesses.put("MemorySegment.get", address -> sink +=
            MemorySegment.ofAddress(address).reinterpret(8).get(ValueLayout.JAVA_LONG, 0));
        for (final Map.Entry<String, LongConsumer> access : accesses.entrySet())
        {
            MemoryFiles.truncate(memfd, SIZE);
            // Warm the access up on good memory so that compiled code is tested too, not only the interpreter.
            for (int i = 0; i < 20_000; i++)
            {
                access.getValue().accept(mapping.address() + (i & 7) * 4096);
            }
            MemoryFiles.truncate(memfd, 0);
            final Throwable reported = faultOf(access.getValue(), mapping.address() + 8192);
            assertNotNull(reported, access.getKey() + ": no error reported for an access to shrunk memory");
            assertTrue(DataplaneAgent.isMemoryFault(reported), access.getKey() + ": " + reported);
        }
    }

    private static UnsafeBuffer view(final UnsafeBuffer buffer, final long address)
    {
        buffer.wrap(address, 4096);
        return buffer;
    }

    /** Runs the access, then enough more code (calls, loop back edges) for an asynchronous error to be delivered. */
    private Throwable faultOf(final LongConsumer access, final long address)
    {
        try
        {
            access.accept(address);
            for (int i = 0; i < 1000; i++)
            {
                sink += Long.hashCode(System.nanoTime() + i);
            }
            Thread.yield();
            return null;
        }
        catch (final Throwable t)
        {
            return t;
        }
    }
}
