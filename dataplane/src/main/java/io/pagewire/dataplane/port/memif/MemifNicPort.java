package io.pagewire.dataplane.port.memif;

import io.pagewire.dataplane.port.NicPort;
import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.status.AtomicCounter;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

import static io.pagewire.dataplane.port.memif.MemifLayout.DESC_FLAGS_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.DESC_FLAG_NEXT;
import static io.pagewire.dataplane.port.memif.MemifLayout.DESC_LENGTH_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.DESC_OFFSET_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.DESC_REGION_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.RING_HEAD_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.RING_TAIL_OFFSET;
import static io.pagewire.dataplane.port.memif.MemifLayout.descAddress;

/**
 * One memif queue pair as the dataplane sees it: frames received on the peer's ring are handed out in place
 * (zero-copy: {@link #rxFrameAddress} points into the shared region), frames to transmit are copied into a free
 * buffer the ring offers ({@link #claim}/{@link #commit}). One dataplane thread calls every {@link NicPort} method;
 * the control thread ({@link MemifNicPortSet}) attaches and detaches connections.
 *
 * <h2>Rings</h2>
 * In memif the client always writes {@code head} and the server {@code tail} (see {@link MemifLayout}). So the
 * index this port publishes and the one it watches depend on the role:
 * <pre>
 *              receive ring                         transmit ring
 *   server     S2M: watch head, publish tail        M2S: watch head (free buffers), publish tail (filled)
 *   client     M2S: watch tail, publish head        S2M: watch tail (consumed), publish head (filled)
 *              (refill: length = buffer size)
 * </pre>
 * Every index read from the peer is checked ({@code 0 <= produced - consumed <= ring size}); every descriptor the
 * peer wrote is copied once, when the burst's index is read, and checked: as server, {@code region} names a mapped
 * region and {@code [offset, offset + length)} lies inside it (u32 + u32 computed in a long, no overflow); as client
 * the buffer address is pagewire's own (the peer's {@code offset} is ignored) and {@code length} must fit the buffer.
 * A bad one is dropped (its length reads -1), counted in {@link MemifCounter#BAD_DESCRIPTORS}, and reported to
 * control, which logs it and disconnects the peer; nothing outside the regions is ever read or written.
 * <p>
 * Chained descriptors ({@link MemifLayout#DESC_FLAG_NEXT}, frames longer than one buffer) are not reassembled: every
 * descriptor of a chain reads as length -1 (the dataplane drops it as a bad NIC frame) and the chain is counted once
 * in {@link MemifCounter#RX_DROPS_CHAINED}. With {@code nic.slot_size} at least the peer's buffer size and frames up
 * to the MTU, peers do not chain.
 *
 * <h2>Connect and disconnect without unmapped memory</h2>
 * Control publishes an immutable {@link MemifConnection} with a volatile store; the dataplane adopts it at the start of
 * {@link #rxAvailable()} and {@link #claim} (one plain load on x86 when nothing changed), then stores the epoch it
 * adopted into {@code acknowledgedEpoch} with release semantics. From then on it holds no address of any older
 * connection: within a burst it uses only what it adopted at that burst's start. On disconnect control:
 * <ol>
 *   <li>publishes a down state (new epoch);</li>
 *   <li>immediately detaches the old regions: their address ranges are remapped ({@code MAP_FIXED}) to private
 *       anonymous pages, atomically, so a dataplane thread still mid-burst reads zeros and writes into a private
 *       page, never an unmapped one, and the peer's memory is released at once;</li>
 *   <li>unmaps those ranges only when {@link #acknowledgedEpoch()} has reached the down state's epoch (the dataplane
 *       has started a burst since), or at close, after the dataplane threads stopped.</li>
 * </ol>
 * While down, {@link #rxAvailable()} is 0 and {@link #claim} hands out a scratch buffer whose frame {@link #commit}
 * drops and counts ({@link MemifCounter#TX_DROPS_DOWN}): the guest's transmit queue keeps flowing, it does not stall.
 *
 * <h2>Ordering</h2>
 * The peer's index is read with an acquire load ({@code getShortAcquire}): the descriptors and buffers it covers
 * were written before the peer's release store. This port's index is written with a release store
 * ({@code putShortRelease}) after its descriptor and buffer writes (tx) or its last reads of the buffers (rx release),
 * pairing with the peer's acquire loads (DPDK {@code rte_atomic_load_explicit(..., acquire)}). Receive indices are
 * published once per burst ({@link #rxRelease}), transmit indices once per burst too ({@link #flush}).
 */
