package io.pagewire.dataplane.guest;

import io.pagewire.dataplane.memory.GuestMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The embedded guest's RAM: one off-heap region at a guest-physical base address, registered in the
 * {@link GuestMemory} the device translates through, with a bump allocator for rings and buffers. The base is above
 * 4 GiB and differs from the host address, as in a real VM.
 */
public final class GuestRam implements AutoCloseable
{
    /** Guest-physical address of the first byte. */
    public static final long BASE = 0x1_0000_0000L;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;
    private final long size;
    private long next = BASE;

    /**
     * @param size   bytes of RAM.
     * @param memory the region table to register in.
     */
    public GuestRam(final long size, final GuestMemory memory)
    {
        this.size = size;
        this.segment = arena.allocate(size, 4096);
        memory.addRegion(BASE, size, BASE, segment.address());
    }

    /**
     * @return the guest-physical address of {@code length} fresh bytes aligned to {@code alignment} (a power of two).
     * @throws IllegalStateException when the RAM is exhausted (the config asked for more buffers than it holds).
     */
    public long allocate(final long length, final long alignment)
    {
        final long start = (next + alignment - 1) & -alignment;
        if (start + length > BASE + size)
        {
            throw new IllegalStateException("guest RAM of " + size + " bytes exhausted allocating " + length);
        }
        next = start + length;
        return start;
    }

    /** @return the host address of a guest-physical address inside this RAM. */
    public long host(final long guestPhysAddress)
    {
        return segment.address() + (guestPhysAddress - BASE);
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
