package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.zip.CRC32;

import static io.pagewire.dataplane.virtio.SplitRingLayout.*;

/**
 * A reference reading of one descriptor chain, written from the spec's rules (virtio 1.2 §2.7.5, §2.7.5.3) and
 * DESIGN.md rather than from {@link DeviceVirtqueue}: what a correct device must conclude about the chain, in the
 * order of checks {@link DeviceVirtqueue#readChain} documents. Randomized tests compare the device against it.
 * <p>
 * Addresses are checked with a different formulation from {@code GuestMemory} (end = address + length, rejected when
 * it wraps), over the regions {@link FakeGuestMemory} reports. Results are left in fields, reused per call.
 */
final class ChainOracle
{
    /** The chain is valid; {@link #capacity} and the segments describe it. */
    static final int VALID = 0;
    /** The chain is broken; {@link #error} says why. */
    static final int BROKEN = 1;
    /** The device's scatter list would run out of segments before the chain ends (not a guest error). */
    static final int SCATTER_FULL = 2;

    private static final long U32_MAX = 0xFFFF_FFFFL;

    private final long[] regionStart;
    private final long[] regionSize;
    private final MemorySegment[] region;

    int outcome;
    QueueError error;
    long capacity;
    int segments;
    /** Descriptors the walk loaded (direct, the indirect one, and table entries): the device's work for the chain. */
    int reads;
    final long[] segmentGuest;
    final long[] segmentLength;

    /**
     * @param guest       the memory the chains live in.
     * @param maxSegments segments one chain may record (twice the largest queue size).
     */
    ChainOracle(final FakeGuestMemory guest, final int maxSegments)
    {
        final int regions = guest.regionCount();
        regionStart = new long[regions];
        regionSize = new long[regions];
        region = new MemorySegment[regions];
        for (int r = 0; r < regions; r++)
        {
            regionStart[r] = guest.regionStart(r);
            regionSize[r] = guest.regionSize(r);
            region[r] = guest.segment(regionStart[r], regionSize[r]);
        }
        segmentGuest = new long[maxSegments];
        segmentLength = new long[maxSegments];
    }

