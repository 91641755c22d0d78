package io.pagewire.dataplane.port.memif;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.stats.CounterKey;
import io.pagewire.dataplane.stats.LogLimiter;
import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;

/**
 * The memif NIC ({@code nic.type=memif}): one {@link MemifNicPort} per queue pair for the dataplane, and the memif
 * control channel, run by the control thread through {@link #poll()}, which never blocks (non-blocking
 * {@code SOCK_SEQPACKET} socket, one {@code recvmsg(MSG_DONTWAIT)} per pending message).
 * <p>
 * Queue pair {@code n} uses memif ring {@code n} of each direction: pagewire receives on S2M ring n and transmits on
 * M2S ring n as server, the other way round as client. Ring size is {@code nic.ring.size} (as server: the largest
 * offered in HELLO; the client picks, up to it), buffer size {@code nic.slot_size} (as client; as server the client's
 * buffers are what they are).
 * <ul>
 *   <li><b>server</b> ({@code nic.memif.role=server}): listens on {@code nic.memif.socket}, one client at a time (a
 *       second gets DISCONNECT "Already connected"); sends HELLO, answers INIT / ADD_REGION / ADD_RING with ACK, maps
 *       the regions, and at CONNECT checks the rings and answers CONNECTED. Regions must be memfds sealed against
 *       shrinking ({@code F_SEAL_SHRINK}, as DPDK and VPP make them) and at least as large as announced: an
 *       unsealed file could be truncated under the mapping, and the next access would kill the process with
 *       SIGBUS. DPDK's zero-copy client ({@code zero-copy=yes}, hugepage-backed regions) is therefore refused. A
 *       client whose regions add up to more than {@code nic.memif.max_region_mib} is refused before the region that
 *       crosses it is mapped (counted in {@link MemifCounter#REGIONS_OVER_CAP}, DISCONNECT "Regions too large").</li>
 *   <li><b>client</b> ({@code nic.memif.role=client}): connects, retrying with backoff (100 ms doubling to 5 s) while
 *       nobody listens; on HELLO creates one sealed memfd region laid out as DPDK's client does (all S2M rings, all
 *       M2S rings, then every ring's buffers), sends INIT, ADD_REGION, ADD_RING per ring, CONNECT, one per ACK.
 *       A new region is made per connection. When the server goes, it reconnects.</li>
 * </ul>
 * Anything a peer sends that breaks the protocol (a message that is not 128 bytes, an unknown or unexpected type, a
 * wrong version or id, a region or ring outside bounds, a missing fd, a ring without the memif cookie), and any bad
 * descriptor or index, or receive chain left unfinished for a second, the dataplane reports, is logged once with its
 * values, counted, answered with DISCONNECT ("Bad descriptor", "Incomplete chain") and the connection is dropped; the
 * process keeps running and accepts (or retries) the next. A peer that does not reach CONNECTED within 5 s of
 * connecting is dropped too, so a silent one cannot hold the single control channel. How memory is released
 * safely while dataplane threads run is described in {@link MemifNicPort}. Interrupt mode is not implemented: pagewire
 * polls, sets {@link MemifLayout#RING_FLAG_MASK_INT} on the rings it receives on, and never signals the eventfds it is
 * given.
 */
public final class MemifNicPortSet implements NicPortSet
{
    /** The name pagewire gives in HELLO / INIT and as interface name in CONNECT / CONNECTED. */
    public static final String NAME = "pagewire";

    private static final long MIN_BACKOFF_NS = 100_000_000L;
    private static final long MAX_BACKOFF_NS = 5_000_000_000L;
    private static final int RECEIVE_ROOM = 2 * MESSAGE_LENGTH;
    private static final int MESSAGES_PER_POLL = 64;
    /** Connections accepted per poll at most: a peer connecting in a loop must not keep the control thread here. */
    private static final int ACCEPTS_PER_POLL = 8;

    private enum State
    {
        IDLE, AWAIT_INIT, AWAIT_SETUP, AWAIT_HELLO, AWAIT_ACK, AWAIT_CONNECTED, CONNECTED
    }

    private final Path socketPath;
    private final boolean client;
    private final int id;
    private final int pairs;
    private final int log2RingSize;
    private final int bufferSize;
    private final long maxRegionBytes;
    private final Consumer<String> log;
    /** The rate limit of {@link #log}'s default (stderr), polled so that it says what it suppressed; or null. */
    private LogLimiter logLimiter;
    private final MemifNicPort[] ports;
    private final List<AtomicCounter> allCounters = new ArrayList<>();
    private final AtomicCounter connects;
    private final AtomicCounter disconnects;
    private final AtomicCounter badMessages;
    private final AtomicCounter rejected;
    private final AtomicCounter connectFailures;
    private final AtomicCounter regionsOverCap;

    private final ByteBuffer receiveBytes = BufferUtil.allocateDirectAligned(RECEIVE_ROOM, 64);
    private final UnsafeBuffer receive = new UnsafeBuffer(receiveBytes);
    private final ByteBuffer sendBytes = BufferUtil.allocateDirectAligned(MESSAGE_LENGTH, 64);
    private final UnsafeBuffer send = new UnsafeBuffer(sendBytes);
    private final int[] receivedFds = new int[4];
    private final int[] sendFds = new int[1];

    private UnixSocket listener;
    private UnixSocket channel;
    private State state = State.IDLE;
    private long epoch;
    private long connectedEpoch = -1;
    private String peerName = "";
    private long nextConnectNs;
    private long handshakeStartNs;
    private long handshakeTimeoutNs = 5_000_000_000L;
    private long backoffNs = MIN_BACKOFF_NS;
    private boolean connectFailureLogged;
    private boolean closed;

