package io.pagewire.dataplane.memory;

import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.MemoryFiles;

import java.util.Arrays;

/**
 * The guest's memory as the device sees it: a small table of regions, each a guest-physical range mapped at a host
 * address (and, for vhost-user, also known by the frontend's virtual address).
 * <p>
 * Every address the guest hands the device goes through {@link #translate(long, long)}, which answers the host
 * address of the <em>whole</em> range {@code [guestAddress, guestAddress + length)} or {@link #NOT_MAPPED} when that
 * range is not inside a single region. All arithmetic is unsigned and overflow-free (guest addresses are u64), so a
 * hostile descriptor can never steer an access outside the mapped regions.
 * <p>
 * Regions are added by the control plane before the queues start and are then only read by the dataplane thread.
 * <p>
 * A region shared by another process may also carry its <em>backing</em>: a private duplicate of the file descriptor
 * it was mapped from and the end of the mapped range in that file. The peer keeps its own descriptor of the same
 * file and may shrink it (ftruncate); every access beyond the new end is then a SIGBUS, which the JVM reports as an
 * {@link InternalError} (see {@code DataplaneAgent}). {@link #lostRegion()} finds such a region afterwards.
 */
public final class GuestMemory
{
    /** Returned by the translate methods when the range is not wholly inside one region. */
    public static final long NOT_MAPPED = 0L;

    /** More regions than vhost-user's default VHOST_MEMORY_BASELINE_NREGIONS (8) and than QEMU uses in practice. */
    public static final int MAX_REGIONS = 32;

    private final long[] guestAddress = new long[MAX_REGIONS];
    private final long[] userAddress = new long[MAX_REGIONS];
    private final long[] hostAddress = new long[MAX_REGIONS];
    private final long[] size = new long[MAX_REGIONS];
    private final int[] backingFd = new int[MAX_REGIONS];
    private final long[] backingEnd = new long[MAX_REGIONS];
    private int regionCount;
    private int lastHit;

    /**
     * Adds a region. Validates it against the existing ones so that translation can stop at the first hit.
     *
     * @param guestPhysAddress guest-physical start (u64).
     * @param regionSize       length in bytes, greater than zero.
     * @param userAddress      the frontend's virtual address of the start (vhost-user ring addresses), or the guest
     *                         address again when there is no frontend.
     * @param hostAddress      where the region is mapped in this process; never 0.
     * @throws IllegalArgumentException naming the offending value when the region is empty, wraps around the 64-bit
     *                                  address space, overlaps another region, or the table is full.
     */
    public void addRegion(final long guestPhysAddress, final long regionSize, final long userAddress, final long hostAddress)
    {
        addRegion(guestPhysAddress, regionSize, userAddress, hostAddress, -1, 0);
    }

    /**
     * Adds a region shared by another process, with its backing file, so that {@link #lostRegion()} can tell whether
     * the peer shrank it. On success the table owns {@code backingFd} ({@link #closeBackingFds()}); on failure the
     * caller still does.
     *
     * @param backingFd  a descriptor of the file the region is mapped from, -1 for none.
     * @param backingEnd the end of the mapped range in that file (mmap offset + length): the file must stay at least
     *                   this long.
     * @see #addRegion(long, long, long, long)
     */
    public void addRegion(
        final long guestPhysAddress, final long regionSize, final long userAddress, final long hostAddress,
        final int backingFd, final long backingEnd)
    {
        if (regionCount == MAX_REGIONS)
        {
            throw new IllegalArgumentException("too many memory regions: at most " + MAX_REGIONS);
        }
        if (regionSize <= 0)
        {
            throw new IllegalArgumentException("memory region size=" + regionSize + ": must be greater than 0");
        }
        if (hostAddress == NOT_MAPPED)
        {
            throw new IllegalArgumentException("memory region host address must not be 0");
        }
        if (wraps(guestPhysAddress, regionSize) || wraps(userAddress, regionSize) || wraps(hostAddress, regionSize))
        {
            throw new IllegalArgumentException("memory region 0x" + Long.toHexString(guestPhysAddress) + "+0x" +
                Long.toHexString(regionSize) + ": wraps around the address space");
        }
        for (int i = 0; i < regionCount; i++)
        {
            if (overlaps(guestPhysAddress, regionSize, guestAddress[i], size[i]) ||
                overlaps(userAddress, regionSize, this.userAddress[i], size[i]))
            {
                throw new IllegalArgumentException("memory region 0x" + Long.toHexString(guestPhysAddress) + "+0x" +
                    Long.toHexString(regionSize) + ": overlaps region 0x" + Long.toHexString(guestAddress[i]) +
                    "+0x" + Long.toHexString(size[i]));
            }
        }
        this.guestAddress[regionCount] = guestPhysAddress;
        this.userAddress[regionCount] = userAddress;
        this.hostAddress[regionCount] = hostAddress;
        this.size[regionCount] = regionSize;
        this.backingFd[regionCount] = backingFd;
        this.backingEnd[regionCount] = backingEnd;
        regionCount++;
    }

