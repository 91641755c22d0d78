package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.memory.GuestMemory;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

import static io.pagewire.dataplane.virtio.SplitRingLayout.*;

/**
 * The device side of one split virtqueue (virtio 1.2 §2.7): reads chains the driver made available, validates every
 * guest-controlled number, returns used elements and publishes them once per burst.
 * <p>
 * Flyweights over the rings in guest memory are wrapped once when the queue is {@linkplain #enable enabled}; after
 * that nothing on the data path allocates. Only the dataplane thread that owns the queue calls its methods.
 * <p>
 * <b>Memory ordering</b> (pairs with the driver, §2.7.13 and §2.7.7):
 * <ul>
 *   <li>{@code avail.idx} is read with a volatile load (acquire): ring entries and descriptors the driver wrote
 *       before its release-store of {@code avail.idx} are visible to the plain reads that follow.</li>
 *   <li>Used elements are written with plain stores, then {@code used.idx} with one volatile store per burst
 *       (release: the driver that acquires {@code used.idx} sees the elements and the buffer contents).</li>
 *   <li>That volatile store is also the StoreLoad fence the notification decision needs: {@code used_event} and
 *       {@code avail.flags} must be read after {@code used.idx} is visible, or a driver that just re-armed
 *       notifications could miss the interrupt (§2.7.10).</li>
 * </ul>
 * <b>Hostile input</b>: any violation marks the queue broken with a {@link QueueError} (counted, first reason kept);
 * a broken queue does nothing until it is re-enabled, and no method throws on guest input.
 * <p>
 * <b>Work</b> is linear in the queue size whatever the guest writes (repeated heads, chains or indirect tables of
 * empty descriptors): a burst, which the owner starts once per duty cycle with {@link #beginBurst()}, reads fewer
 * than {@link #burstReadBudget}{@code (size) + 2 × size} descriptors; chains past the budget wait for the next burst
 * ({@link #WORK_LIMIT}).
 */
public final class DeviceVirtqueue
{
    /** Returned by chain readers when the queue is (now) broken. */
    public static final int BROKEN = -1;
    /** Returned by {@link #readChain} when the scatter list has no room for the chain (not a guest error). */
    public static final int SCATTER_FULL = -2;
    /**
     * Returned by {@link #readChain} when this burst's descriptor read budget is spent: nothing was read, nothing is
     * consumed, the chain is read in a later burst (not a guest error).
     */
    public static final int WORK_LIMIT = -3;
    /** The part of {@link #burstReadBudget} that does not grow with the queue size. */
    public static final int BURST_READS_SLACK = 32768;

    static
    {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
        {
            // Agrona's volatile u16 accessors use native order; virtio 1.x rings are little-endian.
            throw new IllegalStateException("pagewire needs a little-endian host: virtio 1.x rings are little-endian");
        }
    }

    private final int size;
    private final int mask;
    private final int usedEventOffset;
    private final int availEventOffset;
    private final int burstReadBudget;
    private final GuestMemory memory;
    private final UnsafeBuffer descTable = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer availRing = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer usedRing = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer indirectTable = new UnsafeBuffer(0, 0);
    private final long[] errorCounts = new long[QueueError.values().length];

    private boolean enabled;
    private boolean eventIdx;
    private boolean indirectDesc;
    private QueueError brokenReason;

    private int lastAvailIdx;
    private int shadowAvailIdx;
    private int usedIdx;
    private int publishedUsedIdx;
    private long descriptorReads;
    private int readsLeft;
    private long workLimits;

    /**
     * @param size   queue size, a power of two in 1..32768.
     * @param memory the guest's memory, through which every descriptor address is translated.
     */
    public DeviceVirtqueue(final int size, final GuestMemory memory)
    {
        checkQueueSize(size);
        this.size = size;
        this.mask = size - 1;
        this.usedEventOffset = SplitRingLayout.usedEventOffset(size);
        this.availEventOffset = SplitRingLayout.availEventOffset(size);
        this.memory = memory;
        this.burstReadBudget = burstReadBudget(size);
        this.readsLeft = burstReadBudget;
    }