    // One connection's resources.
    private final List<Mapping> regions = new ArrayList<>();
    private final List<Integer> regionFds = new ArrayList<>();
    private final List<EventFd> eventFds = new ArrayList<>();
    private final List<Integer> receivedEventFds = new ArrayList<>();
    private final long[] s2mRing;
    private final int[] s2mLog2;
    private final long[] m2sRing;
    private final int[] m2sLog2;
    private int clientLog2RingSize;
    private int clientNextMessage;
    private long clientBuffersOffset;

    // Mappings of gone connections, unmapped once every port acknowledged retiredEpoch or is parked.
    private final List<Mapping> retired = new ArrayList<>();
    private final List<Long> retiredEpochs = new ArrayList<>();

    private MemifNicPortSet(
        final Path socketPath,
        final boolean client,
        final int id,
        final int pairs,
        final int ringSize,
        final int bufferSize,
        final long maxRegionBytes,
        final CountersManager counters,
        final Consumer<String> log)
    {
        this.socketPath = socketPath;
        this.client = client;
        this.id = id;
        this.pairs = pairs;
        this.log2RingSize = log2RingSize(ringSize);
        this.bufferSize = bufferSize;
        this.maxRegionBytes = maxRegionBytes;
        this.log = log;
        this.s2mRing = new long[pairs];
        this.s2mLog2 = new int[pairs];
        this.m2sRing = new long[pairs];
        this.m2sLog2 = new int[pairs];
        connects = counter(counters, MemifCounter.CONNECTS, CounterKey.NO_QUEUE);
        disconnects = counter(counters, MemifCounter.DISCONNECTS, CounterKey.NO_QUEUE);
        badMessages = counter(counters, MemifCounter.BAD_MESSAGES, CounterKey.NO_QUEUE);
        rejected = counter(counters, MemifCounter.REJECTED, CounterKey.NO_QUEUE);
        connectFailures = counter(counters, MemifCounter.CONNECT_FAILURES, CounterKey.NO_QUEUE);
        regionsOverCap = counter(counters, MemifCounter.REGIONS_OVER_CAP, CounterKey.NO_QUEUE);
        ports = new MemifNicPort[pairs];
        for (int pair = 0; pair < pairs; pair++)
        {
            ports[pair] = new MemifNicPort(pair, ringSize,
                counter(counters, MemifCounter.BAD_DESCRIPTORS, pair),
                counter(counters, MemifCounter.TX_DROPS_DOWN, pair),
                counter(counters, MemifCounter.RX_DROPS_TOO_LONG, pair),
                counter(counters, MemifCounter.TX_DROPS_BUFFER_TOO_SMALL, pair),
                counter(counters, MemifCounter.RX_INCOMPLETE_CHAINS, pair),
                counter(counters, MemifCounter.TX_WAITS_OFFER_TOO_SMALL, pair),
                counter(counters, MemifCounter.TX_DROPS_OFFER_TOO_SMALL, pair),
                counter(counters, MemifCounter.TX_DROPS_PEER_LEFT, pair));
        }
    }

    private AtomicCounter counter(final CountersManager counters, final MemifCounter kind, final int queue)
    {
        final AtomicCounter counter = kind.allocate(counters, queue);
        allCounters.add(counter);
        return counter;
    }

    /**
     * Opens the memif port set from the config: as server, binds the socket now (an error here is a config or
     * permission error and is thrown); as client, the first connect attempt happens in the first {@link #poll()}.
     *
     * @param nic      the NIC config ({@code nic.memif.*}, {@code nic.ring.size}, {@code nic.slot_size}).
     * @param pairs    queue pairs ({@code guest.queue_pairs}).
     * @param counters where the {@link MemifCounter}s are allocated.
     * @return the port set.
     */
    public static MemifNicPortSet open(final NicConfig nic, final int pairs, final CountersManager counters)
    {
        // Rate-limited: a peer that connects and misbehaves in a loop must not turn into a flood of stderr lines.
        final LogLimiter limiter = LogLimiter.perSecond(System.err::println, "pagewire: memif");
        final MemifNicPortSet set = open(nic, pairs, counters, (line) -> limiter.log("pagewire: " + line));
        set.logLimiter = limiter;
        return set;
    }

    /**
     * As {@link #open(NicConfig, int, CountersManager)}, with the log lines going to {@code log}.
     *
     * @throws IllegalArgumentException naming the keys when the geometry cannot be expressed in memif (ring size
     *                                  above 2^14, a client region above 4 GiB).
     * @throws OsException              when the server socket cannot be bound.
     */
    public static MemifNicPortSet open(
        final NicConfig nic, final int pairs, final CountersManager counters, final Consumer<String> log)
    {
        final int log2 = log2RingSize(nic.ringSize());
        if (pairs < 1 || pairs > 256)
        {
            throw new IllegalArgumentException("guest.queue_pairs=" + pairs + ": memif carries 1..256 ring pairs");
        }
        final boolean client = nic.memif().role() == MemifRole.CLIENT;
        if (client)
        {
            final long length = clientRegionLength(pairs, log2, nic.slotSize());
            if (length > 0xFFFF_FFFFL)
            {
                throw new IllegalArgumentException("nic.ring.size=" + nic.ringSize() + ", nic.slot_size=" +
                    nic.slotSize() + ", guest.queue_pairs=" + pairs + ": the memif region would be " + length +
                    " bytes; memif offsets are u32, so it must stay below 4 GiB");
            }
        }
        final MemifNicPortSet set = new MemifNicPortSet(Path.of(nic.memif().socket()), client, nic.memif().id(),
            pairs, nic.ringSize(), nic.slotSize(), nic.memif().maxRegionBytes(), counters, log);
        if (!client)
        {
            try
            {
                set.listener = UnixSocket.listenSeqPacket(set.socketPath);
            }
            catch (final RuntimeException ex)
            {
                set.close();
                throw ex;
            }
        }
        return set;
    }

