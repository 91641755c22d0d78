package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.memory.GuestMemory;
import org.agrona.concurrent.UnsafeBuffer;

import static io.pagewire.dataplane.virtio.SplitRingLayout.*;

/**
 * The driver side of one split virtqueue (virtio 1.2 §2.7.13): what a guest's virtio driver does. pagewire uses it
 * for the embedded guest model, in tests and in benchmarks; it is the counterpart that {@link DeviceVirtqueue} is
 * tested against, so it follows the driver-side ordering rules exactly.
 * <p>
 * Free descriptors are tracked in a private shadow of the {@code next} links (as Linux's {@code desc_extra}), so
 * nothing the device could scribble on is trusted when chains are freed. One thread only.
 * <p>
 * <b>Memory ordering</b>: descriptors and avail ring entries are written with plain stores, then {@code avail.idx}
 * with a volatile store (release; pairs with the device's acquire). {@code used.idx} is read with a volatile load
 * (acquire; pairs with the device's release), after which used elements and buffer contents are read plainly.
 */
public final class DriverVirtqueue
{
    private final int size;
    private final int mask;
    private final UnsafeBuffer descTable = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer availRing = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer usedRing = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer indirectTable = new UnsafeBuffer(0, 0);
    private final int[] shadowNext;
    private final int[] chainDescriptors;
    private final boolean eventIdx;
    private final GuestMemory memory;

    private int freeHead;
    private int freeCount;
    private int availIdx;
    private int publishedAvailIdx;
    private int lastUsedIdx;
    private int shadowUsedIdx;

    /**
     * Lays out an empty queue at the given guest-physical addresses (which must be mapped in {@code memory}) and
     * zeroes its rings.
     *
     * @param size        a power of two in 1..32768.
     * @param memory      the guest memory holding rings and buffers.
     * @param descTable   guest-physical address of the descriptor table (16-byte aligned).
     * @param availRing   guest-physical address of the available ring (2-byte aligned).
     * @param usedRing    guest-physical address of the used ring (4-byte aligned).
     * @param eventIdx    whether VIRTIO_F_EVENT_IDX was negotiated.
     * @throws IllegalArgumentException when a ring is misaligned or not mapped.
     */
    public DriverVirtqueue(
        final int size,
        final GuestMemory memory,
        final long descTable,
        final long availRing,
        final long usedRing,
        final boolean eventIdx)
    {
        checkQueueSize(size);
        if ((descTable & (DESC_TABLE_ALIGNMENT - 1)) != 0 || (availRing & (AVAIL_RING_ALIGNMENT - 1)) != 0 ||
            (usedRing & (USED_RING_ALIGNMENT - 1)) != 0)
        {
            throw new IllegalArgumentException("misaligned ring: desc=0x" + Long.toHexString(descTable) +
                " avail=0x" + Long.toHexString(availRing) + " used=0x" + Long.toHexString(usedRing));
        }
        this.size = size;
        this.mask = size - 1;
        this.memory = memory;
        this.eventIdx = eventIdx;
        this.descTable.wrap(translate(descTable, descTableLength(size)), descTableLength(size));
        this.availRing.wrap(translate(availRing, availRingLength(size)), availRingLength(size));
        this.usedRing.wrap(translate(usedRing, usedRingLength(size)), usedRingLength(size));
        this.descTable.setMemory(0, this.descTable.capacity(), (byte)0);
        this.availRing.setMemory(0, this.availRing.capacity(), (byte)0);
        this.usedRing.setMemory(0, this.usedRing.capacity(), (byte)0);
        this.shadowNext = new int[size];
        this.chainDescriptors = new int[size];
        for (int i = 0; i < size; i++)
        {
            shadowNext[i] = i + 1;
        }
        freeHead = 0;
        freeCount = size;
    }

    private long translate(final long guestAddress, final int length)
    {
        final long host = memory.translate(guestAddress, length);
        if (host == GuestMemory.NOT_MAPPED)
        {
            throw new IllegalArgumentException("ring at 0x" + Long.toHexString(guestAddress) + " length " + length +
                " is not inside guest memory");
        }
        return host;
    }

