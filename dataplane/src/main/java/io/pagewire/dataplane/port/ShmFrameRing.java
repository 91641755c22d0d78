package io.pagewire.dataplane.port;

import org.agrona.concurrent.AtomicBuffer;

import java.nio.ByteOrder;

import static io.pagewire.dataplane.port.ShmFrameRingLayout.*;

/**
 * Flyweight over one shared-memory frame ring ({@link ShmFrameRingLayout}): a single-producer single-consumer ring
 * of fixed-size slots whose producer and consumer may be different threads or different processes.
 * <p>
 * Wrapped once per mapping; after construction nothing allocates. The producer side ({@link #claim},
 * {@link #commit}, {@link #freeSlots}) is called by one thread, the consumer side ({@link #available},
 * {@link #frameAddress}, {@link #frameLength}, {@link #release}) by one thread. Each side keeps its own index and a
 * cached copy of the other side's, so <b>each side should use its own instance</b> (in one process: two flyweights
 * over the same memory, or a second mapping through {@link ShmNicPort#attach}); one instance driven by two threads is
 * still correct but its producer and consumer fields share a cache line.
 * <p>
 * <b>Memory ordering</b> (the two pairs a Lamport SPSC ring needs):
 * <ul>
 *   <li>Producer → consumer: the producer writes the frame bytes and the slot's {@code length} with plain stores,
 *       then the producer index with a release store ({@link #commit}). The consumer acquire-loads the producer
 *       index ({@link #available}); every slot below the value it read is complete and visible to its plain
 *       loads.</li>
 *   <li>Consumer → producer: the consumer reads slots with plain loads, then stores the consumer index with a
 *       release store ({@link #release}); its loads of those slots cannot be reordered after that store. The
 *       producer acquire-loads the consumer index before reusing slots ({@link #claim}, {@link #freeSlots}), so it
 *       never overwrites bytes the consumer is still reading.</li>
 * </ul>
 * Both loads of the other side's index happen only when the cached copy is used up (a shadow index, as
 * {@code DeviceVirtqueue} does with {@code avail.idx}): the other side's cache line is pulled at most once per burst.
 * <p>
 * <b>Untrusted peer.</b> When the other side is another process, every number it writes is input:
 * <ul>
 *   <li>A slot {@code length} above {@link #maxFrameLength()} (as u32) is reported by {@link #frameLength} as
 *       {@link #INVALID_LENGTH}; the consumer never reads past the slot. The ring does not count it (a frame left in
 *       the ring for the next poll would be counted twice); the caller drops the frame by releasing it and counts
 *       the drop under its own reason.</li>
 *   <li>An index that breaks the invariant {@code 0 <= producer - consumer <= slotCount} marks the ring
 *       {@linkplain #isBroken() broken}, and no method throws: the side that saw it accepts no further index from
 *       the peer, so once its cached count is used up the consumer sees no frames and the producer no free slots.
 *       Slot positions are always masked, so even a broken ring never touches memory outside its slots.</li>
 * </ul>
 * Header fields (magic, version, geometry) are checked once by the constructor, which throws
 * {@link IllegalArgumentException} naming the bad value.
 */
public final class ShmFrameRing
{
    /** What {@link #frameLength} returns for a slot whose length field exceeds {@link #maxFrameLength()}. */
    public static final int INVALID_LENGTH = -1;

    private static final int NO_CLAIM = -1;

    static
    {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
        {
            // Agrona's atomic accessors use native order; the ring file is little-endian for the other process.
            throw new IllegalStateException("pagewire needs a little-endian host: the shm ring file is little-endian");
        }
    }

    private final AtomicBuffer buffer;
    private final long baseAddress;
    private final int slotCount;
    private final int mask;
    private final int slotSize;
    private final int maxFrameLength;

    // Producer side: touched only by the producer thread.
    private long producerIndex;
    private long consumerIndexCache;
    private int claimedLength = NO_CLAIM;
    private boolean consumerIndexInvalid;

    // Consumer side: touched only by the consumer thread.
    private long consumerIndex;
    private long producerIndexCache;
    private boolean producerIndexInvalid;