    /** Bytes of the region a client makes: rings, then buffers (DPDK {@code memif_region_init_shm}). */
    static long clientRegionLength(final int pairs, final int log2, final int bufferSize)
    {
        return 2L * pairs * ringLength(log2) + 2L * pairs * (1L << log2) * bufferSize;
    }

    @Override
    public int pairs()
    {
        return pairs;
    }

    @Override
    public NicPort port(final int pair)
    {
        return ports[pair];
    }

    /** @return the memif port of a queue pair (tests). */
    public MemifNicPort memifPort(final int pair)
    {
        return ports[pair];
    }

    @Override
    public String describe()
    {
        return "memif " + (client ? "client" : "server") + " " + socketPath + " id " + id + ", " + pairs +
            " queue pair" + (pairs == 1 ? "" : "s") + ", ring " + (1 << log2RingSize) + ", buffer " + bufferSize;
    }

    /** Tests: how long a peer may take from accept/connect to CONNECTED before it is dropped (default 5 s). */
    void handshakeTimeoutNs(final long timeoutNs)
    {
        handshakeTimeoutNs = timeoutNs;
    }

    /** @return whether a peer is connected (control thread). */
    public boolean isConnected()
    {
        return state == State.CONNECTED;
    }

    /** @return the connects counter's value. */
    public long connects()
    {
        return connects.get();
    }

    /** @return the disconnects counter's value. */
    public long disconnects()
    {
        return disconnects.get();
    }

    /** @return the bad messages counter's value. */
    public long badMessages()
    {
        return badMessages.get();
    }

    /** @return the rejected counter's value. */
    public long rejectedConnections()
    {
        return rejected.get();
    }

    /**
     * @param pair    a queue pair.
     * @param counter a per-queue counter.
     * @return its value.
     */
    public long portCounter(final int pair, final MemifCounter counter)
    {
        return ports[pair].counterValue(counter);
    }

    /** @return mappings of gone connections not yet unmapped (waiting for the dataplane to acknowledge). */
    public int retiredMappings()
    {
        return retired.size();
    }

    /** @return clients refused because their regions exceeded {@code nic.memif.max_region_mib}. */
    public long regionsOverCap()
    {
        return regionsOverCap.get();
    }

    /**
     * Control-thread housekeeping, never blocking: accepts or connects, handles every pending control message,
     * drops a peer the dataplane found hostile, unmaps memory the dataplane no longer uses.
     */
    @Override
    public void poll()
    {
        if (closed)
        {
            return;
        }
        if (client)
        {
            if (channel == null && System.nanoTime() - nextConnectNs >= 0)
            {
                tryConnect();
            }
        }
        else
        {
            acceptPending();
        }
        if (channel != null)
        {
            receivePending();
        }
        if (channel != null && state != State.CONNECTED && System.nanoTime() - handshakeStartNs > handshakeTimeoutNs)
        {
            // A peer that connects and then says nothing must not hold the one control channel for good.
            rejected.incrementRelease();
            log("memif " + (client ? "client" : "server") + ": peer \"" + peerName + "\" did not complete the " +
                "handshake within " + handshakeTimeoutNs / 1_000_000 + " ms (stuck in " + state + "); disconnecting");
            teardown(null, "Handshake timeout");
        }
        checkFaults();
        unmapRetired();
        if (logLimiter != null)
        {
            logLimiter.poll();
        }
    }

    private void tryConnect()
    {
        try
        {
            channel = UnixSocket.connectSeqPacket(socketPath);
        }
        catch (final OsException | IllegalArgumentException ex)
        {
            connectFailures.incrementRelease();
            if (!connectFailureLogged)
            {
                connectFailureLogged = true;
                log("memif client: cannot connect to " + socketPath + " (" + ex.getMessage() +
                    "); retrying with backoff");
            }
            nextConnectNs = System.nanoTime() + backoffNs;
            backoffNs = Math.min(MAX_BACKOFF_NS, backoffNs * 2);
            return;
        }
        connectFailureLogged = false;
        state = State.AWAIT_HELLO;
        handshakeStartNs = System.nanoTime();
    }

    private void acceptPending()
    {
        for (int i = 0; i < ACCEPTS_PER_POLL; i++)
        {
            final UnixSocket accepted;
            try
            {
                accepted = listener.tryAccept();
            }
            catch (final OsException ex)
            {
                log("memif server: accept on " + socketPath + " failed: " + ex.getMessage());
                return;
            }
            if (accepted == null)
            {
                return;
            }
            if (channel != null)
            {
                rejected.incrementRelease();
                log("memif server: refused a second client on " + socketPath + ": one is already connected");
                sendDisconnect(accepted, "Already connected");
                accepted.close();
                continue;
            }
            channel = accepted;
            state = State.AWAIT_INIT;
            handshakeStartNs = System.nanoTime();
            peerName = "";
            beginMessage(MSG_HELLO);
            putString(HELLO_NAME_OFFSET, NAME, NAME_LENGTH);
            send.putShort(HELLO_MIN_VERSION_OFFSET, (short)VERSION);
            send.putShort(HELLO_MAX_VERSION_OFFSET, (short)VERSION);
            send.putShort(HELLO_MAX_REGION_OFFSET, (short)(MAX_REGIONS - 1));
            send.putShort(HELLO_MAX_M2S_RING_OFFSET, (short)(pairs - 1));
            send.putShort(HELLO_MAX_S2M_RING_OFFSET, (short)(pairs - 1));
            send.putByte(HELLO_MAX_LOG2_RING_SIZE_OFFSET, (byte)log2RingSize);
            if (!sendMessage(-1))
            {
                return;
            }
        }
    }

