package io.pagewire.dataplane.port.memif;

import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.NanoClock;
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
 * A bad one drops its whole frame (its length reads -1), is counted in {@link MemifCounter#BAD_DESCRIPTORS}, and
 * reported to control ({@link #faultEpoch()}), which logs it and disconnects the peer; nothing outside the regions is
 * ever read or written.
 *
 * <h2>Frames longer than one buffer (chained descriptors)</h2>
 * A peer chains a frame longer than its buffer size (DPDK and VPP: 2048 by default) over consecutive descriptors,
 * {@link MemifLayout#DESC_FLAG_NEXT} on all but the last; frames up to {@link #MAX_FRAME_LENGTH} bytes go through
 * whole in both directions.
 * <p>
 * <b>Receive.</b> A chain is one frame for the {@link NicPort} API: {@link #rxAvailable} and {@link #rxRelease} count
 * frames, and releasing a frame gives back all its descriptors. Its descriptors are validated one by one, then
 * gathered, in ring order, into a per-port staging area, and {@link #rxFrameAddress} points there; a frame of one
 * descriptor still points into the peer's buffer. This (rather than handing out segments through the
 * {@code NicPort} API, so the RX writers could copy each segment straight into guest buffers) was chosen because:
 * the copy costs only the frames that chain, which are the long ones, where one more copy of a cache-hot staging
 * area is small next to the copy into the guest; every other port (embedded ring, AF_PACKET, pcap), both RX writers
 * and {@code QueuePair} keep one address per frame and a monomorphic, segment-free hot path; and the staging area
 * bounds what a chain can make the dataplane do. DPDK's own memif PMD copies every frame twice (buffer to mbuf to
 * guest), so pagewire is never behind it on chains and stays a copy ahead on everything else. The staging area holds
 * {@link #RX_STAGING_FRAMES} longest frames; a burst whose chains do not fit ends before the first that does not (the
 * rest are seen once the burst is released). A chain not yet complete at the peer's index ends the burst too and
 * waits for its remaining descriptors, but not for ever: a peer that publishes a chain's first descriptors and never
 * the last (NEXT on the last one it published, then nothing) would stall the ring behind it for good, silently. So
 * once the same chain has been incomplete for {@link StallWatch#DEADLINE_NS} (1 s; the port counts the polls that find
 * it so and reads the clock only every {@link StallWatch#SAMPLE_POLLS}-th of them, never on a poll that is not
 * stalled), it is counted in {@link MemifCounter#RX_INCOMPLETE_CHAINS} and reported to control like a bad descriptor
 * (logged once, the peer disconnected with "Incomplete chain"); the next connection starts with a clean ring. A chain
 * completed before the deadline goes through whole, however many polls it waited. A chain whose frame is longer than
 * {@link #MAX_FRAME_LENGTH} is dropped whole (one frame of length -1) and counted in
 * {@link MemifCounter#RX_DROPS_TOO_LONG}; one with a bad descriptor is dropped whole as above; one that fills the
 * whole ring and still says NEXT can never end, so it is dropped whole and reported as a bad descriptor. As server,
 * pagewire clears NEXT on the descriptors of the chains it takes (see {@code clearNextFlags}: DPDK 22.11's client
 * leaves it set).
 * <p>
 * <b>Transmit.</b> As DPDK's {@code eth_memif_tx}: a frame longer than a buffer is written over as many consecutive
 * buffers as it needs (client: {@code nic.slot_size} bytes each; server: each descriptor's length as the client
 * offered it), with NEXT on all but the last descriptor. {@link #claim} hands out one contiguous destination: the
 * ring buffer itself when the frame fits one, else a staging buffer that {@link #commit} scatters over the buffers
 * {@link #claim} reserved and validated. When fewer buffers are free than the frame needs, {@link #claim} returns 0
 * and the frame waits in the guest's queue, as for a full ring (DPDK stops the burst there too); a frame longer than
 * all of the ring's buffers together can never go and is dropped and counted
 * ({@link MemifCounter#TX_DROPS_BUFFER_TOO_SMALL}). A frame is never half-written: the descriptors and the index are
 * written only at {@link #commit}, for all of its buffers.
 * <p>
 * As server the client decides how many free buffers it offers at once. DPDK and VPP offer their whole ring, so a frame
 * that finds too few is behind frames the client has not consumed yet: an ordinary full ring, and the frame waits as
 * long as the client does not consume, as on any NIC (no frame is dropped for backpressure). A client that never
 * offers more than a few buffers at once would hold a frame that needs more in the guest's queue for good, and every
 * frame behind it, visible only as the guest queue's {@code nic_ring_full} cycles. So when the client has never
 * offered more free buffers at once than it does now and they do not hold the frame, the frame is counted in
 * {@link MemifCounter#TX_WAITS_OFFER_TOO_SMALL} (once per frame: the cause of the stall, by name) and, still waiting
 * after {@link StallWatch#DEADLINE_NS} with no more offered, dropped and counted in
 * {@link MemifCounter#TX_DROPS_OFFER_TOO_SMALL}; the next frame gets its own wait. The peer stays connected: offering
 * few buffers is legal, only not enough for that frame. A client that offered more before and offers few now is
 * taken as one that has not consumed, and its frames wait. As client none of this arises: the buffers are pagewire's,
 * the ring's size at most, and the server frees them in order as it consumes.
 *
 * <h2>Connect and disconnect without unmapped memory</h2>
 * Control publishes an immutable {@link MemifConnection} with a volatile store; the dataplane adopts it at the start of
 * {@link #rxAvailable()} and {@link #claim} (one plain load on x86 when nothing changed), then stores the epoch it
 * adopted into {@code acknowledgedEpoch} with release semantics. From then on it holds no address of any older
 * connection: within a burst it uses only what it adopted at that burst's start. On disconnect control:
 * <ol>
 *   <li>publishes a down state (new epoch);</li>
 *   <li>unmaps the old regions only when {@link #acknowledgedEpoch()} has reached the down state's epoch (the dataplane
 *       has started a burst since), or is {@link #PARKED}, or at close, after the dataplane threads stopped. Until
 *       then they stay mapped as they were: a dataplane thread still mid-burst reads the frames the peer published
 *       before it left, intact (regions are sealed against shrinking), never zeros or an unmapped page, so a frame
 *       handed out zero-copy is delivered whole or not at all.</li>
 * </ol>
 * A port no queue pair polls would never acknowledge anything, and every retired region would stay mapped. So the
 * port is <em>parked</em> until its first burst, and again when its pair detaches ({@link #guestFeatures} with 0, on
 * the polling thread): {@code acknowledgedEpoch} reads {@link #PARKED}, which lets control unmap everything retired;
 * the next burst leaves the parked state with a Dekker handshake (see {@code adopt}) before it touches any memory.
 * <p>
 * While down, {@link #rxAvailable()} is 0 and {@link #claim} hands out a scratch buffer whose frame {@link #commit}
 * drops and counts ({@link MemifCounter#TX_DROPS_DOWN}): the guest's transmit queue keeps flowing, it does not stall.
 * Frames committed to a connection control ended before {@link #flush} published them are not published into the
 * dead ring but dropped and counted in {@link MemifCounter#TX_DROPS_PEER_LEFT}; as client, so are the frames the
 * server had not consumed when it left (as server the client's consumption is not visible: those count as sent).
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
    /**
     * {@link #acknowledgedEpoch()} of a port no dataplane thread polls (no queue pair attached, or detached since): it
     * touches no connection's memory until it has adopted the one published then, so every retired mapping may go.
     */
    static final long PARKED = Long.MAX_VALUE;
    /** {@link #acknowledgedEpoch()} while leaving the parked state before a connection was ever adopted. */
    private static final long NOTHING_ACKNOWLEDGED = -1;
    /** {@link #active} while parked: never published, so the next burst always goes through {@link #adopt}. */
    private static final MemifConnection PARKED_STATE = MemifConnection.down(-1);
    /** {@link #faultReason()} of a descriptor or ring index outside the peer's memory or ring. */
    static final String FAULT_BAD_DESCRIPTOR = "Bad descriptor";
    /** {@link #faultReason()} of a receive chain the peer left unfinished for {@link StallWatch#DEADLINE_NS}. */
    static final String FAULT_INCOMPLETE_CHAIN = "Incomplete chain";

    private static final int NOT_CLAIMED = 0;
    private static final int CLAIMED_RING = 1;
    private static final int CLAIMED_DROP_DOWN = 2;
    private static final int CLAIMED_DROP_TOO_SMALL = 3;
    private static final int CLAIMED_DROP_BAD = 4;
    private static final int CLAIMED_CHAIN = 5;
    private static final int CLAIMED_DROP_OFFER_TOO_SMALL = 6;

    /** In a copied receive descriptor's length: the NEXT flag, above the u32 length. */
    private static final long NEXT_BIT = 1L << 32;

    /** The longest frame, chained or not, either way: what a virtio-net frame without GSO can be. */
    public static final int MAX_FRAME_LENGTH = VirtioNetHeader.MAX_FRAME_LENGTH;
    /** Longest frames the receive staging area holds at once (chained frames of one burst). */
    static final int RX_STAGING_FRAMES = 4;

    private final int pair;
    private final int capacity;
    private final AtomicCounter badDescriptors;
    private final AtomicCounter txDropsDown;
    private final AtomicCounter rxDropsTooLong;
    private final AtomicCounter txDropsBufferTooSmall;
    private final AtomicCounter rxIncompleteChains;
    private final AtomicCounter txWaitsOfferTooSmall;
    private final AtomicCounter txDropsOfferTooSmall;
    private final AtomicCounter txDropsPeerLeft;
    private final StallWatch rxStall = new StallWatch();
    private final StallWatch txStall = new StallWatch();
    private final ByteBuffer scratch;
    private final long scratchAddress;
    private final ByteBuffer rxStaging;
    private final long rxStagingAddress;
    private final int rxStagingCapacity;

    // Control -> dataplane.
    private volatile MemifConnection published;
    // Dataplane -> control.
    private volatile long acknowledgedEpoch = PARKED;
    private volatile long faultEpoch = NO_FAULT;
    private String faultReason;
    private String faultDetail;

    // Dataplane thread only.
    private MemifConnection active = PARKED_STATE;
    /** While parked: the connection adopted before (null if none), resumed if it is still the one published. */
    private MemifConnection parkedFrom;
    /** The thread of the last adoption: only it may park the port (see {@link #guestFeatures}). */
    private Thread dataplaneThread;
    private boolean up;
    private boolean client;
    private long[] regionBase = new long[0];
    private long[] regionLength = new long[0];
    private int bufferSize;

    private long rxRing;
    private int rxSize;
    private int rxMask;
    private int rxWatchOffset;
    /** First descriptor (u16 index) not yet released. */
    private int rxCursor;
    private boolean rxBroken;
    private long rxBuffers;
    private long rxBuffersOffset;
    /** Copies of the burst's descriptors by position from {@link #rxCursor}: buffer address (0: bad) and length. */
    private final long[] rxDescAddress;
    private final long[] rxDescLength;
    /** The burst's frames: where, how long (-1: dropped), and the u16 descriptor index just after each. */
    private final long[] rxFrameAddresses;
    private final int[] rxFrameLengths;
    private final int[] rxFrameEnds;
    private int rxFirstFrame;
    private int rxFrames;

    private long txRing;
    private int txSize;
    private int txMask;
    private int txWatchOffset;
    private int txPublishOffset;
    private int txCursor;
    /** {@link #txCursor} as last published by {@link #flush()}. */
    private int txPublished;
    /** Frames committed since the last {@link #flush()}: what {@link #txCursor} - {@link #txPublished} holds. */
    private int txUnpublishedFrames;
    private int txLimit;
    /** Server role: the most free buffers the client has offered at once on this connection. */
    private int txMostOffered;
    private boolean txBroken;
    private long txBuffers;
    private int claimKind = NOT_CLAIMED;
    /** The buffers the last claim reserved (validated) and the bytes each takes; for a chain, the claimed length. */
    private final long[] txSegmentAddress;
    private final int[] txSegmentRoom;
    private int txSegments;
    private int txClaimLength;

    /**
     * @param pair                  the queue pair this port serves (counter key, log lines).
     * @param capacity              the largest ring this port will be given (descriptors), a power of two.
     * @param badDescriptors        {@link MemifCounter#BAD_DESCRIPTORS} of this pair.
     * @param txDropsDown           {@link MemifCounter#TX_DROPS_DOWN} of this pair.
     * @param rxDropsTooLong        {@link MemifCounter#RX_DROPS_TOO_LONG} of this pair.
     * @param txDropsBufferTooSmall {@link MemifCounter#TX_DROPS_BUFFER_TOO_SMALL} of this pair.
     * @param rxIncompleteChains    {@link MemifCounter#RX_INCOMPLETE_CHAINS} of this pair.
     * @param txWaitsOfferTooSmall  {@link MemifCounter#TX_WAITS_OFFER_TOO_SMALL} of this pair.
     * @param txDropsOfferTooSmall  {@link MemifCounter#TX_DROPS_OFFER_TOO_SMALL} of this pair.
     * @param txDropsPeerLeft       {@link MemifCounter#TX_DROPS_PEER_LEFT} of this pair.
     */
    MemifNicPort(
        final int pair,
        final int capacity,
        final AtomicCounter badDescriptors,
        final AtomicCounter txDropsDown,
        final AtomicCounter rxDropsTooLong,
        final AtomicCounter txDropsBufferTooSmall,
        final AtomicCounter rxIncompleteChains,
        final AtomicCounter txWaitsOfferTooSmall,
        final AtomicCounter txDropsOfferTooSmall,
        final AtomicCounter txDropsPeerLeft)
    {
        this.pair = pair;
        this.capacity = capacity;
        this.badDescriptors = badDescriptors;
        this.txDropsDown = txDropsDown;
        this.rxDropsTooLong = rxDropsTooLong;
        this.txDropsBufferTooSmall = txDropsBufferTooSmall;
        this.rxIncompleteChains = rxIncompleteChains;
        this.txWaitsOfferTooSmall = txWaitsOfferTooSmall;
        this.txDropsOfferTooSmall = txDropsOfferTooSmall;
        this.txDropsPeerLeft = txDropsPeerLeft;
        this.rxDescAddress = new long[capacity];
        this.rxDescLength = new long[capacity];
        this.rxFrameAddresses = new long[capacity];
        this.rxFrameLengths = new int[capacity];
        this.rxFrameEnds = new int[capacity];
        this.txSegmentAddress = new long[capacity];
        this.txSegmentRoom = new int[capacity];
        // The transmit scratch buffer takes dropped frames and is the staging area of chained ones.
        this.scratch = BufferUtil.allocateDirectAligned(alignUp(MAX_FRAME_LENGTH), 64);
        this.scratchAddress = BufferUtil.address(scratch);
        this.rxStaging = BufferUtil.allocateDirectAligned(RX_STAGING_FRAMES * alignUp(MAX_FRAME_LENGTH), 64);
        this.rxStagingAddress = BufferUtil.address(rxStaging);
        this.rxStagingCapacity = rxStaging.capacity();
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

    /**
     * @return the epoch of the last connection the dataplane adopted, or {@link #PARKED} while no dataplane thread
     * polls the port (before its first burst, and after its queue pair detached).
     */
    long acknowledgedEpoch()
    {
        return acknowledgedEpoch;
    }

    /** @return the epoch of the connection the dataplane found a bad index or descriptor on, or {@link #NO_FAULT}. */
    long faultEpoch()
    {
        return (long)FAULT_EPOCH.getAcquire(this);
    }

    /**
     * @return the fault's reason for the peer, {@link #FAULT_BAD_DESCRIPTOR} or {@link #FAULT_INCOMPLETE_CHAIN} (valid
     * after {@link #faultEpoch()} returned it).
     */
    String faultReason()
    {
        return faultReason;
    }

    /** @return what the fault was, with its values (valid after {@link #faultEpoch()} returned it). */
    String faultDetail()
    {
        return faultDetail;
    }

    /** Tests: the clock the stall deadlines read, before the dataplane runs. */
    void clock(final NanoClock clock)
    {
        rxStall.clock(clock);
        txStall.clock(clock);
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
            case RX_DROPS_TOO_LONG -> rxDropsTooLong.get();
            case TX_DROPS_BUFFER_TOO_SMALL -> txDropsBufferTooSmall.get();
            case RX_INCOMPLETE_CHAINS -> rxIncompleteChains.get();
            case TX_WAITS_OFFER_TOO_SMALL -> txWaitsOfferTooSmall.get();
            case TX_DROPS_OFFER_TOO_SMALL -> txDropsOfferTooSmall.get();
            case TX_DROPS_PEER_LEFT -> txDropsPeerLeft.get();
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

    /**
     * Switches to the connection control published. Leaving a connection that was up (the peer left, or control
     * dropped it): frames committed to it since the last {@link #flush} are not published (they could not reach the
     * peer) but counted in {@link MemifCounter#TX_DROPS_PEER_LEFT}, and so are, as client, frames published that the
     * server had not consumed. Both were counted as sent by the transmit reader.
     */
    private void adopt(final MemifConnection seen)
    {
        MemifConnection c = seen;
        dataplaneThread = Thread.currentThread();
        if (active == PARKED_STATE)
        {
            final MemifConnection from = parkedFrom;
            parkedFrom = null;
            // Leaving the parked state is a Dekker handshake with control's teardown (publish the down state, a
            // volatile store, then read acknowledgedEpoch, a volatile read): a volatile store of the epoch it parked
            // on, then a volatile re-read of the published connection. Either control sees this store, and keeps
            // every mapping retired after that epoch, or this re-read sees control's later publication, and nothing
            // of the connection parked on (whose memory control may have unmapped meanwhile) is touched again.
            ACKNOWLEDGED_EPOCH.setVolatile(this, from == null ? NOTHING_ACKNOWLEDGED : from.epoch());
            c = published;
            if (c == from)
            {
                // Still the same connection: carry on where the port stopped (frames left unreleased included).
                active = from;
                up = from.up();
                return;
            }
        }
        else
        {
            leave();
        }
        active = c;
        up = c.up();
        claimKind = NOT_CLAIMED;
        txUnpublishedFrames = 0;
        rxCursor = 0;
        rxFirstFrame = 0;
        rxFrames = 0;
        rxBroken = false;
        txCursor = 0;
        txPublished = 0;
        txMostOffered = 0;
        txBroken = false;
        rxStall.clear();
        txStall.clear();
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
     * Accounts for the frames of the connection being left (its memory is still mapped: control unmaps it only once
     * this thread acknowledged a later epoch).
     */
    private void leave()
    {
        if (!up)
        {
            return;
        }
        long lost = txUnpublishedFrames;
        if (client)
        {
            // Acquire: pairs with the server's release store of tail after its last reads of our buffers.
            final int consumed = UnsafeApi.getShortAcquire(null, txRing + RING_TAIL_OFFSET) & 0xFFFF;
            final int inRing = (txPublished - consumed) & 0xFFFF;
            if (inRing <= txSize)
            {
                // Descriptors are pagewire's own (its region): a frame ends at the first one without NEXT.
                for (int i = 0; i < inRing; i++)
                {
                    final long desc = descAddress(txRing, (consumed + i) & txMask);
                    if ((UnsafeApi.getShort(null, desc + DESC_FLAGS_OFFSET) & DESC_FLAG_NEXT) == 0)
                    {
                        lost++;
                    }
                }
            }
        }
        if (lost != 0)
        {
            txDropsPeerLeft.getAndAddRelease(lost);
        }
    }

    /**
     * The queue pair detached (dataplane thread, between bursts): publishes what it committed, then promises to touch
     * no connection's memory until its next burst has adopted the connection published then, and says so with
     * {@link #PARKED}, so control may unmap every retired region meanwhile (a port no pair polls would otherwise
     * keep them all: the acknowledgement control waits for would never come).
     */
    private void park()
    {
        if (active == PARKED_STATE)
        {
            return;
        }
        flush();
        claimKind = NOT_CLAIMED;
        parkedFrom = active;
        active = PARKED_STATE;
        up = false;
        // Release: every access of this thread to the connection's memory happens-before control sees PARKED.
        ACKNOWLEDGED_EPOCH.setRelease(this, PARKED);
    }

    /**
     * @return whether a fault of the active connection was reported already: callers build the fault's text (which
     * allocates) only for the first one; control disconnects the peer on it.
     */
    private boolean faultReported()
    {
        return faultEpoch == active.epoch();
    }

    private void fault(final String reason, final String detail)
    {
        faultReason = reason;
        faultDetail = "queue pair " + pair + ": " + detail;
        // Release: faultReason and faultDetail are visible to control when it acquires the epoch.
        FAULT_EPOCH.setRelease(this, active.epoch());
    }

    /**
     * Frames received and not yet released. Adopts a new connection if control published one; reads the peer's
     * index (acquire) only when the frames seen last time are all released, then checks each new descriptor once and
     * assembles the frames (see the class comment for chains).
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
        final int cached = rxFrames - rxFirstFrame;
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
                fault(FAULT_BAD_DESCRIPTOR, "receive ring index " + produced + " is " + count + " ahead of " +
                    rxCursor + ", ring size " + rxSize);
            }
            return 0;
        }
        copyDescriptors(count);
        return assembleFrames(count);
    }

    /**
     * Copies and checks the {@code count} descriptors from {@link #rxCursor} once: each later step uses only these
     * copies, so a peer rewriting a descriptor meanwhile changes nothing.
     */
    private void copyDescriptors(final int count)
    {
        final long ring = rxRing;
        final int mask = rxMask;
        final int from = rxCursor;
        for (int i = 0; i < count; i++)
        {
            final int slot = (from + i) & mask;
            final long desc = descAddress(ring, slot);
            final int flags = UnsafeApi.getShort(null, desc + DESC_FLAGS_OFFSET) & 0xFFFF;
            final long length = UnsafeApi.getInt(null, desc + DESC_LENGTH_OFFSET) & 0xFFFF_FFFFL;
            long address;
            if (client)
            {
                address = length <= bufferSize ? rxBuffers + (long)slot * bufferSize : 0;
            }
            else
            {
                final int region = UnsafeApi.getShort(null, desc + DESC_REGION_OFFSET) & 0xFFFF;
                final long offset = UnsafeApi.getInt(null, desc + DESC_OFFSET_OFFSET) & 0xFFFF_FFFFL;
                // u32 + u32 in a long cannot overflow.
                address = region < regionBase.length && offset + length <= regionLength[region] ?
                    regionBase[region] + offset : 0;
            }
            rxDescAddress[i] = address;
            // The flag rides in bit 32, above the u32 length.
            rxDescLength[i] = length | ((flags & DESC_FLAG_NEXT) != 0 ? NEXT_BIT : 0);
        }
    }

    /**
     * Turns the copied descriptors into frames: a descriptor without NEXT ends a frame. Stops before a chain the peer
     * has not finished producing (it is assembled once complete, see {@link #awaitChainEnd}) and before a chain the
     * staging area has no room left for (it is assembled in the next burst).
     *
     * @return frames assembled.
     */
    private int assembleFrames(final int count)
    {
        final int mask = rxMask;
        final int from = rxCursor;
        int frames = 0;
        long staged = 0;
        int next = 0;
        boolean incomplete = false;
        while (next < count)
        {
            final int start = next;
            long total = 0;
            int bad = 0;
            int firstBad = -1;
            boolean more = true;
            while (more && next < count)
            {
                final long lengthAndFlag = rxDescLength[next];
                more = (lengthAndFlag & NEXT_BIT) != 0;
                total += lengthAndFlag & 0xFFFF_FFFFL;
                if (rxDescAddress[next] == 0 && bad++ == 0)
                {
                    firstBad = (from + next) & mask;
                }
                next++;
            }
            final boolean endless = more && next - start == rxSize;
            if (more && !endless)
            {
                // The chain continues past the peer's index: wait for the rest (this burst ends before it).
                awaitChainEnd((from + start) & 0xFFFF, next - start);
                incomplete = true;
                next = start;
                break;
            }
            long address = 0;
            int length = -1;
            if (endless || bad != 0)
            {
                badDescriptors.getAndAddRelease(bad + (endless ? 1 : 0));
                if (!faultReported())
                {
                    fault(FAULT_BAD_DESCRIPTOR, bad != 0 ? badDescriptorDetail(firstBad) :
                        "receive chain from descriptor " + (from & mask) + " fills the whole ring of " + rxSize +
                        " and never ends");
                }
            }
            else if (total > MAX_FRAME_LENGTH)
            {
                rxDropsTooLong.incrementRelease();
            }
            else if (next - start == 1)
            {
                address = rxDescAddress[start];
                length = (int)total;
            }
            else
            {
                if (staged + total > rxStagingCapacity)
                {
                    next = start;
                    break;
                }
                address = rxStagingAddress + staged;
                length = (int)total;
                gather(start, next, address);
                staged += alignUp(length);
            }
            if (next - start > 1 && !client)
            {
                clearNextFlags(from + start, next - start);
            }
            rxFrameAddresses[frames] = address;
            rxFrameLengths[frames] = length;
            rxFrameEnds[frames] = (from + next) & 0xFFFF;
            frames++;
        }
        if (!incomplete)
        {
            rxStall.clear();
        }
        rxFirstFrame = 0;
        rxFrames = frames;
        return frames;
    }

    /**
     * The chain from descriptor {@code first} (u16 index) has {@code published} descriptors up to the peer's index,
     * the last with NEXT: the peer may be between two index stores of one chain, so its rest is waited for, but not
     * for ever. Everything behind it in the ring waits with it, so once the same chain has stayed incomplete for
     * {@link StallWatch#DEADLINE_NS} (polls counted, the clock sampled: see {@link StallWatch}) it is counted in
     * {@link MemifCounter#RX_INCOMPLETE_CHAINS}, receiving stops (frames before it in the burst are still handed out)
     * and the fault is reported: control logs it and disconnects the peer, and the next connection starts afresh.
     */
    private void awaitChainEnd(final int first, final int published)
    {
        rxStall.stalled(first);
        if (!rxStall.expired())
        {
            return;
        }
        rxIncompleteChains.incrementRelease();
        rxBroken = true;
        if (!faultReported())
        {
            fault(FAULT_INCOMPLETE_CHAIN, "receive chain from descriptor " + (first & rxMask) + " still incomplete " +
                "after " + rxStall.stalledMs() + " ms: " + published + " descriptor(s) up to the peer's index " +
                ((first + published) & 0xFFFF) + ", the last with NEXT");
        }
    }

    /**
     * Server role: clears NEXT on a chain's descriptors (the client's, but pagewire's until it moves tail past them).
     * DPDK 22.11's client sets NEXT on a chain's descriptors and never clears it on the first descriptor of a later
     * frame, so a one-buffer frame in a slot that once carried a chain would read as chained into the next frame.
     * A client following memif rewrites the flags anyway; the cost falls on chains only.
     */
    private void clearNextFlags(final int first, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            UnsafeApi.putShort(null, descAddress(rxRing, (first + i) & rxMask) + DESC_FLAGS_OFFSET, (short)0);
        }
    }

    /** Copies the buffers of descriptors {@code start..end} (burst positions), in order, to {@code destination}. */
    private void gather(final int start, final int end, final long destination)
    {
        long to = destination;
        for (int i = start; i < end; i++)
        {
            final long length = rxDescLength[i] & 0xFFFF_FFFFL;
            MemoryCopy.copy(rxDescAddress[i], to, length);
            to += length;
        }
    }

    private String badDescriptorDetail(final int slot)
    {
        final long desc = descAddress(rxRing, slot);
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

    /**
     * Host address of the {@code i}-th unreleased frame: in the peer's (server) or pagewire's (client) region for a
     * frame of one descriptor, in the staging area for a chained one.
     */
    @Override
    public long rxFrameAddress(final int i)
    {
        return rxFrameAddresses[rxFirstFrame + i];
    }

    /** Length of the {@code i}-th unreleased frame, or -1 for a dropped one (bad descriptor, chain too long). */
    @Override
    public int rxFrameLength(final int i)
    {
        return rxFrameLengths[rxFirstFrame + i];
    }

    /**
     * Gives {@code count} frames, with every descriptor of each, back to the peer with one release store: as server,
     * {@code tail}; as client, the buffers are offered again ({@code length} = buffer size) and {@code head} moves
     * past them.
     */
    @Override
    public void rxRelease(final int count)
    {
        if (count <= 0 || !up)
        {
            return;
        }
        final int available = rxFrames - rxFirstFrame;
        if (count > available)
        {
            throw new IllegalArgumentException("rxRelease(" + count + ") outside 0.." + available + " available");
        }
        final int oldCursor = rxCursor;
        rxFirstFrame += count;
        rxCursor = rxFrameEnds[rxFirstFrame - 1];
        if (client)
        {
            refill(oldCursor + rxSize, (rxCursor - oldCursor) & 0xFFFF);
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

    /**
     * @return {@link #MAX_FRAME_LENGTH}: longer frames are dropped by the transmit reader; shorter ones are sent,
     * chained over as many buffers as they need.
     */
    @Override
    public int maxFrameLength()
    {
        return MAX_FRAME_LENGTH;
    }

    /**
     * Reserves the free buffers of the transmit ring the frame needs: one, or several for a chain.
     *
     * @return where to copy the frame: the ring's buffer when one holds it; the staging buffer that {@link #commit}
     * scatters over the reserved buffers when it takes several; a scratch buffer when the frame is to be dropped
     * (disconnected, longer than all of the ring's buffers, a bad descriptor), which {@link #commit} counts; or 0
     * when fewer buffers are free than it needs (the frame waits in the guest's queue).
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
        final int segments = client ? reserveOwnBuffers(frameLength) : reserveOfferedBuffers(frameLength);
        if (segments <= 0)
        {
            return segments == 0 ? 0 : scratchAddress;
        }
        if (segments == 1)
        {
            claimKind = CLAIMED_RING;
            return txSegmentAddress[0];
        }
        claimKind = CLAIMED_CHAIN;
        txSegments = segments;
        txClaimLength = frameLength;
        return scratchAddress;
    }

    /**
     * Client role: the buffers are pagewire's own, {@code bufferSize} bytes each, one per slot.
     *
     * @return buffers reserved; 0 when too few are free; -1 when the frame is dropped ({@link #claimKind} says why).
     */
    private int reserveOwnBuffers(final int frameLength)
    {
        final int needed = frameLength <= bufferSize ? 1 : (int)(((long)frameLength + bufferSize - 1) / bufferSize);
        if (needed > txSize)
        {
            drop(CLAIMED_DROP_TOO_SMALL);
            return -1;
        }
        if (((txLimit - txCursor) & 0xFFFF) < needed)
        {
            final int free = refreshTxLimit();
            if (free < 0)
            {
                drop(CLAIMED_DROP_BAD);
                return -1;
            }
            if (free < needed)
            {
                return 0;
            }
        }
        int remaining = frameLength;
        for (int i = 0; i < needed; i++)
        {
            txSegmentAddress[i] = txBuffers + (long)((txCursor + i) & txMask) * bufferSize;
            txSegmentRoom[i] = Math.min(remaining, bufferSize);
            remaining -= bufferSize;
        }
        return needed;
    }

    /**
     * Server role: the buffers are those the client offered on the M2S ring, each descriptor naming its own region,
     * offset and length; each is checked against the client's regions once, here, and used only through that copy.
     *
     * @return buffers reserved; 0 when too few are free; -1 when the frame is dropped ({@link #claimKind} says why).
     */
    private int reserveOfferedBuffers(final int frameLength)
    {
        int free = (txLimit - txCursor) & 0xFFFF;
        long room = 0;
        int taken = 0;
        while (taken == 0 || room < frameLength)
        {
            if (taken == free)
            {
                free = refreshTxLimit();
                if (free < 0)
                {
                    drop(CLAIMED_DROP_BAD);
                    return -1;
                }
                if (taken == free)
                {
                    if (free < txSize)
                    {
                        return awaitOffer(frameLength, free);
                    }
                    // Every buffer of the ring together is too small: this frame can never go.
                    drop(CLAIMED_DROP_TOO_SMALL);
                    return -1;
                }
            }
            final int slot = (txCursor + taken) & txMask;
            final long desc = descAddress(txRing, slot);
            final int region = UnsafeApi.getShort(null, desc + DESC_REGION_OFFSET) & 0xFFFF;
            final long offset = UnsafeApi.getInt(null, desc + DESC_OFFSET_OFFSET) & 0xFFFF_FFFFL;
            final long length = UnsafeApi.getInt(null, desc + DESC_LENGTH_OFFSET) & 0xFFFF_FFFFL;
            if (region >= regionBase.length || offset + length > regionLength[region])
            {
                badDescriptors.incrementRelease();
                if (!faultReported())
                {
                    fault(FAULT_BAD_DESCRIPTOR, "transmit descriptor " + slot + ": region " + region + " offset " +
                        offset + " length " + length + " is outside the peer's regions");
                }
                txBroken = true;
                drop(CLAIMED_DROP_BAD);
                return -1;
            }
            final long take = Math.min(length, frameLength - room);
            txSegmentAddress[taken] = regionBase[region] + offset;
            txSegmentRoom[taken] = (int)take;
            room += take;
            taken++;
        }
        txStall.clear();
        return taken;
    }

    /**
     * Server role: the frame does not fit the {@code free} buffers the client offers, fewer than its ring holds.
     * When the client has offered more at once before (or nothing yet), the ring is full as any ring gets: the client
     * has not consumed what it was given, and the frame waits as long as that lasts, as on a NIC. When it has never
     * offered more than now, it may never offer enough (a client that refills only a few buffers at a time): the frame
     * waits, counted once in {@link MemifCounter#TX_WAITS_OFFER_TOO_SMALL}, and once it has waited
     * {@link StallWatch#DEADLINE_NS} with the client offering no more than that, it is dropped and counted in
     * {@link MemifCounter#TX_DROPS_OFFER_TOO_SMALL}, so the frames behind it in the guest's queue move on. A client
     * that offers more meanwhile but still not enough stays in this case; one that offers enough sends the frame.
     *
     * @return 0: the frame waits; -1: it is dropped ({@link #claimKind} says why).
     */
    private int awaitOffer(final int frameLength, final int free)
    {
        if (free == 0 || free < txMostOffered)
        {
            txStall.clear();
            return 0;
        }
        // The frame is named by its length and the slot it waits at: a different frame starts a new deadline.
        if (txStall.stalled(((long)frameLength << 16) | txCursor))
        {
            txWaitsOfferTooSmall.incrementRelease();
        }
        if (!txStall.expired())
        {
            return 0;
        }
        txStall.clear();
        drop(CLAIMED_DROP_OFFER_TOO_SMALL);
        return -1;
    }

    private long drop(final int kind)
    {
        claimKind = kind;
        return scratchAddress;
    }

    /**
     * Reads the peer's transmit-side index and recomputes how far this side may write.
     *
     * @return buffers free from {@link #txCursor}, or -1 when the ring is broken (reported once).
     */
    private int refreshTxLimit()
    {
        if (txBroken)
        {
            return -1;
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
                fault(FAULT_BAD_DESCRIPTOR, "transmit ring index " + watched + " is inconsistent with " + txCursor +
                    ", ring size " + txSize);
            }
            txBroken = true;
            return -1;
        }
        txLimit = limit;
        if (free > txMostOffered)
        {
            txMostOffered = free;
        }
        return free;
    }

    /**
     * Publishes the claimed frame: for one buffer writes its descriptor ({@code length}, {@code flags} 0); for a
     * chain copies the staging buffer over the reserved buffers and writes each descriptor ({@code length} = bytes in
     * it, NEXT on all but the last); this side's index moves at {@link #flush}. Or counts the drop when the claim
     * handed out the scratch buffer.
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
                txUnpublishedFrames++;
            }
            case CLAIMED_CHAIN -> scatter(frameLength);
            case CLAIMED_DROP_DOWN -> txDropsDown.incrementRelease();
            case CLAIMED_DROP_TOO_SMALL -> txDropsBufferTooSmall.incrementRelease();
            case CLAIMED_DROP_BAD -> txDropsDown.incrementRelease();
            case CLAIMED_DROP_OFFER_TOO_SMALL -> txDropsOfferTooSmall.incrementRelease();
            default -> throw new IllegalStateException("commit(" + frameLength + ") without a claim");
        }
    }

    /**
     * Gives the claim back: the buffers it reserved stay free ({@link #txCursor} moves only at {@link #commit}, and the
     * next claim reserves and validates them again), and a frame it was to drop is not counted.
     */
    @Override
    public void abandon()
    {
        claimKind = NOT_CLAIMED;
    }

    /**
     * A queue pair attaches or detaches (dataplane thread): a frame that was waiting for the client's offer belonged
     * to the old one, and its deadline must not carry over to the next frame that happens to have its length. On
     * detach ({@code 0}), called by the thread that polled the port, the port is parked (see {@link #park}); a call
     * from any other thread (the control thread, for a pair not attached yet or one whose thread is stuck) parks
     * nothing, so the mappings stay until the polling thread has moved on.
     */
    @Override
    public void guestFeatures(final long negotiatedFeatures)
    {
        txStall.clear();
        if (negotiatedFeatures == 0 && Thread.currentThread() == dataplaneThread)
        {
            park();
        }
    }

    private void scatter(final int frameLength)
    {
        if (frameLength != txClaimLength)
        {
            throw new IllegalStateException("commit(" + frameLength + ") after claim(" + txClaimLength + ")");
        }
        final int segments = txSegments;
        long from = scratchAddress;
        for (int i = 0; i < segments; i++)
        {
            final int length = txSegmentRoom[i];
            MemoryCopy.copy(from, txSegmentAddress[i], length);
            from += length;
            final long desc = descAddress(txRing, (txCursor + i) & txMask);
            UnsafeApi.putInt(null, desc + DESC_LENGTH_OFFSET, length);
            UnsafeApi.putShort(null, desc + DESC_FLAGS_OFFSET, (short)(i < segments - 1 ? DESC_FLAG_NEXT : 0));
        }
        txCursor = (txCursor + segments) & 0xFFFF;
        txUnpublishedFrames++;
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
            if (published != active)
            {
                // Control ended this connection during the burst (the peer left or was dropped): its frames can no
                // longer reach the peer, so they are dropped and counted rather than published into a dead ring.
                txDropsPeerLeft.getAndAddRelease(txUnpublishedFrames);
                txUnpublishedFrames = 0;
                txCursor = txPublished;
                return;
            }
            txPublished = txCursor;
            txUnpublishedFrames = 0;
            UnsafeApi.putShortRelease(null, txRing + txPublishOffset, (short)txCursor);
        }
    }

    /** Nothing to release but the scratch buffer, which the garbage collector frees with this port. */
    void close()
    {
        claimKind = NOT_CLAIMED;
    }
}
