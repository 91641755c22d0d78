package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Pins the calling thread to one CPU with Linux's {@code sched_setaffinity(0, ...)} through {@code java.lang.foreign}
 * (no JNI), errno captured by the linker. Called once by the dataplane thread at start, never on the data path.
 */
public final class Affinity
{
    private static final int CPU_SET_BYTES = 128;
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
        CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SCHED_SETAFFINITY;

    static
    {
        final Linker linker = Linker.nativeLinker();
        SCHED_SETAFFINITY = linker.defaultLookup().find("sched_setaffinity").map(address -> linker.downcallHandle(
            address,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
            Linker.Option.captureCallState("errno"))).orElse(null);
    }

    private Affinity()
    {
    }

    /**
     * Pins the calling thread.
     *
     * @param cpu the CPU number, 0..1023.
     * @throws IllegalStateException naming the CPU and the errno when the kernel refuses (no such CPU, not allowed
     *                               by the process's cpuset) or the platform has no sched_setaffinity.
     */
    public static void pinCurrentThread(final int cpu)
    {
        if (cpu < 0 || cpu >= CPU_SET_BYTES * 8)
        {
            throw new IllegalArgumentException("cpu=" + cpu + ": must be in 0.." + (CPU_SET_BYTES * 8 - 1));
        }
        if (SCHED_SETAFFINITY == null)
        {
            throw new IllegalStateException("cannot pin to cpu " + cpu + ": sched_setaffinity is not available");
        }
        final int result;
        final int errno;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = arena.allocate(CALL_STATE);
            final MemorySegment mask = arena.allocate(CPU_SET_BYTES, 8);
            mask.set(ValueLayout.JAVA_BYTE, cpu / 8, (byte)(1 << (cpu % 8)));
            result = (int)SCHED_SETAFFINITY.invokeExact(state, 0, (long)CPU_SET_BYTES, mask);
            errno = (int)ERRNO.get(state, 0L);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("cannot pin to cpu " + cpu + ": " + t, t);
        }
        if (result != 0)
        {
            throw new IllegalStateException("cannot pin to cpu " + cpu + ": sched_setaffinity failed with errno " +
                errno + (errno == 22 ? " (EINVAL: no such CPU available to this process)" : ""));
        }
    }
}