    private void receivePending()
    {
        for (int i = 0; i < MESSAGES_PER_POLL && channel != null; i++)
        {
            final int received;
            try
            {
                received = channel.receiveMessage(receive.addressOffset(), RECEIVE_ROOM, receivedFds);
            }
            catch (final OsException ex)
            {
                teardown("control socket error: " + ex.getMessage(), null);
                return;
            }
            if (received == UnixSocket.WOULD_BLOCK)
            {
                return;
            }
            if (received == 0)
            {
                teardown("peer closed the control socket", null);
                return;
            }
            final int fdCount = channel.lastFdCount();
            try
            {
                if (received != MESSAGE_LENGTH || channel.lastMessageTruncated())
                {
                    badMessage("message of " + (channel.lastMessageTruncated() ? "more than " + RECEIVE_ROOM :
                        received) + " bytes: memif messages are " + MESSAGE_LENGTH, "Invalid message size");
                }
                else
                {
                    handle(receive.getShort(TYPE_OFFSET) & 0xFFFF, fdCount);
                }
            }
            finally
            {
                for (int f = 0; f < fdCount; f++)
                {
                    Fds.closeQuietly(receivedFds[f]);
                    receivedFds[f] = -1;
                }
            }
        }
    }

    /** Handles one 128-byte message; fds it keeps are taken out of receivedFds (set to -1). */
    private void handle(final int type, final int fdCount)
    {
        if (type == MSG_DISCONNECT)
        {
            final String reason = getString(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH);
            teardown("peer sent DISCONNECT (code " + receive.getInt(DISCONNECT_CODE_OFFSET) + ", \"" + reason + "\")",
                null);
            return;
        }
        switch (state)
        {
            case AWAIT_INIT ->
            {
                if (type == MSG_INIT)
                {
                    onInit();
                    return;
                }
            }
            case AWAIT_SETUP ->
            {
                switch (type)
                {
                    case MSG_ACK ->
                    {
                        return;
                    }
                    case MSG_ADD_REGION ->
                    {
                        onAddRegion(fdCount);
                        return;
                    }
                    case MSG_ADD_RING ->
                    {
                        onAddRing(fdCount);
                        return;
                    }
                    case MSG_CONNECT ->
                    {
                        onConnect();
                        return;
                    }
                    default ->
                    {
                    }
                }
            }
            case AWAIT_HELLO ->
            {
                if (type == MSG_HELLO)
                {
                    onHello();
                    return;
                }
            }
            case AWAIT_ACK ->
            {
                if (type == MSG_ACK)
                {
                    sendNextClientMessage();
                    return;
                }
            }
            case AWAIT_CONNECTED ->
            {
                if (type == MSG_CONNECTED)
                {
                    onConnected();
                    return;
                }
            }
            case CONNECTED ->
            {
                if (type == MSG_ACK)
                {
                    return;
                }
            }
            default ->
            {
            }
        }
        badMessage((type > MSG_DISCONNECT ? "unknown message " : "unexpected message ") + messageName(type) +
            " in state " + state, type > MSG_DISCONNECT ? "Unknown message type" : "Unexpected message");
    }

    // --------------------------------------------------------------------------------------------------- server

    private void onInit()
    {
        final int version = receive.getShort(INIT_VERSION_OFFSET) & 0xFFFF;
        final long peerId = receive.getInt(INIT_ID_OFFSET) & 0xFFFF_FFFFL;
        final int mode = receive.getByte(INIT_MODE_OFFSET) & 0xFF;
        peerName = getString(INIT_NAME_OFFSET, NAME_LENGTH);
        if (version != VERSION)
        {
            badMessage(String.format("INIT version 0x%04x, pagewire speaks memif 0x%04x", version, VERSION),
                "Incompatible memif version");
            return;
        }
        if (peerId != id)
        {
            rejected.incrementRelease();
            log("memif server: client \"" + peerName + "\" asked for interface id " + peerId + ", this one is " +
                id + "; refused");
            teardown(null, "ID not found");
            return;
        }
        if (mode != MODE_ETHERNET)
        {
            badMessage("INIT mode " + mode + ", only ethernet (0) is supported", "Only ethernet mode supported");
            return;
        }
        state = State.AWAIT_SETUP;
        sendAck();
    }