    /**
     * Wraps a formatted ring, checking its header.
     *
     * @param buffer the ring's region, off-heap, 8-byte aligned, at least {@link ShmFrameRingLayout#requiredLength}
     *               bytes for the geometry its header declares (more is allowed and ignored).
     * @throws IllegalArgumentException naming the value, when the region is not a pagewire frame ring of this
     *                                  version, its geometry is invalid, or it does not fit the region.
     */
    public ShmFrameRing(final AtomicBuffer buffer)
    {
        checkRegion(buffer, HEADER_LENGTH);
        // Acquire: pairs with the release store of the magic in format(); the geometry written before it is visible.
        final long magic = buffer.getLongAcquire(MAGIC_OFFSET);
        if (magic != MAGIC)
        {
            throw new IllegalArgumentException(String.format(
                "not a pagewire frame ring: magic=0x%016x%s, expected 0x%016x (\"PWFRRING\")",
                magic, magic == 0 ? " (not formatted)" : "", MAGIC));
        }
        final int version = buffer.getInt(VERSION_OFFSET);
        if (version != VERSION)
        {
            throw new IllegalArgumentException(
                "frame ring version=" + version + ": this build reads version " + VERSION);
        }
        final int count = buffer.getInt(SLOT_COUNT_OFFSET);
        final int size = buffer.getInt(SLOT_SIZE_OFFSET);
        final int length;
        try
        {
            length = requiredLength(count, size);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("corrupt frame ring header: " + ex.getMessage(), ex);
        }
        if (buffer.capacity() < length)
        {
            throw new IllegalArgumentException("frame ring of slot count=" + count + ", slot size=" + size +
                " needs " + length + " bytes, its region has " + buffer.capacity());
        }

        this.buffer = buffer;
        this.baseAddress = buffer.addressOffset();
        this.slotCount = count;
        this.mask = count - 1;
        this.slotSize = size;
        this.maxFrameLength = ShmFrameRingLayout.maxFrameLength(size);

        // Each side continues from its own index as stored (it is the only writer of it) and starts with its cache of
        // the other side's index "used up", so its first call loads and validates it. Indices are not checked
        // against each other here: with the peer running, two loads are no consistent snapshot.
        producerIndex = buffer.getLongVolatile(PRODUCER_INDEX_OFFSET);
        consumerIndexCache = producerIndex - slotCount;
        consumerIndex = buffer.getLongVolatile(CONSUMER_INDEX_OFFSET);
        producerIndexCache = consumerIndex;
    }

    /**
     * Writes an empty ring's header into {@code buffer}: both indices 0, the geometry, then the magic. Slot contents
     * are left as they are (no slot is read before it is committed).
     *
     * @param buffer    the region, off-heap, 8-byte aligned, at least {@link ShmFrameRingLayout#requiredLength}.
     * @param slotCount a power of two in 2..65536.
     * @param slotSize  a multiple of 64 in 128..131072, slot header included.
     * @throws IllegalArgumentException naming the value when the geometry is invalid or does not fit.
     */
    public static void format(final AtomicBuffer buffer, final int slotCount, final int slotSize)
    {
        final int length = requiredLength(slotCount, slotSize);
        checkRegion(buffer, length);
        // Magic first to 0, so a concurrent attach sees "not formatted" rather than an old header with new fields.
        buffer.putLongVolatile(MAGIC_OFFSET, 0);
        buffer.setMemory(MAGIC_OFFSET + 8, HEADER_LENGTH - 8, (byte)0);
        buffer.putInt(VERSION_OFFSET, VERSION);
        buffer.putInt(SLOT_COUNT_OFFSET, slotCount);
        buffer.putInt(SLOT_SIZE_OFFSET, slotSize);
        // Release: the geometry and zeroed indices above are visible to whoever acquires this magic.
        buffer.putLongRelease(MAGIC_OFFSET, MAGIC);
    }