    /** @return the region holding all of {@code [address, address + length)}, or -1. */
    int regionOf(final long address, final long length)
    {
        final long end = address + length;
        if (Long.compareUnsigned(end, address) < 0)
        {
            return -1;
        }
        for (int r = 0; r < regionStart.length; r++)
        {
            final long start = regionStart[r];
            if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(end, start + regionSize[r]) <= 0)
            {
                return r;
            }
        }
        return -1;
    }

    /** @return a view of a mapped guest range (the caller checked {@link #regionOf}). */
    MemorySegment view(final long address, final long length)
    {
        final int r = regionOf(address, length);
        return region[r].asSlice(address - regionStart[r], length);
    }

    /**
     * Reads the chain at {@code head} of {@code descTable}.
     *
     * @param segmentsBefore segments already in the device's scatter list (earlier chains of a mergeable frame).
     * @param maxSegments    the scatter list's capacity.
     */
    void walk(
        final MemorySegment descTable, final int queueSize, final boolean indirectNegotiated, final int head,
        final boolean deviceWritable, final int segmentsBefore, final int maxSegments)
    {
        MemorySegment table = descTable;
        int tableSize = queueSize;
        int visited = 0;
        boolean inIndirect = false;
        int index = head;
        capacity = 0;
        segments = 0;
        reads = 0;
        error = null;

        while (true)
        {
            if (visited == tableSize)
            {
                // More descriptors than the table holds: the chain revisits one (§2.7.5.2 bounds chains by size).
                broken(QueueError.CHAIN_TOO_LONG);
                return;
            }
            if (index >= tableSize)
            {
                broken(QueueError.NEXT_OUT_OF_RANGE);
                return;
            }
            visited++;
            reads++;
            final long offset = (long)index * DESC_SIZE;
            final long address = table.get(ValueLayout.JAVA_LONG_UNALIGNED, offset + DESC_ADDR_OFFSET);
            final long length = table.get(ValueLayout.JAVA_INT_UNALIGNED, offset + DESC_LEN_OFFSET) & U32_MAX;
            final int flags = table.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset + DESC_FLAGS_OFFSET) & 0xFFFF;
            final int next = table.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset + DESC_NEXT_OFFSET) & 0xFFFF;

            if ((flags & DESC_F_INDIRECT) != 0)
            {
                final QueueError reason = indirectError(indirectNegotiated, inIndirect, flags, length, queueSize);
                if (reason != null)
                {
                    broken(reason);
                    return;
                }
                if (regionOf(address, length) < 0)
                {
                    broken(QueueError.ADDRESS_NOT_MAPPED);
                    return;
                }
                table = view(address, length);
                tableSize = (int)(length / DESC_SIZE);
                visited = 0;
                inIndirect = true;
                index = 0;
                continue;
            }
            final boolean writable = (flags & DESC_F_WRITE) != 0;
            if (writable != deviceWritable)
            {
                broken(deviceWritable ? QueueError.READABLE_IN_RX : QueueError.WRITABLE_IN_TX);
                return;
            }
            capacity += length;
            if (capacity > U32_MAX)
            {
                broken(QueueError.LENGTH_OVERFLOW);
                return;
            }
            if (length != 0)
            {
                if (regionOf(address, length) < 0)
                {
                    broken(QueueError.ADDRESS_NOT_MAPPED);
                    return;
                }
                if (segmentsBefore + segments == maxSegments)
                {
                    outcome = SCATTER_FULL;
                    return;
                }
                segmentGuest[segments] = address;
                segmentLength[segments] = length;
                segments++;
            }
            if ((flags & DESC_F_NEXT) == 0)
            {
                if (deviceWritable && capacity == 0)
                {
                    // A receive chain that can hold nothing (Linux vhost-net refuses it; §5.1.6.3.1).
                    broken(QueueError.EMPTY_RX_CHAIN);
                    return;
                }
                outcome = VALID;
                return;
            }
            index = next;
        }
    }

    private QueueError indirectError(
        final boolean negotiated, final boolean inIndirect, final int flags, final long length, final int queueSize)
    {
        if (!negotiated)
        {
            return QueueError.INDIRECT_NOT_NEGOTIATED;
        }
        if (inIndirect)
        {
            return QueueError.NESTED_INDIRECT;
        }
        if ((flags & DESC_F_NEXT) != 0)
        {
            return QueueError.INDIRECT_WITH_NEXT;
        }
        if (length == 0 || length % DESC_SIZE != 0)
        {
            return QueueError.INDIRECT_LENGTH;
        }
        if (length / DESC_SIZE > queueSize)
        {
            return QueueError.INDIRECT_TOO_LARGE;
        }
        return null;
    }

    private void broken(final QueueError reason)
    {
        outcome = BROKEN;
        error = reason;
    }

    /** @return the byte at {@code offset} of the last valid chain's data. */
    byte byteAt(final long offset)
    {
        long skip = offset;
        for (int i = 0; i < segments; i++)
        {
            if (skip < segmentLength[i])
            {
                return view(segmentGuest[i] + skip, 1).get(ValueLayout.JAVA_BYTE, 0);
            }
            skip -= segmentLength[i];
        }
        throw new IllegalArgumentException("offset " + offset + " past the chain's " + capacity + " bytes");
    }

    /** @return the CRC-32 of the last valid chain's data from {@code offset} to its end. */
    long crcFrom(final long offset)
    {
        final CRC32 crc = new CRC32();
        long skip = offset;
        for (int i = 0; i < segments; i++)
        {
            final long length = segmentLength[i];
            if (skip >= length)
            {
                skip -= length;
                continue;
            }
            crc.update(view(segmentGuest[i] + skip, length - skip).asByteBuffer());
            skip = 0;
        }
        return crc.getValue();
    }
}