    private void onAddRegion(final int fdCount)
    {
        final int index = receive.getShort(ADD_REGION_INDEX_OFFSET) & 0xFFFF;
        final long size = receive.getLong(ADD_REGION_SIZE_OFFSET);
        if (fdCount != 1)
        {
            badMessage("ADD_REGION " + index + " came with " + fdCount + " fds, needs its memfd", "Missing region fd");
            return;
        }
        if (index != regions.size() || index >= MAX_REGIONS)
        {
            badMessage("ADD_REGION index " + index + ", expected " + regions.size() + " (at most " +
                (MAX_REGIONS - 1) + ")", "Invalid region index");
            return;
        }
        long mapped = 0;
        for (final Mapping region : regions)
        {
            mapped += region.length();
        }
        if (size > maxRegionBytes - mapped)
        {
            // Checked before the fd is looked at or mapped: a sparse memfd can announce any size at no cost to its
            // peer, and each byte would be address space (and, over reconnects, mappings) of this process.
            regionsOverCap.incrementRelease();
            log("memif server: client \"" + peerName + "\" ADD_REGION " + index + " of " + size + " bytes would " +
                "make pagewire map " + (mapped + Math.max(0, size)) + " bytes of its memory, above " +
                "nic.memif.max_region_mib=" + (maxRegionBytes >> 20) + " (" + maxRegionBytes + " bytes); refused");
            teardown(null, "Regions too large");
            return;
        }
        final int fd = receivedFds[0];
        final String problem = regionProblem(fd, size);
        if (problem != null)
        {
            badMessage("ADD_REGION " + index + " of " + size + " bytes: " + problem, "Invalid region");
            return;
        }
        final Mapping mapping;
        try
        {
            mapping = Mapping.map(fd, 0, size);
        }
        catch (final OsException ex)
        {
            badMessage("ADD_REGION " + index + " of " + size + " bytes: " + ex.getMessage(), "Region mmap failed");
            return;
        }
        regions.add(mapping);
        regionFds.add(fd);
        receivedFds[0] = -1;
        sendAck();
    }

    private static String regionProblem(final int fd, final long size)
    {
        try
        {
            if (size <= 0)
            {
                return "size must be above 0";
            }
            if (!Fds.isRegularFile(fd))
            {
                return "the fd is not a memfd (not a regular file)";
            }
            final int seals = Fds.seals(fd);
            if (seals < 0 || (seals & Fds.SEAL_SHRINK) == 0)
            {
                return "the memfd is not sealed against shrinking (F_SEAL_SHRINK); a peer could truncate it under " +
                    "the mapping and crash pagewire (DPDK zero-copy regions are not supported)";
            }
            final long fileSize = Fds.size(fd);
            if (fileSize < size)
            {
                return "the memfd holds only " + fileSize + " bytes";
            }
            return null;
        }
        catch (final OsException ex)
        {
            return ex.getMessage();
        }
    }

    private void onAddRing(final int fdCount)
    {
        final int flags = receive.getShort(ADD_RING_FLAGS_OFFSET) & 0xFFFF;
        final int index = receive.getShort(ADD_RING_INDEX_OFFSET) & 0xFFFF;
        final int region = receive.getShort(ADD_RING_REGION_OFFSET) & 0xFFFF;
        final long offset = receive.getInt(ADD_RING_OFFSET_OFFSET) & 0xFFFF_FFFFL;
        final int log2 = receive.getByte(ADD_RING_LOG2_RING_SIZE_OFFSET) & 0xFF;
        final int privateHeader = receive.getShort(ADD_RING_PRIVATE_HDR_SIZE_OFFSET) & 0xFFFF;
        final boolean s2m = (flags & ADD_RING_FLAG_S2M) != 0;
        final String ring = "ADD_RING " + (s2m ? "S2M " : "M2S ") + index + " (region " + region + " offset " +
            offset + " log2 size " + log2 + ")";
        if (fdCount != 1)
        {
            badMessage(ring + " came with " + fdCount + " fds, needs its eventfd", "Missing interrupt fd");
            return;
        }
        if ((flags & ~ADD_RING_FLAG_S2M) != 0 || privateHeader != 0)
        {
            badMessage(ring + ": flags 0x" + Integer.toHexString(flags) + ", private_hdr_size " + privateHeader +
                ": only flag S2M and no private header are supported", "Unsupported ring");
            return;
        }
        if (index >= pairs)
        {
            badMessage(ring + ": pagewire serves " + pairs + " queue pair(s)", "Invalid ring index");
            return;
        }
        if ((s2m ? s2mRing[index] : m2sRing[index]) != 0)
        {
            badMessage(ring + ": added twice", "Invalid ring index");
            return;
        }
        if (log2 > log2RingSize)
        {
            badMessage(ring + ": larger than the 2^" + log2RingSize + " offered in HELLO", "Invalid ring size");
            return;
        }
        if (region >= regions.size())
        {
            badMessage(ring + ": only " + regions.size() + " region(s) added", "Invalid ring region");
            return;
        }
        final Mapping mapping = regions.get(region);
        if ((offset & 7) != 0 || offset + ringLength(log2) > mapping.length())
        {
            badMessage(ring + ": the ring's " + ringLength(log2) + " bytes do not fit the region's " +
                mapping.length() + " at an 8-byte aligned offset", "Invalid ring offset");
            return;
        }
        if (s2m)
        {
            s2mRing[index] = mapping.address() + offset;
            s2mLog2[index] = log2;
        }
        else
        {
            m2sRing[index] = mapping.address() + offset;
            m2sLog2[index] = log2;
        }
        receivedEventFds.add(receivedFds[0]);
        receivedFds[0] = -1;
        sendAck();
    }