    /**
     * Starts serving the queue.
     *
     * @param descTableAddress host address of the descriptor table, {@link SplitRingLayout#descTableLength} bytes
     *                         already checked to lie inside guest memory.
     * @param availRingAddress host address of the available ring, {@link SplitRingLayout#availRingLength} bytes.
     * @param usedRingAddress  host address of the used ring, {@link SplitRingLayout#usedRingLength} bytes.
     * @param baseIndex        the index to continue from (0 for a fresh queue; vhost-user SET_VRING_BASE).
     * @param negotiatedEventIdx    VIRTIO_F_EVENT_IDX was negotiated.
     * @param negotiatedIndirectDesc VIRTIO_F_INDIRECT_DESC was negotiated.
     */
    public void enable(
        final long descTableAddress,
        final long availRingAddress,
        final long usedRingAddress,
        final int baseIndex,
        final boolean negotiatedEventIdx,
        final boolean negotiatedIndirectDesc)
    {
        descTable.wrap(descTableAddress, descTableLength(size));
        availRing.wrap(availRingAddress, availRingLength(size));
        usedRing.wrap(usedRingAddress, usedRingLength(size));
        eventIdx = negotiatedEventIdx;
        indirectDesc = negotiatedIndirectDesc;
        lastAvailIdx = baseIndex & 0xFFFF;
        shadowAvailIdx = lastAvailIdx;
        usedIdx = lastAvailIdx;
        publishedUsedIdx = lastAvailIdx;
        brokenReason = null;
        readsLeft = burstReadBudget;
        enabled = true;
        suppressKicks();
    }

    /** Stops serving the queue; {@link #lastAvailIdx()} is what vhost-user GET_VRING_BASE returns. */
    public void disable()
    {
        enabled = false;
    }

    /** @return whether the queue is enabled and not broken. */
    public boolean isRunning()
    {
        return enabled && brokenReason == null;
    }

    /** @return the queue size. */
    public int size()
    {
        return size;
    }

    /** @return the first error that broke the queue, or null. */
    public QueueError brokenReason()
    {
        return brokenReason;
    }

    /** @return how many times this error was seen (a broken queue stops, so normally 0 or 1 until re-enabled). */
    public long errorCount(final QueueError error)
    {
        return errorCounts[error.ordinal()];
    }

    /** @return the next available ring index the device will consume (u16). */
    public int lastAvailIdx()
    {
        return lastAvailIdx;
    }

    /**
     * @return descriptors read since the queue was built, direct ones and indirect-table entries alike: the measure
     * of the work guest chains cost the device.
     */
    public long descriptorReads()
    {
        return descriptorReads;
    }

    /** @return the next used ring index the device will write (u16), published or not. */
    public int usedIdx()
    {
        return usedIdx;
    }

    /**
     * Records a guest error: counts it and stops the queue.
     *
     * @return {@link #BROKEN}, for tail calls.
     */
    public int markBroken(final QueueError error)
    {
        errorCounts[error.ordinal()]++;
        if (brokenReason == null)
        {
            brokenReason = error;
        }
        return BROKEN;
    }

    /**
     * How many chains the driver has made available beyond {@link #lastAvailIdx()}. Reads {@code avail.idx} with a
     * volatile load only when the previously seen value is used up.
     *
     * @return the count, or {@link #BROKEN}.
     */
    public int availableChains()
    {
        if (!enabled || brokenReason != null)
        {
            return BROKEN;
        }
        final int available = (shadowAvailIdx - lastAvailIdx) & 0xFFFF;
        return available != 0 ? available : refreshAvailableChains();
    }

