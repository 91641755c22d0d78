package io.pagewire.dataplane.memory;

import org.agrona.UnsafeApi;

/**
 * The one helper that copies bytes between rooms (NIC ring, guest memory, staging buffers) on raw host addresses.
 * <p>
 * Callers have already bounds-checked both ranges (guest ranges through {@link GuestMemory}); this class only moves
 * bytes. It uses the JDK's intrinsic {@code Unsafe.copyMemory} (through Agrona) rather than
 * {@code MemorySegment.copy} over an address-space-wide segment: both compile to the same copy loop, but the segment
 * route creates segment objects that only escape analysis removes, and a deoptimization can bring them back as real
 * allocations on the dataplane thread.
 */
public final class MemoryCopy
{
    private MemoryCopy()
    {
    }

    /**
     * Copies {@code length} bytes from {@code source} to {@code destination}; the ranges must not overlap.
     *
     * @param source      host address of the first byte to read.
     * @param destination host address of the first byte to write.
     * @param length      number of bytes, 0 or more.
     */
    public static void copy(final long source, final long destination, final long length)
    {
        if (length < 0)
        {
            throw new IllegalArgumentException("copy of " + length + " bytes");
        }
        if (length <= SMALL_COPY_MAX)
        {
            copySmall(source, destination, length);
            return;
        }
        UnsafeApi.copyMemory(source, destination, length);
    }

    /**
     * Longest copy done inline with 8-byte moves rather than by {@code Unsafe.copyMemory}, which is a call into a JIT
     * stub whatever the length. A 64-byte frame takes two copies on its way to the guest (header and frame) and one
     * back: in PVP at 64 bytes, inline copies took the forwarder from 4.9 to 5.7 Mpps (medians of 7 alternating
     * runs; perf/RESULTS.md).
     */
    static final int SMALL_COPY_MAX = 64;

    private static void copySmall(final long source, final long destination, final long length)
    {
        long i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES)
        {
            UnsafeApi.putLong(destination + i, UnsafeApi.getLong(source + i));
        }
        for (; i < length; i++)
        {
            UnsafeApi.putByte(destination + i, UnsafeApi.getByte(source + i));
        }
    }

    /**
     * Fills {@code length} bytes at {@code destination} with {@code value}.
     */
    public static void fill(final long destination, final long length, final byte value)
    {
        UnsafeApi.setMemory(destination, length, value);
    }

    /** @return the byte at a host address (test and diagnostic use, not the hot path). */
    public static byte getByte(final long address)
    {
        return UnsafeApi.getByte(address);
    }
}