    private void onConnect()
    {
        final String ifName = getString(IF_NAME_OFFSET, NAME_LENGTH);
        int complete = 0;
        for (int pair = 0; pair < pairs; pair++)
        {
            if (s2mRing[pair] != 0 && m2sRing[pair] != 0)
            {
                for (final long ring : new long[]{s2mRing[pair], m2sRing[pair]})
                {
                    final int cookie = UnsafeApi.getIntVolatile(null, ring + RING_COOKIE_OFFSET);
                    if (cookie != COOKIE)
                    {
                        badMessage(String.format("CONNECT: ring of pair %d has cookie 0x%x, expected 0x%x", pair,
                            cookie, COOKIE), "Wrong ring");
                        return;
                    }
                }
                complete++;
            }
        }
        if (complete == 0)
        {
            badMessage("CONNECT before any S2M/M2S ring pair was added", "No rings");
            return;
        }
        final long[] bases = new long[regions.size()];
        final long[] lengths = new long[regions.size()];
        for (int r = 0; r < regions.size(); r++)
        {
            bases[r] = regions.get(r).address();
            lengths[r] = regions.get(r).length();
        }
        connectedEpoch = ++epoch;
        for (int pair = 0; pair < pairs; pair++)
        {
            if (s2mRing[pair] != 0 && m2sRing[pair] != 0)
            {
                // memif_connect: both indices start at 0; pagewire polls the ring it receives on.
                resetRing(s2mRing[pair], true);
                resetRing(m2sRing[pair], false);
                ports[pair].publish(new MemifConnection(connectedEpoch, true, false, s2mRing[pair], s2mLog2[pair],
                    m2sRing[pair], m2sLog2[pair], bases, lengths, 0, 0, 0, 0, 0));
            }
        }
        state = State.CONNECTED;
        connects.incrementRelease();
        log("memif server: client \"" + peerName + "\" interface \"" + ifName + "\" connected on " + socketPath +
            ": " + complete + " of " + pairs + " queue pair(s), " + regions.size() + " region(s), rings 2^" +
            s2mLog2[0] + "/2^" + m2sLog2[0]);
        beginMessage(MSG_CONNECTED);
        putString(IF_NAME_OFFSET, NAME, NAME_LENGTH);
        sendMessage(-1);
    }

    private static void resetRing(final long ring, final boolean receiving)
    {
        UnsafeApi.putShortVolatile(null, ring + RING_HEAD_OFFSET, (short)0);
        UnsafeApi.putShortVolatile(null, ring + RING_TAIL_OFFSET, (short)0);
        UnsafeApi.putShortVolatile(null, ring + RING_FLAGS_OFFSET, (short)(receiving ? RING_FLAG_MASK_INT : 0));
    }

    // --------------------------------------------------------------------------------------------------- client

    private void onHello()
    {
        final int minVersion = receive.getShort(HELLO_MIN_VERSION_OFFSET) & 0xFFFF;
        final int maxVersion = receive.getShort(HELLO_MAX_VERSION_OFFSET) & 0xFFFF;
        final int maxM2s = receive.getShort(HELLO_MAX_M2S_RING_OFFSET) & 0xFFFF;
        final int maxS2m = receive.getShort(HELLO_MAX_S2M_RING_OFFSET) & 0xFFFF;
        final int maxLog2 = receive.getByte(HELLO_MAX_LOG2_RING_SIZE_OFFSET) & 0xFF;
        peerName = getString(HELLO_NAME_OFFSET, NAME_LENGTH);
        if (minVersion > VERSION || maxVersion < VERSION)
        {
            badMessage(String.format("HELLO offers memif versions 0x%04x..0x%04x, pagewire speaks 0x%04x",
                minVersion, maxVersion, VERSION), "Incompatible memif version");
            return;
        }
        if (maxS2m + 1 < pairs || maxM2s + 1 < pairs)
        {
            rejected.incrementRelease();
            log("memif client: server \"" + peerName + "\" takes " + (Math.min(maxS2m, maxM2s) + 1) +
                " ring pair(s), pagewire needs " + pairs + " (guest.queue_pairs); disconnecting");
            teardown(null, "Too few rings");
            return;
        }
        clientLog2RingSize = Math.min(log2RingSize, maxLog2);
        try
        {
            createClientRegion();
        }
        catch (final RuntimeException ex)
        {
            log("memif client: cannot create the shared memory: " + ex.getMessage());
            teardown(null, "Failed to create region");
            return;
        }
        beginMessage(MSG_INIT);
        send.putShort(INIT_VERSION_OFFSET, (short)VERSION);
        send.putInt(INIT_ID_OFFSET, id);
        send.putByte(INIT_MODE_OFFSET, (byte)MODE_ETHERNET);
        putString(INIT_NAME_OFFSET, NAME, NAME_LENGTH);
        clientNextMessage = 0;
        state = State.AWAIT_ACK;
        sendMessage(-1);
    }

    /** DPDK's client layout: S2M rings 0..n-1, M2S rings 0..n-1, then each ring's buffers in that order. */
    private void createClientRegion()
    {
        final int log2 = clientLog2RingSize;
        final int ringSize = 1 << log2;
        final long ringLength = ringLength(log2);
        final long length = clientRegionLength(pairs, log2, bufferSize);
        final int fd = Fds.memfdCreateSealed("memif_region_0", length);
        final Mapping mapping;
        try
        {
            mapping = Mapping.map(fd, 0, length);
        }
        catch (final RuntimeException ex)
        {
            Fds.closeQuietly(fd);
            throw ex;
        }
        regions.add(mapping);
        regionFds.add(fd);
        clientBuffersOffset = 2L * pairs * ringLength;
        for (int r = 0; r < 2 * pairs; r++)
        {
            final long ring = mapping.address() + r * ringLength;
            UnsafeApi.putInt(null, ring + RING_COOKIE_OFFSET, COOKIE);
            UnsafeApi.putShort(null, ring + RING_FLAGS_OFFSET, (short)0);
            UnsafeApi.putShort(null, ring + RING_HEAD_OFFSET, (short)0);
            UnsafeApi.putShort(null, ring + RING_TAIL_OFFSET, (short)0);
            for (int slot = 0; slot < ringSize; slot++)
            {
                final long desc = descAddress(ring, slot);
                UnsafeApi.putShort(null, desc + DESC_FLAGS_OFFSET, (short)0);
                UnsafeApi.putShort(null, desc + DESC_REGION_OFFSET, (short)0);
                UnsafeApi.putInt(null, desc + DESC_LENGTH_OFFSET, bufferSize);
                UnsafeApi.putInt(null, desc + DESC_OFFSET_OFFSET, (int)bufferOffset(r, slot));
                UnsafeApi.putInt(null, desc + DESC_METADATA_OFFSET, 0);
            }
            if (r < pairs)
            {
                s2mRing[r] = ring;
                s2mLog2[r] = log2;
            }
            else
            {
                m2sRing[r - pairs] = ring;
                m2sLog2[r - pairs] = log2;
            }
            eventFds.add(EventFd.create());
        }
    }