    /**
     * Like {@link #availableChains()} but always re-reads {@code avail.idx}: for a caller that needs more chains
     * than the last read showed (a large mergeable frame).
     *
     * @return the count, or {@link #BROKEN}.
     */
    public int refreshAvailableChains()
    {
        if (!enabled || brokenReason != null)
        {
            return BROKEN;
        }
        // Acquire: pairs with the driver's release-store of avail.idx; ring entries and descriptors it wrote
        // before that store are visible to the plain loads that follow.
        shadowAvailIdx = availRing.getShortVolatile(AVAIL_IDX_OFFSET) & 0xFFFF;
        final int available = (shadowAvailIdx - lastAvailIdx) & 0xFFFF;
        if (available > size)
        {
            return markBroken(QueueError.AVAIL_INDEX_JUMP);
        }
        return available;
    }

    /**
     * @return chains the driver had made available, as of the last read of {@code avail.idx}, that the device has not
     * consumed: the ring occupancy gauge. No memory access beyond this object's fields.
     */
    public int pendingChains()
    {
        return (shadowAvailIdx - lastAvailIdx) & 0xFFFF;
    }

    /**
     * The head of the chain {@code offset} places past {@link #lastAvailIdx()}, without consuming it. The caller
     * has checked {@code offset < availableChains()}.
     *
     * @return the head, or {@link #BROKEN} when it is out of range.
     */
    public int availHead(final int offset)
    {
        final int head = availRing.getShort(availElementOffset(lastAvailIdx + offset, mask)) & 0xFFFF;
        if (head >= size)
        {
            return markBroken(QueueError.HEAD_OUT_OF_RANGE);
        }
        return head;
    }

    /** Consumes {@code count} chains: they now belong to the device until returned with {@link #addUsed}. */
    public void consume(final int count)
    {
        lastAvailIdx = (lastAvailIdx + count) & 0xFFFF;
    }