    private static void checkRegion(final AtomicBuffer buffer, final int length)
    {
        if (buffer.byteArray() != null)
        {
            throw new IllegalArgumentException("frame ring region must be off-heap (raw addresses are handed out)");
        }
        if (buffer.capacity() < length)
        {
            throw new IllegalArgumentException(
                "frame ring region of " + buffer.capacity() + " bytes: needs at least " + length);
        }
        buffer.verifyAlignment();
    }

    /** @return the number of slots, a power of two. */
    public int slotCount()
    {
        return slotCount;
    }

    /** @return bytes per slot, slot header included. */
    public int slotSize()
    {
        return slotSize;
    }

    /** @return the longest frame a slot holds: {@code slotSize - 8}. */
    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    /** @return bytes the ring takes in its region. */
    public int length()
    {
        return HEADER_LENGTH + slotCount * slotSize;
    }

    /** @return host address of the ring's first byte (its header). */
    public long address()
    {
        return baseAddress;
    }

    /**
     * @return whether an index written by the other side broke the invariant {@code 0 <= producer - consumer <=
     * slotCount} (seen by either side of this instance); a broken ring accepts no further index from the peer.
     */
    public boolean isBroken()
    {
        return producerIndexInvalid || consumerIndexInvalid;
    }

    // ------------------------------------------------------------------------------------------------ producer side

    /**
     * Reserves the next slot for a frame. Calling it again before {@link #commit} reserves the same slot again.
     *
     * @param frameLength bytes the frame needs.
     * @return host address where the frame's bytes go ({@code frameLength} of them), or 0 when the ring is full,
     * broken, or {@code frameLength} is outside {@code 0..maxFrameLength()}.
     */
    public long claim(final int frameLength)
    {
        if (frameLength < 0 || frameLength > maxFrameLength)
        {
            return 0;
        }
        if (producerIndex - consumerIndexCache >= slotCount && refreshConsumerIndex() == 0)
        {
            return 0;
        }
        claimedLength = frameLength;
        return baseAddress + slotOffset(producerIndex, mask, slotSize) + SLOT_FRAME_OFFSET;
    }

    /**
     * Publishes the claimed frame: writes its length into the slot header, then the producer index.
     *
     * @param frameLength bytes written at the claimed address, at most what was claimed.
     * @throws IllegalStateException when nothing is claimed or {@code frameLength} is outside 0..claimed (a bug in
     *                               the caller, not peer input).
     */
    public void commit(final int frameLength)
    {
        if (frameLength < 0 || frameLength > claimedLength)
        {
            throw badCommit(frameLength, claimedLength);
        }
        buffer.putInt(slotOffset(producerIndex, mask, slotSize) + SLOT_LENGTH_OFFSET, frameLength);
        claimedLength = NO_CLAIM;
        producerIndex++;
        // Release: the frame bytes and the slot length stored above are visible to a consumer that acquires this
        // index (available()). On x86 a plain store; one per frame, as TxSink publishes per frame.
        buffer.putLongRelease(PRODUCER_INDEX_OFFSET, producerIndex);
    }

    /**
     * Forgets the claim: nothing is published, and the next {@link #claim} reserves the same slot (the consumer never
     * reads a slot beyond the producer index, so what was written there is not seen).
     */
    public void abandon()
    {
        claimedLength = NO_CLAIM;
    }

    /**
     * Slots the producer may fill now. Always re-reads the consumer index (one acquire load; call it once per burst,
     * not per frame).
     *
     * @return free slots, 0 when full or broken.
     */
    public int freeSlots()
    {
        return refreshConsumerIndex();
    }

    /** @return the producer index as this instance last published it (frames committed since format). */
    public long producerIndex()
    {
        return producerIndex;
    }

    private int refreshConsumerIndex()
    {
        if (consumerIndexInvalid)
        {
            return 0;
        }
        // Acquire: pairs with the consumer's release store in release(); its reads of every slot below this index
        // are complete, so those slots may be overwritten.
        final long consumer = buffer.getLongAcquire(CONSUMER_INDEX_OFFSET);
        final long inFlight = producerIndex - consumer;
        // A consumer never passes what was published, and this producer never runs more than slotCount ahead of any
        // consumer index it saw; anything else is a corrupt or hostile consumer.
        if (inFlight < 0 || inFlight > slotCount)
        {
            consumerIndexInvalid = true;
            return 0;
        }
        consumerIndexCache = consumer;
        return slotCount - (int)inFlight;
    }