    /** @return the queue size. */
    public int size()
    {
        return size;
    }

    /** @return descriptors not currently owned by the device or waiting in the used ring. */
    public int freeDescriptors()
    {
        return freeCount;
    }

    /** @return host address of the descriptor table (for handing the queue to a device in-process). */
    public long descTableAddress()
    {
        return descTable.addressOffset();
    }

    /** @return host address of the available ring. */
    public long availRingAddress()
    {
        return availRing.addressOffset();
    }

    /** @return host address of the used ring. */
    public long usedRingAddress()
    {
        return usedRing.addressOffset();
    }

    /**
     * Adds a single-descriptor buffer to the available ring (not yet published).
     *
     * @param guestAddress   guest-physical address of the buffer.
     * @param length         its length.
     * @param deviceWritable true for receive buffers.
     * @return the head descriptor index, or -1 when no descriptor is free.
     */
    public int addBuffer(final long guestAddress, final int length, final boolean deviceWritable)
    {
        if (freeCount == 0)
        {
            return -1;
        }
        final int head = takeFree();
        writeDescriptor(head, guestAddress, length, deviceWritable ? DESC_F_WRITE : 0, 0);
        chainDescriptors[head] = 1;
        putAvail(head);
        return head;
    }

    /**
     * Adds a chain of {@code count} descriptors, all device-writable or all device-readable (NEXT flags and next
     * indices are filled in).
     *
     * @return the head, or -1 when fewer than {@code count} descriptors are free.
     */
    public int addChain(final long[] guestAddresses, final int[] lengths, final int count, final boolean deviceWritable)
    {
        if (count < 1 || freeCount < count)
        {
            return -1;
        }
        final int flags = deviceWritable ? DESC_F_WRITE : 0;
        final int head = takeFree();
        int current = head;
        for (int i = 0; i < count; i++)
        {
            final boolean last = i == count - 1;
            final int next = last ? 0 : takeFree();
            writeDescriptor(current, guestAddresses[i], lengths[i], flags | (last ? 0 : DESC_F_NEXT), next);
            shadowNext[current] = next;
            current = next;
        }
        chainDescriptors[head] = count;
        putAvail(head);
        return head;
    }

    /**
     * Adds a chain through an indirect table (§2.7.5.3) written at {@code tableAddress} in guest memory: one ring
     * descriptor points at a table of {@code count} descriptors.
     *
     * @return the head, or -1 when no descriptor is free.
     */
    public int addIndirectChain(
        final long tableAddress, final long[] guestAddresses, final int[] lengths, final int count,
        final boolean deviceWritable)
    {
        if (count < 1 || freeCount == 0)
        {
            return -1;
        }
        final int tableLength = count * DESC_SIZE;
        final UnsafeBuffer table = indirectTable;
        table.wrap(translate(tableAddress, tableLength), tableLength);
        final int flags = deviceWritable ? DESC_F_WRITE : 0;
        for (int i = 0; i < count; i++)
        {
            final boolean last = i == count - 1;
            final int offset = i * DESC_SIZE;
            table.putLong(offset + DESC_ADDR_OFFSET, guestAddresses[i]);
            table.putInt(offset + DESC_LEN_OFFSET, lengths[i]);
            table.putShort(offset + DESC_FLAGS_OFFSET, (short)(flags | (last ? 0 : DESC_F_NEXT)));
            table.putShort(offset + DESC_NEXT_OFFSET, (short)(last ? 0 : i + 1));
        }
        final int head = takeFree();
        writeDescriptor(head, tableAddress, tableLength, DESC_F_INDIRECT, 0);
        chainDescriptors[head] = 1;
        putAvail(head);
        return head;
    }