    /**
     * Reads and validates the chain starting at {@code head}, appending its buffers to {@code out} and completing
     * it as one chain there. Each descriptor is copied once into locals and only the copy is used (the guest may
     * rewrite the table concurrently).
     * <p>
     * Checks (§2.7.5, §2.7.5.3): next below the table size; at most as many descriptors as the table holds (loops);
     * indirect only if negotiated, never with NEXT, never nested, length a non-zero multiple of 16 and at most the
     * queue size entries; every {@code [addr, addr+len)} inside one guest region; every descriptor device-writable
     * (receive) or device-readable (transmit); the total fits a u32; a receive chain holds at least one byte
     * ({@link QueueError#EMPTY_RX_CHAIN}).
     * <p>
     * <b>Work</b>: one chain costs at most {@code 2 × size} descriptor reads (its direct descriptors, then at most one
     * indirect table). A chain is only started while the burst's {@linkplain #burstReadBudget read budget} lasts,
     * so a burst reads fewer than {@code burstReadBudget(size) + 2 × size} descriptors whatever the guest wrote.
     *
     * @param head            a head returned by {@link #availHead}.
     * @param deviceWritable  true for receive chains (device writes), false for transmit chains.
     * @param out             where the validated buffers go.
     * @return the chain's total length in bytes, {@link #BROKEN} (queue marked), {@link #SCATTER_FULL} when
     * {@code out} has no room, or {@link #WORK_LIMIT} when the burst's budget is spent (nothing appended for either).
     */
    public long readChain(final int head, final boolean deviceWritable, final ScatterList out)
    {
        if (!out.hasChainSpace())
        {
            return SCATTER_FULL;
        }
        if (readsLeft <= 0)
        {
            workLimits++;
            return WORK_LIMIT;
        }
        final int firstSegment = out.segmentCount();
        UnsafeBuffer table = descTable;
        int tableSize = size;
        int ttl = size;
        boolean indirect = false;
        int index = head;
        long total = 0;
        int reads = 0;
        QueueError error = null;

        while (true)
        {
            if (ttl-- == 0)
            {
                error = QueueError.CHAIN_TOO_LONG;
                break;
            }
            if (index >= tableSize)
            {
                error = QueueError.NEXT_OUT_OF_RANGE;
                break;
            }
            final int offset = index * DESC_SIZE;
            final long addr = table.getLong(offset + DESC_ADDR_OFFSET);
            final long len = table.getInt(offset + DESC_LEN_OFFSET) & 0xFFFF_FFFFL;
            final int flags = table.getShort(offset + DESC_FLAGS_OFFSET) & 0xFFFF;
            final int next = table.getShort(offset + DESC_NEXT_OFFSET) & 0xFFFF;
            reads++;

            if ((flags & DESC_F_INDIRECT) != 0)
            {
                error = checkIndirect(indirect, flags, len);
                if (error != null)
                {
                    break;
                }
                final long tableAddress = memory.translate(addr, len);
                if (tableAddress == GuestMemory.NOT_MAPPED)
                {
                    error = QueueError.ADDRESS_NOT_MAPPED;
                    break;
                }
                // The table is in guest memory the driver owns; wrapping is a few field stores, no allocation.
                indirectTable.wrap(tableAddress, (int)len);
                table = indirectTable;
                tableSize = (int)(len / DESC_SIZE);
                ttl = tableSize;
                indirect = true;
                index = 0;
                continue;
            }

            if (((flags & DESC_F_WRITE) != 0) != deviceWritable)
            {
                error = deviceWritable ? QueueError.READABLE_IN_RX : QueueError.WRITABLE_IN_TX;
                break;
            }
            total += len;
            if (total > 0xFFFF_FFFFL)
            {
                error = QueueError.LENGTH_OVERFLOW;
                break;
            }
            if (len != 0)
            {
                final long hostAddress = memory.translate(addr, len);
                if (hostAddress == GuestMemory.NOT_MAPPED)
                {
                    error = QueueError.ADDRESS_NOT_MAPPED;
                    break;
                }
                if (!out.hasSegmentSpace())
                {
                    spend(reads);
                    out.truncateTo(firstSegment);
                    return SCATTER_FULL;
                }
                out.addSegment(hostAddress, len);
            }
            if ((flags & DESC_F_NEXT) == 0)
            {
                break;
            }
            index = next;
        }
        spend(reads);
        if (error == null && deviceWritable && total == 0)
        {
            // A receive chain that can hold nothing: no frame ever fits it, and skipping it would hand the guest a
            // used element for a buffer the device never wrote. Linux vhost-net refuses it too (get_rx_bufs:
            // "unexpected descriptor format for RX", in == 0), and with MRG_RXBUF every buffer MUST hold at least
            // the virtio-net header (§5.1.6.3.1).
            error = QueueError.EMPTY_RX_CHAIN;
        }
        if (error != null)
        {
            out.truncateTo(firstSegment);
            return markBroken(error);
        }
        out.endChain(head, total);
        return total;
    }

    private void spend(final int reads)
    {
        readsLeft -= reads;
        descriptorReads += reads;
    }

    /**
     * Starts a new burst: refills the descriptor read budget (see {@link #readChain}). The owner calls it once per
     * duty cycle before it consumes the queue; {@link #publishUsed()} and {@link #enable} refill it too.
     */
    public void beginBurst()
    {
        readsLeft = burstReadBudget;
    }

    /**
     * Descriptor reads one burst may start chains with: twice the queue size (chains in flight together are made
     * of free descriptors, §2.7.13.1, so a valid ring's direct descriptors take at most {@code size}, and one more
     * table of {@code size}) plus {@value #BURST_READS_SLACK} for indirect tables: more than well-formed chains
     * need (the largest burst, 1024 Linux TX chains each an indirect table of 19 entries, reads 20 480). A chain
     * started within the budget is read whole, so a burst stays below {@code burstReadBudget(size) + 2 × size}
     * reads: for a queue of 32768 under 170 000, a fraction of a millisecond (a few ns each), where a quadratic walk
     * over the same hostile ring read a billion descriptors.
     *
     * @param size the queue size.
     * @return the budget.
     */
    public static int burstReadBudget(final int size)
    {
        return 2 * size + BURST_READS_SLACK;
    }