    /** Offset in region 0 of the buffer of ring {@code r} (S2M rings first), slot {@code slot}. */
    private long bufferOffset(final int r, final int slot)
    {
        return clientBuffersOffset + ((long)r * (1 << clientLog2RingSize) + slot) * bufferSize;
    }

    private void sendNextClientMessage()
    {
        final int step = clientNextMessage++;
        final Mapping region = regions.get(0);
        if (step == 0)
        {
            beginMessage(MSG_ADD_REGION);
            send.putShort(ADD_REGION_INDEX_OFFSET, (short)0);
            send.putLong(ADD_REGION_SIZE_OFFSET, region.length());
            sendMessage(regionFds.get(0));
        }
        else if (step <= 2 * pairs)
        {
            final int r = step - 1;
            final boolean s2m = r < pairs;
            final int index = s2m ? r : r - pairs;
            final long ring = s2m ? s2mRing[index] : m2sRing[index];
            beginMessage(MSG_ADD_RING);
            send.putShort(ADD_RING_FLAGS_OFFSET, (short)(s2m ? ADD_RING_FLAG_S2M : 0));
            send.putShort(ADD_RING_INDEX_OFFSET, (short)index);
            send.putShort(ADD_RING_REGION_OFFSET, (short)0);
            send.putInt(ADD_RING_OFFSET_OFFSET, (int)(ring - region.address()));
            send.putByte(ADD_RING_LOG2_RING_SIZE_OFFSET, (byte)clientLog2RingSize);
            send.putShort(ADD_RING_PRIVATE_HDR_SIZE_OFFSET, (short)0);
            sendMessage(eventFds.get(r).fd());
        }
        else if (step == 2 * pairs + 1)
        {
            beginMessage(MSG_CONNECT);
            putString(IF_NAME_OFFSET, NAME, NAME_LENGTH);
            state = State.AWAIT_CONNECTED;
            sendMessage(-1);
        }
        else
        {
            badMessage("ACK after CONNECT was sent", "Unexpected message");
        }
    }

    private void onConnected()
    {
        final String ifName = getString(IF_NAME_OFFSET, NAME_LENGTH);
        final Mapping region = regions.get(0);
        final long[] bases = {region.address()};
        final long[] lengths = {region.length()};
        connectedEpoch = ++epoch;
        for (int pair = 0; pair < pairs; pair++)
        {
            resetRing(s2mRing[pair], false);
            resetRing(m2sRing[pair], true);
            final long rxOffset = bufferOffset(pairs + pair, 0);
            final long txOffset = bufferOffset(pair, 0);
            ports[pair].publish(new MemifConnection(connectedEpoch, true, true, m2sRing[pair], clientLog2RingSize,
                s2mRing[pair], clientLog2RingSize, bases, lengths, region.address() + rxOffset, rxOffset,
                region.address() + txOffset, txOffset, bufferSize));
        }
        state = State.CONNECTED;
        backoffNs = MIN_BACKOFF_NS;
        connects.incrementRelease();
        log("memif client: connected to server \"" + peerName + "\" interface \"" + ifName + "\" on " + socketPath +
            ": " + pairs + " queue pair(s), rings 2^" + clientLog2RingSize + ", buffers " + bufferSize + " bytes");
    }

    // ------------------------------------------------------------------------------------------------- common

    private void checkFaults()
    {
        if (state != State.CONNECTED)
        {
            return;
        }
        for (final MemifNicPort port : ports)
        {
            if (port.faultEpoch() == connectedEpoch)
            {
                badMessages.incrementRelease();
                // "Bad descriptor on queue pair 0: receive descriptor 3: ...", "Incomplete chain on queue pair 0: ..."
                log("memif: peer \"" + peerName + "\": " + port.faultReason() + " on " + port.faultDetail() +
                    "; disconnecting");
                teardown(null, port.faultReason());
                return;
            }
        }
    }

    private void badMessage(final String detail, final String reason)
    {
        badMessages.incrementRelease();
        log("memif " + (client ? "client" : "server") + ": bad message from peer \"" + peerName + "\" on " +
            socketPath + ": " + detail + "; disconnecting");
        teardown(null, reason);
    }

    private void sendAck()
    {
        beginMessage(MSG_ACK);
        sendMessage(-1);
    }

    private void beginMessage(final int type)
    {
        send.setMemory(0, MESSAGE_LENGTH, (byte)0);
        send.putShort(TYPE_OFFSET, (short)type);
    }

