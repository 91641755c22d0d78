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
        UnsafeApi.copyMemory(source, destination, length);
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