    private static IllegalStateException badCommit(final int frameLength, final int claimedLength)
    {
        return new IllegalStateException(claimedLength == NO_CLAIM ?
            "commit(" + frameLength + ") without a claim" :
            "commit(" + frameLength + ") outside 0.." + claimedLength + " claimed");
    }

    // ------------------------------------------------------------------------------------------------ consumer side

    /**
     * How many committed frames wait beyond the consumer index. Re-reads the producer index (acquire) only when the
     * frames seen last time are all released, so a burst costs one load of the producer's cache line.
     *
     * @return frames {@code 0..slotCount} that {@link #frameAddress}/{@link #frameLength} may be asked for; 0 when
     * empty or broken.
     */
    public int available()
    {
        final long cached = producerIndexCache - consumerIndex;
        return cached != 0 ? (int)cached : refreshProducerIndex();
    }

    private int refreshProducerIndex()
    {
        if (producerIndexInvalid)
        {
            return 0;
        }
        // Acquire: pairs with the producer's release store in commit(); the slot lengths and frame bytes of every
        // frame below this index are visible to the plain loads that follow.
        final long producer = buffer.getLongAcquire(PRODUCER_INDEX_OFFSET);
        final long pending = producer - consumerIndex;
        if (pending < 0 || pending > slotCount)
        {
            producerIndexInvalid = true;
            return 0;
        }
        producerIndexCache = producer;
        return (int)pending;
    }

    /**
     * Host address of the {@code i}-th unconsumed frame's bytes. For {@code i >= available()} the address is of some
     * slot of this ring (positions are masked), never outside it.
     *
     * @param i 0 for the oldest unreleased frame, below {@link #available()}.
     */
    public long frameAddress(final int i)
    {
        return baseAddress + slotOffset(consumerIndex + i, mask, slotSize) + SLOT_FRAME_OFFSET;
    }

    /**
     * Length of the {@code i}-th unconsumed frame, read from its slot header once. Use the returned value, not a
     * second read: a hostile producer may rewrite the header, but cannot make the returned value exceed the slot.
     *
     * @param i 0 for the oldest unreleased frame, below {@link #available()}.
     * @return the length in {@code 0..maxFrameLength()}, or {@link #INVALID_LENGTH} when the slot header holds a
     * larger value (as u32): drop the frame (release it) and count it.
     */
    public int frameLength(final int i)
    {
        final int length = buffer.getInt(slotOffset(consumerIndex + i, mask, slotSize) + SLOT_LENGTH_OFFSET);
        return length >= 0 && length <= maxFrameLength ? length : INVALID_LENGTH;
    }

    /**
     * Hands the oldest {@code count} frames back to the producer. Frames not released stay, at the same positions,
     * for the next poll (a frame the guest has no buffers for waits in the NIC ring).
     *
     * @param count frames, {@code 0..available()}.
     * @throws IllegalArgumentException when {@code count} is outside {@code 0..available()} (a bug in the caller).
     */
    public void release(final int count)
    {
        if (count <= 0 || count > producerIndexCache - consumerIndex)
        {
            if (count == 0)
            {
                return;
            }
            throw badRelease(count, producerIndexCache - consumerIndex);
        }
        consumerIndex += count;
        // Release: this consumer's loads of the released slots (the copies out of them) complete before the producer
        // can see the slots free; pairs with the producer's acquire load in claim()/freeSlots().
        buffer.putLongRelease(CONSUMER_INDEX_OFFSET, consumerIndex);
    }

    /** @return the consumer index as this instance last published it (frames released since format). */
    public long consumerIndex()
    {
        return consumerIndex;
    }

    private static IllegalArgumentException badRelease(final int count, final long available)
    {
        return new IllegalArgumentException("release(" + count + ") outside 0.." + available + " available");
    }
}
