package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.memory.MemoryCopy;

/**
 * The validated copy of one or more descriptor chains: host addresses and lengths of their buffers, in order, and
 * for each chain its head and byte capacity. Filled by {@link DeviceVirtqueue#readChain}, which has already checked
 * every address against guest memory, so the copy methods here only move bytes within those segments.
 * <p>
 * Reused across packets (reset per packet); no allocation after construction.
 */
public final class ScatterList
{
    private final long[] segmentAddress;
    private final long[] segmentLength;
    private final int[] chainHead;
    private final long[] chainLength;
    private int segmentCount;
    private int chainCount;

    /**
     * @param maxSegments segments the list can hold: at least twice the queue size, so that any one legal chain
     *                    (up to queueSize direct descriptors plus an indirect table of up to queueSize entries) fits.
     * @param maxChains   chains the list can hold (mergeable RX reserves several), at most the queue size.
     */
    public ScatterList(final int maxSegments, final int maxChains)
    {
        segmentAddress = new long[maxSegments];
        segmentLength = new long[maxSegments];
        chainHead = new int[maxChains];
        chainLength = new long[maxChains];
    }

    /** Empties the list. */
    public void reset()
    {
        segmentCount = 0;
        chainCount = 0;
    }

    /** @return whether one more segment fits. */
    boolean hasSegmentSpace()
    {
        return segmentCount < segmentAddress.length;
    }

    /** @return whether one more chain fits. */
    boolean hasChainSpace()
    {
        return chainCount < chainHead.length;
    }

    void addSegment(final long hostAddress, final long length)
    {
        segmentAddress[segmentCount] = hostAddress;
        segmentLength[segmentCount] = length;
        segmentCount++;
    }

    void endChain(final int head, final long length)
    {
        chainHead[chainCount] = head;
        chainLength[chainCount] = length;
        chainCount++;
    }

    /** Drops segments added since the last completed chain (a chain that failed validation half way). */
    void truncateTo(final int segments)
    {
        segmentCount = segments;
    }

    /** @return the number of segments. */
    public int segmentCount()
    {
        return segmentCount;
    }

    /** @return host address of segment {@code i}. */
    public long segmentAddress(final int i)
    {
        return segmentAddress[i];
    }

    /** @return length of segment {@code i}: up to 2^32-1, a descriptor's u32 len. */
    public long segmentLength(final int i)
    {
        return segmentLength[i];
    }

    /** @return the number of complete chains. */
    public int chainCount()
    {
        return chainCount;
    }

    /** @return head descriptor index of chain {@code i}. */
    public int chainHead(final int i)
    {
        return chainHead[i];
    }

    /** @return total bytes of chain {@code i}. */
    public long chainLength(final int i)
    {
        return chainLength[i];
    }

    /**
     * Copies {@code length} bytes from a host address into the segments starting at byte {@code offset} of the
     * list (the concatenation of all segments). The caller guarantees {@code offset + length} fits.
     *
     * @return {@code offset + length}, the next write offset.
     */
    public long copyIn(final long source, final int length, final long offset)
    {
        if (length == 0)
        {
            return offset;
        }
        int segment = 0;
        long skip = offset;
        while (skip >= segmentLength[segment])
        {
            skip -= segmentLength[segment];
            segment++;
        }
        long from = source;
        int remaining = length;
        while (remaining > 0)
        {
            final int n = (int)Math.min(remaining, segmentLength[segment] - skip);
            MemoryCopy.copy(from, segmentAddress[segment] + skip, n);
            from += n;
            remaining -= n;
            skip = 0;
            segment++;
        }
        return offset + length;
    }

    /**
     * Copies {@code length} bytes starting at byte {@code offset} of the list into a host address. The caller
     * guarantees {@code offset + length} fits.
     */
    public void copyOut(final long offset, final long destination, final int length)
    {
        if (length == 0)
        {
            return;
        }
        int segment = 0;
        long skip = offset;
        while (skip >= segmentLength[segment])
        {
            skip -= segmentLength[segment];
            segment++;
        }
        long to = destination;
        int remaining = length;
        while (remaining > 0)
        {
            final int n = (int)Math.min(remaining, segmentLength[segment] - skip);
            MemoryCopy.copy(segmentAddress[segment] + skip, to, n);
            to += n;
            remaining -= n;
            skip = 0;
            segment++;
        }
    }
}