    private boolean sendMessage(final int fd)
    {
        try
        {
            sendFds[0] = fd;
            final int sent = channel.send(send.addressOffset(), MESSAGE_LENGTH, sendFds, fd >= 0 ? 1 : 0);
            if (sent != MESSAGE_LENGTH)
            {
                teardown("sent " + sent + " of " + MESSAGE_LENGTH + " bytes", null);
                return false;
            }
            return true;
        }
        catch (final OsException ex)
        {
            teardown("cannot send " + messageName(send.getShort(TYPE_OFFSET)) + ": " + ex.getMessage(), null);
            return false;
        }
    }

    private void sendDisconnect(final UnixSocket socket, final String reason)
    {
        beginMessage(MSG_DISCONNECT);
        send.putInt(DISCONNECT_CODE_OFFSET, 0);
        putString(DISCONNECT_STRING_OFFSET, reason, DISCONNECT_STRING_LENGTH);
        try
        {
            socket.send(send.addressOffset(), MESSAGE_LENGTH, sendFds, 0);
        }
        catch (final OsException | IllegalStateException ignored)
        {
            // Best effort: the peer may be gone already.
        }
    }

    /**
     * Ends the connection: optionally tells the peer why, publishes the down state to every port, retires every
     * mapping (unmapped once no dataplane thread can touch it, at once when no queue pair polls), closes fds, and for
     * the client schedules the reconnect.
     *
     * @param why        logged, or null when the caller logged already.
     * @param sendReason DISCONNECT reason sent to the peer, or null to send none (the peer went or said goodbye).
     */
    private void teardown(final String why, final String sendReason)
    {
        final boolean wasConnected = state == State.CONNECTED;
        if (why != null)
        {
            log("memif " + (client ? "client" : "server") + ": " + (wasConnected ? "peer \"" + peerName +
                "\" disconnected: " : "connection ended: ") + why);
        }
        if (channel != null)
        {
            if (sendReason != null)
            {
                sendDisconnect(channel, sendReason);
            }
            channel.close();
            channel = null;
        }
        if (wasConnected)
        {
            disconnects.incrementRelease();
        }
        final long downEpoch = ++epoch;
        for (final MemifNicPort port : ports)
        {
            port.publish(MemifConnection.down(downEpoch));
        }
        for (final Mapping mapping : regions)
        {
            // Not detached (remapped to zero pages): a dataplane thread mid-burst must read the frames the peer
            // published, whole, not zeros it would deliver as frames. Unmapped once no dataplane thread can touch it.
            retired.add(mapping);
            retiredEpochs.add(downEpoch);
        }
        regions.clear();
        for (final int fd : regionFds)
        {
            Fds.closeQuietly(fd);
        }
        regionFds.clear();
        for (final EventFd eventFd : eventFds)
        {
            eventFd.close();
        }
        eventFds.clear();
        for (final int fd : receivedEventFds)
        {
            Fds.closeQuietly(fd);
        }
        receivedEventFds.clear();
        java.util.Arrays.fill(s2mRing, 0);
        java.util.Arrays.fill(m2sRing, 0);
        connectedEpoch = -1;
        state = State.IDLE;
        if (client)
        {
            nextConnectNs = System.nanoTime() + backoffNs;
            backoffNs = Math.min(MAX_BACKOFF_NS, backoffNs * 2);
        }
        unmapRetired();
    }

    /**
     * Unmaps the retired mappings no dataplane thread can touch any more: those retired at an epoch every port has
     * acknowledged since, all of them when every port is parked ({@link MemifNicPort#PARKED}: no queue pair polls).
     * Each {@link MemifNicPort#acknowledgedEpoch()} is a volatile read after the down state's volatile publication,
     * the control side of the handshake a parked port makes before it touches memory again.
     */
    private void unmapRetired()
    {
        if (retired.isEmpty())
        {
            return;
        }
        long acknowledged = Long.MAX_VALUE;
        for (final MemifNicPort port : ports)
        {
            acknowledged = Math.min(acknowledged, port.acknowledgedEpoch());
        }
        for (int i = retired.size() - 1; i >= 0; i--)
        {
            if (retiredEpochs.get(i) <= acknowledged)
            {
                retired.remove(i).close();
                retiredEpochs.remove(i);
            }
        }
    }

    private void putString(final int offset, final String value, final int fieldLength)
    {
        final byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
        final int length = Math.min(bytes.length, fieldLength - 1);
        send.putBytes(offset, bytes, 0, length);
    }

    private String getString(final int offset, final int fieldLength)
    {
        final StringBuilder builder = new StringBuilder();
        for (int i = 0; i < fieldLength; i++)
        {
            final int b = receive.getByte(offset + i) & 0xFF;
            if (b == 0)
            {
                break;
            }
            builder.append(b >= 0x20 && b < 0x7F ? (char)b : '?');
        }
        return builder.toString();
    }

    private void log(final String line)
    {
        log.accept(line);
    }

    /** Sends DISCONNECT if connected, closes the socket(s) and every mapping; the dataplane threads have stopped. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        if (channel != null)
        {
            teardown(null, "pagewire closing");
        }
        else if (!regions.isEmpty())
        {
            teardown(null, null);
        }
        closed = true;
        if (listener != null)
        {
            listener.close();
            listener = null;
        }
        for (final Mapping mapping : retired)
        {
            mapping.close();
        }
        retired.clear();
        retiredEpochs.clear();
        for (final MemifNicPort port : ports)
        {
            if (port != null)
            {
                port.close();
            }
        }
        for (final AtomicCounter counter : allCounters)
        {
            counter.close();
        }
    }
}