    /**
     * Finds a region whose backing file no longer covers its mapping (fstat of the kept descriptor): after a memory
     * fault, to know whether this table is the one the peer shrank. Allocates; not for the data path.
     *
     * @return the index of the first such region, or -1 when every region with a backing is still backed (regions
     * without one are never reported).
     */
    public int lostRegion()
    {
        for (int i = 0; i < regionCount; i++)
        {
            if (backingFd[i] >= 0 && !MemoryFiles.backs(backingFd[i], backingEnd[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @param region a region index below {@link #regionCount()}.
     * @return the guest-physical start of the region (for messages).
     */
    public long guestAddress(final int region)
    {
        return guestAddress[region];
    }

    /** Closes the backing descriptors handed to {@link #addRegion(long, long, long, long, int, long)}; idempotent. */
    public void closeBackingFds()
    {
        for (int i = 0; i < regionCount; i++)
        {
            if (backingFd[i] >= 0)
            {
                Fds.closeQuietly(backingFd[i]);
                backingFd[i] = -1;
            }
        }
    }

    /** Forgets every region (frontend reset or new memory table), closing their backing descriptors. */
    public void clear()
    {
        closeBackingFds();
        Arrays.fill(guestAddress, 0);
        Arrays.fill(userAddress, 0);
        Arrays.fill(hostAddress, 0);
        Arrays.fill(size, 0);
        regionCount = 0;
        lastHit = 0;
    }

    /** @return the number of regions. */
    public int regionCount()
    {
        return regionCount;
    }

    /**
     * Translates a guest-physical range (descriptor addresses).
     *
     * @param guestPhysAddress start of the range, u64.
     * @param length           length of the range, 0..2^32-1 (a descriptor's u32 len) or larger.
     * @return the host address of the start, or {@link #NOT_MAPPED} if any byte of the range lies outside the region
     * that holds the start. A zero-length range is mapped when its start lies in a region or at its end.
     */
    public long translate(final long guestPhysAddress, final long length)
    {
        // Hot path: consecutive descriptors nearly always hit the same region.
        final int hint = lastHit;
        if (hint < regionCount)
        {
            final long host = translateIn(hint, guestAddress[hint], guestPhysAddress, length);
            if (host != NOT_MAPPED)
            {
                return host;
            }
        }
        for (int i = 0; i < regionCount; i++)
        {
            final long host = translateIn(i, guestAddress[i], guestPhysAddress, length);
            if (host != NOT_MAPPED)
            {
                lastHit = i;
                return host;
            }
        }
        return NOT_MAPPED;
    }

    /**
     * Translates a range given in the frontend's virtual addresses (vhost-user SET_VRING_ADDR ring addresses).
     *
     * @see #translate(long, long)
     */
    public long translateUser(final long userAddr, final long length)
    {
        for (int i = 0; i < regionCount; i++)
        {
            final long host = translateIn(i, userAddress[i], userAddr, length);
            if (host != NOT_MAPPED)
            {
                return host;
            }
        }
        return NOT_MAPPED;
    }

    private long translateIn(final int region, final long start, final long address, final long length)
    {
        // offset = address - start, valid iff start <= address (unsigned); then the range fits iff
        // length <= size - offset, which cannot overflow because offset <= size. Both compares are unsigned.
        final long offset = address - start;
        final long regionSize = size[region];
        if (Long.compareUnsigned(address, start) < 0 || Long.compareUnsigned(offset, regionSize) > 0)
        {
            return NOT_MAPPED;
        }
        if (Long.compareUnsigned(length, regionSize - offset) > 0 || (offset == regionSize && length != 0))
        {
            return NOT_MAPPED;
        }
        return hostAddress[region] + offset;
    }

    private static boolean wraps(final long start, final long length)
    {
        return Long.compareUnsigned(start + length - 1, start) < 0;
    }

    private static boolean overlaps(final long aStart, final long aLength, final long bStart, final long bLength)
    {
        // [aStart, aStart+aLength) and [bStart, bStart+bLength) intersect, unsigned, neither wraps.
        return Long.compareUnsigned(aStart, bStart + bLength - 1) <= 0 &&
            Long.compareUnsigned(bStart, aStart + aLength - 1) <= 0;
    }
}
