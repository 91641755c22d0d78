package io.pagewire.perf;

import io.pagewire.dataplane.tx.TxSink;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A NIC transmit ring for benchmarks: off-heap slots of fixed size, each a 64-byte slot header (the frame length,
 * release-stored on commit as a shared-memory ring would publish it) followed by the frame at a cache-line boundary.
 * {@link #drain()} stands for the NIC sending everything committed so far.
 */
final class RingTxSink implements TxSink
{
    private static final int SLOT_HEADER = 64;

    private final UnsafeBuffer ring;
    private final int slotSize;
    private final int mask;
    private final long base;
    private long head;
    private long tail;

    /**
     * @param slots          number of slots, a power of two.
     * @param maxFrameLength largest frame a slot holds.
     */
    RingTxSink(final int slots, final int maxFrameLength)
    {
        if (Integer.bitCount(slots) != 1)
        {
            throw new IllegalArgumentException("slots=" + slots + ": must be a power of two");
        }
        this.slotSize = (SLOT_HEADER + maxFrameLength + 63) & ~63;
        this.mask = slots - 1;
        this.ring = new UnsafeBuffer(BufferUtil.allocateDirectAligned(slots * slotSize, 64));
        this.base = ring.addressOffset();
    }

    @Override
    public long claim(final int frameLength)
    {
        if (frameLength > slotSize - SLOT_HEADER || head - tail > mask)
        {
            return 0;
        }
        return base + (head & mask) * (long)slotSize + SLOT_HEADER;
    }

    @Override
    public void commit(final int frameLength)
    {
        // Release: the frame bytes copied into the slot are visible before its length to a consumer that acquires it.
        ring.putIntRelease((int)(head & mask) * slotSize, frameLength);
        head++;
    }

    /** The NIC took every committed frame. */
    void drain()
    {
        tail = head;
    }

    /** @return frames committed so far. */
    long committed()
    {
        return head;
    }
}