public final class MemifNicPort implements NicPort
{
    private static final VarHandle ACKNOWLEDGED_EPOCH;
    private static final VarHandle FAULT_EPOCH;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            ACKNOWLEDGED_EPOCH = lookup.findVarHandle(MemifNicPort.class, "acknowledgedEpoch", long.class);
            FAULT_EPOCH = lookup.findVarHandle(MemifNicPort.class, "faultEpoch", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** No fault reported. */
    static final long NO_FAULT = -1;

    private static final int NOT_CLAIMED = 0;
    private static final int CLAIMED_RING = 1;
    private static final int CLAIMED_DROP_DOWN = 2;
    private static final int CLAIMED_DROP_TOO_SMALL = 3;
    private static final int CLAIMED_DROP_BAD = 4;

    private final int pair;
    private final int maxFrameLength;
    private final int capacity;
    private final AtomicCounter badDescriptors;
    private final AtomicCounter txDropsDown;
    private final AtomicCounter rxDropsChained;
    private final AtomicCounter txDropsBufferTooSmall;
    private final ByteBuffer scratch;
    private final long scratchAddress;

    // Control -> dataplane.
    private volatile MemifConnection published;
    // Dataplane -> control.
    private volatile long acknowledgedEpoch = -1;
    private volatile long faultEpoch = NO_FAULT;
    private String faultDetail;

    // Dataplane thread only.
    private MemifConnection active;
    private boolean up;
    private boolean client;
    private long[] regionBase = new long[0];
    private long[] regionLength = new long[0];
    private int bufferSize;

    private long rxRing;
    private int rxSize;
    private int rxMask;
    private int rxWatchOffset;
    private int rxCursor;
    private int rxValidated;
    private boolean rxInChain;
    private boolean rxBroken;
    private long rxBuffers;
    private long rxBuffersOffset;
    private final long[] rxAddress;
    private final int[] rxLength;

    private long txRing;
    private int txSize;
    private int txMask;
    private int txWatchOffset;
    private int txPublishOffset;
    private int txCursor;
    /** {@link #txCursor} as last published by {@link #flush()}. */
    private int txPublished;
    private int txLimit;
    private boolean txBroken;
    private long txBuffers;
    private int claimKind = NOT_CLAIMED;

    /**
     * @param pair                  the queue pair this port serves (counter key, log lines).
     * @param capacity              the largest ring this port will be given (descriptors), a power of two.
     * @param maxFrameLength        the longest frame accepted for transmit ({@code nic.slot_size}).
     * @param badDescriptors        {@link MemifCounter#BAD_DESCRIPTORS} of this pair.
     * @param txDropsDown           {@link MemifCounter#TX_DROPS_DOWN} of this pair.
     * @param rxDropsChained        {@link MemifCounter#RX_DROPS_CHAINED} of this pair.
     * @param txDropsBufferTooSmall {@link MemifCounter#TX_DROPS_BUFFER_TOO_SMALL} of this pair.
     */
    MemifNicPort(
        final int pair,
        final int capacity,
        final int maxFrameLength,
        final AtomicCounter badDescriptors,
        final AtomicCounter txDropsDown,
        final AtomicCounter rxDropsChained,
        final AtomicCounter txDropsBufferTooSmall)
    {
        this.pair = pair;
        this.capacity = capacity;
        this.maxFrameLength = maxFrameLength;
        this.badDescriptors = badDescriptors;
        this.txDropsDown = txDropsDown;
        this.rxDropsChained = rxDropsChained;
        this.txDropsBufferTooSmall = txDropsBufferTooSmall;
        this.rxAddress = new long[capacity];
        this.rxLength = new int[capacity];
        this.scratch = BufferUtil.allocateDirectAligned(Math.max(64, alignUp(maxFrameLength)), 64);
        this.scratchAddress = BufferUtil.address(scratch);
        this.published = MemifConnection.down(0);
    }

    private static int alignUp(final int length)
    {
        return (length + 63) & ~63;
    }

    // ----------------------------------------------------------------------------------------- control thread side

    /** Control thread: makes {@code connection} the one the dataplane adopts at its next burst. */
    void publish(final MemifConnection connection)
    {
        if (connection.up() && (1 << Math.max(connection.rxLog2RingSize(), connection.txLog2RingSize())) > capacity)
        {
            throw new IllegalArgumentException("memif ring of 2^" +
                Math.max(connection.rxLog2RingSize(), connection.txLog2RingSize()) + " descriptors: pair " + pair +
                " holds at most " + capacity);
        }
        published = connection;
    }

    /** @return the connection last published (control thread). */
    MemifConnection published()
    {
        return published;
    }

    /** @return the epoch of the last connection the dataplane adopted (-1 before its first burst). */
    long acknowledgedEpoch()
    {
        return acknowledgedEpoch;
    }

    /** @return the epoch of the connection the dataplane found a bad index or descriptor on, or {@link #NO_FAULT}. */
    long faultEpoch()
    {
        return (long)FAULT_EPOCH.getAcquire(this);
    }

    /** @return what the fault was (valid after {@link #faultEpoch()} returned it). */
    String faultDetail()
    {
        return faultDetail;
    }

    /**
     * @param counter one of the per-queue {@link MemifCounter}s.
     * @return its value for this pair.
     */
    public long counterValue(final MemifCounter counter)
    {
        return switch (counter)
        {
            case BAD_DESCRIPTORS -> badDescriptors.get();
            case TX_DROPS_DOWN -> txDropsDown.get();
            case RX_DROPS_CHAINED -> rxDropsChained.get();
            case TX_DROPS_BUFFER_TOO_SMALL -> txDropsBufferTooSmall.get();
            default -> throw new IllegalArgumentException(counter + " is not a per-queue counter");
        };
    }

    /** @return the queue pair. */
    public int pair()
    {
        return pair;
    }

    /** @return whether the dataplane last saw this port connected (tests, diagnostics). */
    public boolean isUp()
    {
        return published.up();
    }

    // ------------------------------------------------------------------------------------------- dataplane side

    private void adoptIfChanged()
    {
        final MemifConnection connection = published;
        if (connection != active)
        {
            adopt(connection);
        }
    }

    private void adopt(final MemifConnection c)
    {
        // Frames committed on the old connection but not flushed yet go to it (its memory is mapped or, once the peer
        // left, a private page): TxReader counted them as sent, so they must not vanish with the switch.
        flush();
        active = c;
        up = c.up();
        claimKind = NOT_CLAIMED;
        rxCursor = 0;
        rxValidated = 0;
        rxInChain = false;
        rxBroken = false;
        txCursor = 0;
        txPublished = 0;
        txBroken = false;
        if (up)
        {
            client = c.client();
            regionBase = c.regionBase();
            regionLength = c.regionLength();
            bufferSize = c.bufferSize();
            rxRing = c.rxRing();
            rxSize = 1 << c.rxLog2RingSize();
            rxMask = rxSize - 1;
            rxBuffers = c.rxBuffers();
            rxBuffersOffset = c.rxBuffersOffset();
            txRing = c.txRing();
            txSize = 1 << c.txLog2RingSize();
            txMask = txSize - 1;
            txBuffers = c.txBuffers();
            // Server: the peer's head says how far descriptors go (rx: filled, tx: free buffers).
            // Client: the peer's tail says how far it got (rx: filled, tx: consumed).
            rxWatchOffset = client ? RING_TAIL_OFFSET : RING_HEAD_OFFSET;
            txWatchOffset = client ? RING_TAIL_OFFSET : RING_HEAD_OFFSET;
            txPublishOffset = client ? RING_HEAD_OFFSET : RING_TAIL_OFFSET;
            txLimit = client ? txSize : 0;
            if (client)
            {
                refill(0, rxSize);
            }
        }
        else
        {
            regionBase = c.regionBase();
            regionLength = c.regionLength();
        }
        // Release: everything this thread did with older connections happens-before control sees this epoch
        // (it then unmaps their memory).
        ACKNOWLEDGED_EPOCH.setRelease(this, c.epoch());
    }

    /**
     * @return whether a fault of the active connection was reported already: callers build the fault's text (which
     * allocates) only for the first one; control disconnects the peer on it.
     */
    private boolean faultReported()
    {
        return faultEpoch == active.epoch();
    }

    private void fault(final String detail)
    {
        faultDetail = "queue pair " + pair + ": " + detail;
        // Release: faultDetail is visible to control when it acquires the epoch.
        FAULT_EPOCH.setRelease(this, active.epoch());
    }

    /**
     * Frames received and not yet released. Adopts a new connection if control published one; reads the peer's
     * index (acquire) only when the frames seen last time are all released, then checks each new descriptor once.
     *
     * @return 0..ring size; 0 while disconnected.
     */
    @Override
    public int rxAvailable()
    {
        adoptIfChanged();
        if (!up)
        {
            return 0;
        }
        final int cached = (rxValidated - rxCursor) & 0xFFFF;
        if (cached != 0 || rxBroken)
        {
            return cached;
        }
        final int produced = UnsafeApi.getShortAcquire(null, rxRing + rxWatchOffset) & 0xFFFF;
        final int count = (produced - rxCursor) & 0xFFFF;
        if (count == 0)
        {
            return 0;
        }
        if (count > rxSize)
        {
            rxBroken = true;
            badDescriptors.incrementRelease();
            if (!faultReported())
            {
                fault("receive ring index " + produced + " is " + count + " ahead of " + rxCursor + ", ring size " +
                rxSize);
            }
            return 0;
        }
        validate(rxCursor, count);
        rxValidated = produced;
        return count;
    }

    private void validate(final int from, final int count)
    {
        final long ring = rxRing;
        final int mask = rxMask;
        boolean inChain = rxInChain;
        for (int i = 0; i < count; i++)
        {
            final int slot = (from + i) & mask;
            final long desc = descAddress(ring, slot);
            final int flags = UnsafeApi.getShort(null, desc + DESC_FLAGS_OFFSET) & 0xFFFF;
            final long length = UnsafeApi.getInt(null, desc + DESC_LENGTH_OFFSET) & 0xFFFF_FFFFL;
            long address;
            if (client)
            {
                address = rxBuffers + (long)slot * bufferSize;
                if (length > bufferSize)
                {
                    address = 0;
                }
            }
            else
            {
                final int region = UnsafeApi.getShort(null, desc + DESC_REGION_OFFSET) & 0xFFFF;
                final long offset = UnsafeApi.getInt(null, desc + DESC_OFFSET_OFFSET) & 0xFFFF_FFFFL;
                // u32 + u32 in a long cannot overflow.
                address = region < regionBase.length && offset + length <= regionLength[region] ?
                    regionBase[region] + offset : 0;
            }
            int frameLength;
            if (address == 0)
            {
                frameLength = -1;
                badDescriptors.incrementRelease();
                if (!faultReported())
                {
                    fault(badDescriptorDetail(slot, desc));
                }
            }
            else
            {
                frameLength = (int)length;
            }
            if ((flags & DESC_FLAG_NEXT) != 0 || inChain)
            {
                if (!inChain)
                {
                    rxDropsChained.incrementRelease();
                }
                frameLength = -1;
                inChain = (flags & DESC_FLAG_NEXT) != 0;
            }
            rxAddress[slot] = address;
            rxLength[slot] = frameLength;
        }
        rxInChain = inChain;
    }

    private String badDescriptorDetail(final int slot, final long desc)
    {
        final long length = UnsafeApi.getInt(null, desc + DESC_LENGTH_OFFSET) & 0xFFFF_FFFFL;
        if (client)
        {
            return "receive descriptor " + slot + ": length " + length + " exceeds the buffer size " + bufferSize;
        }
        final int region = UnsafeApi.getShort(null, desc + DESC_REGION_OFFSET) & 0xFFFF;
        final long offset = UnsafeApi.getInt(null, desc + DESC_OFFSET_OFFSET) & 0xFFFF_FFFFL;
        return "receive descriptor " + slot + ": region " + region + " offset " + offset + " length " + length +
            (region < regionLength.length ? " is outside the region's " + regionLength[region] + " bytes" :
                " names a region the peer never added (" + regionLength.length + " added)");
    }

    /** Host address of the {@code i}-th unreleased frame, in the peer's (server) or pagewire's (client) region. */
    @Override
    public long rxFrameAddress(final int i)
    {
        return rxAddress[(rxCursor + i) & rxMask];
    }

    /** Length of the {@code i}-th unreleased frame, or -1 for a bad or chained descriptor. */
    @Override
    public int rxFrameLength(final int i)
    {
        return rxLength[(rxCursor + i) & rxMask];
    }

    /**
     * Gives {@code count} frames back to the peer with one release store: as server, {@code tail}; as client, the
     * buffers are offered again ({@code length} = buffer size) and {@code head} moves past them.
     */
    @Override
    public void rxRelease(final int count)
    {
        if (count <= 0 || !up)
        {
            return;
        }
        final int available = (rxValidated - rxCursor) & 0xFFFF;
        if (count > available)
        {
            throw new IllegalArgumentException("rxRelease(" + count + ") outside 0.." + available + " available");
        }
        final int oldCursor = rxCursor;
        rxCursor = (rxCursor + count) & 0xFFFF;
        if (client)
        {
            refill(oldCursor + rxSize, count);
        }
        else
        {
            // Release: this thread's reads of the released frames complete before the client may reuse the buffers.
            UnsafeApi.putShortRelease(null, rxRing + RING_TAIL_OFFSET, (short)rxCursor);
        }
    }

    /** Client role: offers buffers {@code from .. from + count} (u16 indices) to the server, then publishes head. */
    private void refill(final int from, final int count)
    {
        final long ring = rxRing;
        final int mask = rxMask;
        final int size = bufferSize;
        for (int i = 0; i < count; i++)
        {
            final int slot = (from + i) & mask;
            final long desc = descAddress(ring, slot);
            UnsafeApi.putShort(null, desc + DESC_FLAGS_OFFSET, (short)0);
            UnsafeApi.putShort(null, desc + DESC_REGION_OFFSET, (short)0);
            UnsafeApi.putInt(null, desc + DESC_OFFSET_OFFSET, (int)(rxBuffersOffset + (long)slot * size));
            UnsafeApi.putInt(null, desc + DESC_LENGTH_OFFSET, size);
        }
        // Release: the descriptors above (and this thread's reads of the buffers they offer) complete before the
        // server sees head move.
        UnsafeApi.putShortRelease(null, ring + RING_HEAD_OFFSET, (short)(from + count));
    }

    /** @return {@code nic.slot_size}: frames up to this long are sent (or dropped and counted, never waited for). */
    @Override
    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    /**
     * Reserves the next free buffer of the transmit ring.
     *
     * @return where to copy the frame: a buffer in the ring; a scratch buffer when the frame is to be dropped
     * (disconnected, longer than the peer's buffer, a bad descriptor), which {@link #commit} counts; or 0 when the
     * ring is full (the frame waits in the guest's queue).
     */
    @Override
    public long claim(final int frameLength)
    {
        // TxReader drops frames longer than maxFrameLength() before claiming, so frameLength fits the scratch buffer.
        adoptIfChanged();
        if (!up)
        {
            claimKind = CLAIMED_DROP_DOWN;
            return scratchAddress;
        }
        if (txBroken)
        {
            // A bad descriptor or index was reported once; drop until control has disconnected the peer.
            return drop(CLAIMED_DROP_BAD);
        }
        if (txCursor == txLimit && !refreshTxLimit())
        {
            return txBroken ? drop(CLAIMED_DROP_BAD) : 0;
        }
        final int slot = txCursor & txMask;
        if (client)
        {
            claimKind = CLAIMED_RING;
            return txBuffers + (long)slot * bufferSize;
        }
        final long desc = descAddress(txRing, slot);
        final int region = UnsafeApi.getShort(null, desc + DESC_REGION_OFFSET) & 0xFFFF;
        final long offset = UnsafeApi.getInt(null, desc + DESC_OFFSET_OFFSET) & 0xFFFF_FFFFL;
        final long room = UnsafeApi.getInt(null, desc + DESC_LENGTH_OFFSET) & 0xFFFF_FFFFL;
        if (region >= regionBase.length || offset + room > regionLength[region])
        {
            badDescriptors.incrementRelease();
            if (!faultReported())
            {
                fault("transmit descriptor " + slot + ": region " + region + " offset " + offset + " length " + room +
                " is outside the peer's regions");
            }
            txBroken = true;
            return drop(CLAIMED_DROP_BAD);
        }
        if (frameLength > room)
        {
            return drop(CLAIMED_DROP_TOO_SMALL);
        }
        claimKind = CLAIMED_RING;
        return regionBase[region] + offset;
    }

    private long drop(final int kind)
    {
        claimKind = kind;
        return scratchAddress;
    }

    private boolean refreshTxLimit()
    {
        if (txBroken)
        {
            return false;
        }
        // Acquire: server: the client's free-buffer descriptors below head are visible; client: the server's reads
        // of the buffers below tail are done, so they may be overwritten.
        final int watched = UnsafeApi.getShortAcquire(null, txRing + txWatchOffset) & 0xFFFF;
        final int limit = client ? (watched + txSize) & 0xFFFF : watched;
        final int free = (limit - txCursor) & 0xFFFF;
        if (free > txSize)
        {
            badDescriptors.incrementRelease();
            if (!faultReported())
            {
                fault("transmit ring index " + watched + " is inconsistent with " + txCursor + ", ring size " +
                    txSize);
            }
            txBroken = true;
            return false;
        }
        txLimit = limit;
        return free != 0;
    }

    /**
     * Publishes the claimed frame: writes its descriptor ({@code length}, {@code flags} 0) and moves this side's
     * index with a release store; or counts the drop when the claim handed out the scratch buffer.
     */
    @Override
    public void commit(final int frameLength)
    {
        final int kind = claimKind;
        claimKind = NOT_CLAIMED;
        switch (kind)
        {
            case CLAIMED_RING ->
            {
                final long desc = descAddress(txRing, txCursor & txMask);
                UnsafeApi.putInt(null, desc + DESC_LENGTH_OFFSET, frameLength);
                UnsafeApi.putShort(null, desc + DESC_FLAGS_OFFSET, (short)0);
                txCursor = (txCursor + 1) & 0xFFFF;
            }
            case CLAIMED_DROP_DOWN -> txDropsDown.incrementRelease();
            case CLAIMED_DROP_TOO_SMALL -> txDropsBufferTooSmall.incrementRelease();
            case CLAIMED_DROP_BAD -> txDropsDown.incrementRelease();
            default -> throw new IllegalStateException("commit(" + frameLength + ") without a claim");
        }
    }

    /**
     * Ends a transmit burst: moves this side's index over every frame committed since the last flush, with one release
     * store (the frame bytes and descriptors are visible to the peer's acquire load of it). Once per burst rather than
     * per frame, so the cache line the peer polls changes hands once per burst.
     */
    @Override
    public void flush()
    {
        if (up && txCursor != txPublished)
        {
            txPublished = txCursor;
            UnsafeApi.putShortRelease(null, txRing + txPublishOffset, (short)txCursor);
        }
    }

    /** Nothing to release but the scratch buffer, which the garbage collector frees with this port. */
    void close()
    {
        claimKind = NOT_CLAIMED;
    }
}