    /** @return bursts cut short because their descriptor read budget was spent ({@link #WORK_LIMIT}). */
    public long workLimits()
    {
        return workLimits;
    }

    private QueueError checkIndirect(final boolean alreadyIndirect, final int flags, final long len)
    {
        if (!indirectDesc)
        {
            return QueueError.INDIRECT_NOT_NEGOTIATED;
        }
        if (alreadyIndirect)
        {
            return QueueError.NESTED_INDIRECT;
        }
        if ((flags & DESC_F_NEXT) != 0)
        {
            return QueueError.INDIRECT_WITH_NEXT;
        }
        if (len == 0 || (len % DESC_SIZE) != 0)
        {
            return QueueError.INDIRECT_LENGTH;
        }
        if (len / DESC_SIZE > size)
        {
            return QueueError.INDIRECT_TOO_LARGE;
        }
        return null;
    }

    /**
     * Writes a used element (plain stores; not visible to the driver before {@link #publishUsed()}).
     *
     * @param head   the chain's head index.
     * @param length bytes the device wrote into the chain (0 for transmit chains).
     */
    public void addUsed(final int head, final int length)
    {
        final int offset = usedElementOffset(usedIdx, mask);
        usedRing.putInt(offset + USED_ELEMENT_ID_OFFSET, head);
        usedRing.putInt(offset + USED_ELEMENT_LEN_OFFSET, length);
        usedIdx = (usedIdx + 1) & 0xFFFF;
    }

    /**
     * Publishes every used element added since the last publish with one store of {@code used.idx}, and decides
     * whether the driver wants to be notified (§2.7.10). It ends a burst: the descriptor read budget is refilled
     * ({@link #beginBurst()}).
     *
     * @return true when the driver should be notified (a call eventfd written, or an interrupt raised).
     */
    public boolean publishUsed()
    {
        readsLeft = burstReadBudget;
        final int newIdx = usedIdx;
        final int oldIdx = publishedUsedIdx;
        if (newIdx == oldIdx)
        {
            return false;
        }
        // Release: the used elements and the buffer contents written before are visible to a driver that acquires
        // used.idx. Being volatile it is also a StoreLoad fence: the loads of used_event / avail.flags below cannot
        // be satisfied before this store is visible (§2.7.10, rust-vmm Queue::needs_notification).
        usedRing.putShortVolatile(USED_IDX_OFFSET, (short)newIdx);
        publishedUsedIdx = newIdx;
        if (eventIdx)
        {
            refreshAvailEvent();
            final int usedEvent = availRing.getShortVolatile(usedEventOffset) & 0xFFFF;
            return needsEvent(usedEvent, newIdx, oldIdx);
        }
        return (availRing.getShortVolatile(AVAIL_FLAGS_OFFSET) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * A busy-polling device asks the driver never to kick it (§2.7.10): without EVENT_IDX by VIRTQ_USED_F_NO_NOTIFY,
     * with EVENT_IDX by keeping {@code avail_event} just behind the device's position, an index the driver cannot
     * reach (it is at most a queue size, ≤ 32768, ahead of {@link #lastAvailIdx()}).
     */
    private void suppressKicks()
    {
        if (eventIdx)
        {
            refreshAvailEvent();
        }
        else
        {
            usedRing.putShortVolatile(USED_FLAGS_OFFSET, (short)USED_F_NO_NOTIFY);
        }
    }

    private void refreshAvailEvent()
    {
        // Plain store: no ordering is needed for a value that only ever says "do not kick".
        usedRing.putShort(availEventOffset, (short)(lastAvailIdx - 1));
    }
}