    /**
     * Makes every chain added since the last call visible to the device.
     *
     * @return whether the device asked to be notified (kicked) for these chains (§2.7.10).
     */
    public boolean publishAvail()
    {
        final int oldIdx = publishedAvailIdx;
        final int newIdx = availIdx;
        if (oldIdx == newIdx)
        {
            return false;
        }
        // Release: descriptors and ring entries written above are visible to a device that acquires avail.idx.
        // Volatile, so also the StoreLoad fence before reading the device's suppression state below.
        availRing.putShortVolatile(AVAIL_IDX_OFFSET, (short)newIdx);
        publishedAvailIdx = newIdx;
        if (eventIdx)
        {
            final int availEvent = usedRing.getShortVolatile(availEventOffset(size)) & 0xFFFF;
            return needsEvent(availEvent, newIdx, oldIdx);
        }
        return (usedRing.getShortVolatile(USED_FLAGS_OFFSET) & USED_F_NO_NOTIFY) == 0;
    }

    /**
     * @return used elements the device has published and the driver has not yet released.
     */
    public int usedAvailable()
    {
        int pending = (shadowUsedIdx - lastUsedIdx) & 0xFFFF;
        if (pending == 0)
        {
            // Acquire: pairs with the device's release-store of used.idx.
            shadowUsedIdx = usedRing.getShortVolatile(USED_IDX_OFFSET) & 0xFFFF;
            pending = (shadowUsedIdx - lastUsedIdx) & 0xFFFF;
        }
        return pending;
    }

    /** @return the head id of the used element {@code offset} places past the last released one. */
    public int usedId(final int offset)
    {
        final int id = usedRing.getInt(usedElementOffset(lastUsedIdx + offset, mask) + USED_ELEMENT_ID_OFFSET);
        if (id < 0 || id >= size || chainDescriptors[id] == 0)
        {
            throw new IllegalStateException("device returned used id " + id + " that the driver never made available");
        }
        return id;
    }

    /** @return the bytes written by the device into that used element's chain. */
    public int usedLength(final int offset)
    {
        return usedRing.getInt(usedElementOffset(lastUsedIdx + offset, mask) + USED_ELEMENT_LEN_OFFSET);
    }

    /**
     * Frees the chains of the next {@code count} used elements and moves past them. With EVENT_IDX, also asks for an
     * interrupt only once further used elements arrive (used_event = new last used index).
     */
    public void releaseUsed(final int count)
    {
        for (int i = 0; i < count; i++)
        {
            freeChain(usedId(i));
        }
        lastUsedIdx = (lastUsedIdx + count) & 0xFFFF;
        if (eventIdx)
        {
            availRing.putShort(usedEventOffset(size), (short)lastUsedIdx);
        }
    }

    /** Asks the device not to interrupt (the guest model polls): VIRTQ_AVAIL_F_NO_INTERRUPT. */
    public void suppressInterrupts()
    {
        availRing.putShortVolatile(AVAIL_FLAGS_OFFSET, (short)AVAIL_F_NO_INTERRUPT);
    }

    private int takeFree()
    {
        final int index = freeHead;
        freeHead = shadowNext[index];
        freeCount--;
        return index;
    }

    private void freeChain(final int head)
    {
        int index = head;
        final int count = chainDescriptors[head];
        chainDescriptors[head] = 0;
        for (int i = 1; i < count; i++)
        {
            index = shadowNext[index];
        }
        shadowNext[index] = freeHead;
        freeHead = head;
        freeCount += count;
    }

    private void putAvail(final int head)
    {
        availRing.putShort(availElementOffset(availIdx, mask), (short)head);
        availIdx = (availIdx + 1) & 0xFFFF;
    }

    private void writeDescriptor(final int index, final long address, final int length, final int flags, final int next)
    {
        final int offset = index * DESC_SIZE;
        descTable.putLong(offset + DESC_ADDR_OFFSET, address);
        descTable.putInt(offset + DESC_LEN_OFFSET, length);
        descTable.putShort(offset + DESC_FLAGS_OFFSET, (short)flags);
        descTable.putShort(offset + DESC_NEXT_OFFSET, (short)next);
    }
}
