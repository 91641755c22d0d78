package io.pagewire.control.vhostuser;

import com.lmax.disruptor.EventPoller;
import io.pagewire.control.device.QueuePairFactory;
import io.pagewire.dataplane.engine.DataplaneEvent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.MemoryFiles;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;

/**
 * The vhost-user backend state of one frontend connection: features, memory table, vrings, and the queue pairs
 * running on the dataplane. It handles one decoded request at a time on the control thread and never blocks on the
 * dataplane except to wait (bounded) for it to give a queue pair back.
 * <p>
 * Every number the frontend sends is checked before use: payload sizes and fd counts per request, ring indices,
 * ring sizes (power of two ≤ 32768), ring addresses (aligned, wholly inside a mapped region, by the frontend's
 * virtual addresses), memory regions (at most 8, non-empty, not overlapping, inside their fd). A violation gets an
 * error reply (REPLY_ACK) or closes the connection, is counted, and leaves pagewire serving the next connection.
 * Received fds are owned here: closed when replaced, unused, refused, or at disconnect.
 * <p>
 * <b>Memory the frontend changes under us.</b> Regions are mapped only from memory-backed files (tmpfs/shmem: memfd,
 * /dev/shm; hugetlbfs), whose faults never wait on I/O; a FUSE or network file is refused at SET_MEM_TABLE. The
 * frontend may still shrink a region's file (unless it sealed it with F_SEAL_SHRINK, which is logged per table): the
 * dataplane then faults, breaks the pairs with MEMORY_FAULT, and the QUEUE_BROKEN event makes this backend ask the
 * server to disconnect the frontend ({@link #disconnectRequested()}); the mappings go only once the dataplane gave the
 * pairs back. A private duplicate of each region's fd is kept with the table so the dataplane can tell which memory
 * went away.
 * <p>
 * <b>A pair the dataplane does not give back</b> within 5 s is isolated instead of ending the process: counted
 * ({@code queue isolated}), its memory table and call eventfds kept (the dataplane may still touch them) until the
 * dataplane does give it back (its DETACHED event), then released; no new pair starts on its agent meanwhile, and the
 * frontend is disconnected.
 */
public final class VhostUserBackend implements AutoCloseable
{
    /** Result of handling a request. */
    public enum Outcome
    {
        /** Done; a reply (if any) is in the reply buffer. */
        OK,
        /** The request was refused; a reply (if the frontend wants one) says so; the connection stays. */
        REFUSED,
        /** The connection must be closed (unknown request, malformed message). */
        CLOSE
    }

    private static final long DETACH_TIMEOUT_NS = 5_000_000_000L;
    /** {@code PAGEWIRE_VHOST_TRACE=1} logs every request: for debugging a frontend's sequence. */
    private static final boolean TRACE = System.getenv("PAGEWIRE_VHOST_TRACE") != null;

    private final int maxQueuePairs;
    /** One handler for every poll: a method reference written at the call would allocate on each call. */
    private final EventPoller.Handler<DataplaneEvent> eventHandler = this::onEvent;
    private final long offeredFeatures;
    private final long offeredProtocolFeatures;
    private final DataplaneProxy[] proxies;
    private final IntFunction<NicPort> nicForPair;
    private final RxPolicy policy;
    private final int burst;
    private final CountersManager counters;
    private final Vring[] vrings;
    private final QueuePair[] running;
    /** The current memory table's mappings and backing fds, or null. */
    private HeldMemory held;
    /** Pairs the dataplane did not give back in time, by index; null when none. */
    private final Isolated[] isolated;
    /** The notifier of the pair last started as pair n (control writes, for isolation). */
    private final PairNotifier[] notifiers;
    private boolean disconnectRequested;
    private String disconnectReason;
    private long isolatedPairs;
    private final List<String> log = new ArrayList<>();
    /** Set by the dataplane (call fds) or control (err fds) thread; cleared by {@link #close()}. */
    private volatile boolean peerFdBlocked;

    private GuestMemory memory = new GuestMemory();
    private long ackedFeatures;
    private long lastNegotiatedFeatures;
    private boolean featuresSet;
    private long ackedProtocolFeatures;
    private int status;
    private long errors;
    private QueuePair lastDetached;
    private final QueuePair[] detachedSnapshot;
    private final QueuePair[] previous;
    private final QueueCounters[] queueCounters;

    /** One virtqueue's setup as the frontend gave it. */
    private static final class Vring
    {
        int num;
        long desc = -1;
        long used = -1;
        long avail = -1;
        int base;
        int kickFd = -1;
        boolean kicked;
        EventFd call;
        EventFd err;
        boolean enabled;

        boolean hasAddresses()
        {
            return desc != -1;
        }
    }

    /**
     * A memory table's mappings and the backing fds its {@link GuestMemory} owns, released when the last holder
     * (the backend while the table is current, each isolated pair built over it) lets go. Control thread only.
     */
    private static final class HeldMemory
    {
        final GuestMemory memory;
        final List<Mapping> mappings;
        int holders = 1;

        HeldMemory(final GuestMemory memory, final List<Mapping> mappings)
        {
            this.memory = memory;
            this.mappings = mappings;
        }

        void release()
        {
            if (--holders == 0)
            {
                mappings.forEach(Mapping::close);
                memory.closeBackingFds();
            }
        }
    }

    /** A queue pair the dataplane did not give back in time, and what it may still touch. */
    private record Isolated(QueuePair pair, HeldMemory memory, EventFd rxCall, EventFd txCall)
    {
        void release()
        {
            if (memory != null)
            {
                memory.release();
            }
            if (rxCall != null)
            {
                rxCall.close();
            }
            if (txCall != null)
            {
                txCall.close();
            }
        }
    }

    /**
     * @param maxQueuePairs          queue pairs offered.
     * @param offeredFeatures        virtio feature bits offered (PROTOCOL_FEATURES is added here).
     * @param proxies                the dataplane agents; pair n goes to agent n % length.
     * @param nicForPair             the NIC port of each pair.
     * @param policy                 RX policy.
     * @param burst                  frames per queue per duty cycle.
     * @param counters               where queue counters are allocated, or null.
     */
    public VhostUserBackend(
        final int maxQueuePairs,
        final long offeredFeatures,
        final DataplaneProxy[] proxies,
        final IntFunction<NicPort> nicForPair,
        final RxPolicy policy,
        final int burst,
        final CountersManager counters)
    {
        this.maxQueuePairs = maxQueuePairs;
        this.offeredFeatures = offeredFeatures | F_PROTOCOL_FEATURES;
        this.offeredProtocolFeatures = PROTOCOL_F_MQ | PROTOCOL_F_REPLY_ACK | PROTOCOL_F_RESET_DEVICE |
            PROTOCOL_F_STATUS;
        this.proxies = proxies;
        this.nicForPair = nicForPair;
        this.policy = policy;
        this.burst = burst;
        this.counters = counters;
        this.vrings = new Vring[2 * maxQueuePairs];
        for (int i = 0; i < vrings.length; i++)
        {
            vrings[i] = new Vring();
        }
        this.running = new QueuePair[maxQueuePairs];
        this.detachedSnapshot = new QueuePair[maxQueuePairs];
        this.previous = new QueuePair[maxQueuePairs];
        this.queueCounters = new QueueCounters[maxQueuePairs];
        this.isolated = new Isolated[maxQueuePairs];
        this.notifiers = new PairNotifier[maxQueuePairs];
    }

    /**
     * Handles one request. Takes ownership of the fds: each is either kept or closed before returning.
     *
     * @param code    the request code from the header.
     * @param flags   the header flags.
     * @param payload the payload (exactly {@code size} bytes).
     * @param size    payload size.
     * @param fds     received fds, {@code fdCount} of them.
     * @param reply   where a reply payload goes (at offset 0).
     * @return the outcome; {@link #replyLength()} tells whether a reply payload was produced.
     */
    public Outcome handle(
        final int code, final int flags, final UnsafeBuffer payload, final int size, final int[] fds, final int fdCount,
        final UnsafeBuffer reply)
    {
        replyLength = -1;
        final VhostUserRequest request = VhostUserRequest.of(code);
        if (request == null)
        {
            closeAll(fds, fdCount);
            return fail("unknown request " + code + ": closing the connection", Outcome.CLOSE);
        }
        if ((request.payloadSize() >= 0 && size != request.payloadSize()) ||
            (request.fdCount() == 0 && fdCount != 0))
        {
            closeAll(fds, fdCount);
            return fail(request + ": payload of " + size + " bytes and " + fdCount + " fds, expected " +
                (request.payloadSize() < 0 ? "a variable payload" : request.payloadSize() + " bytes") + " and " +
                (request.fdCount() < 0 ? "the fds its payload announces" : request.fdCount() + " fds"),
                Outcome.CLOSE);
        }
        if (TRACE)
        {
            log("request " + request + " size " + size + " fds " + fdCount + " first u64 0x" +
                (size >= 8 ? Long.toHexString(payload.getLong(0)) : "-"));
        }
        final Outcome outcome = switch (request)
        {
            case GET_FEATURES -> replyU64(reply, offeredFeatures);
            case SET_FEATURES -> setFeatures(payload.getLong(0));
            case SET_OWNER -> Outcome.OK;
            case RESET_OWNER, RESET_DEVICE -> resetDevice();
            case SET_MEM_TABLE -> setMemTable(payload, size, fds, fdCount);
            case SET_VRING_NUM -> setVringNum(payload.getInt(0), payload.getInt(4));
            case SET_VRING_ADDR -> setVringAddr(payload);
            case SET_VRING_BASE -> setVringBase(payload.getInt(0), payload.getInt(4));
            case GET_VRING_BASE -> getVringBase(payload.getInt(0), reply);
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> setVringFile(request, payload.getLong(0), fds, fdCount);
            case GET_PROTOCOL_FEATURES -> replyU64(reply, offeredProtocolFeatures);
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(payload.getLong(0));
            case GET_QUEUE_NUM -> replyU64(reply, maxQueuePairs);
            case SET_VRING_ENABLE -> setVringEnable(payload.getInt(0), payload.getInt(4));
            case SET_STATUS -> setStatus(payload.getLong(0));
            case GET_STATUS -> replyU64(reply, status);
            case SET_LOG_BASE, SET_LOG_FD, SEND_RARP, NET_SET_MTU, GET_CONFIG ->
            {
                closeAll(fds, fdCount);
                yield fail(request + ": not supported (its feature was not offered)", Outcome.REFUSED);
            }
        };
        if (replyLength < 0 && (flags & FLAG_NEED_REPLY) != 0 && (ackedProtocolFeatures & PROTOCOL_F_REPLY_ACK) != 0)
        {
            // REPLY_ACK: 0 for success, non-zero for failure.
            reply.putLong(0, outcome == Outcome.OK ? 0 : 1);
            replyLength = U64_SIZE;
        }
        return outcome;
    }

    private int replyLength = -1;

    /** @return length of the reply payload produced by the last {@link #handle}, or -1 for no reply. */
    public int replyLength()
    {
        return replyLength;
    }

    private Outcome replyU64(final UnsafeBuffer reply, final long value)
    {
        reply.putLong(0, value);
        replyLength = U64_SIZE;
        return Outcome.OK;
    }

    private Outcome setFeatures(final long features)
    {
        final long unknown = features & ~offeredFeatures;
        if (unknown != 0)
        {
            return fail("SET_FEATURES 0x" + Long.toHexString(features) + ": bits 0x" + Long.toHexString(unknown) +
                " were not offered", Outcome.REFUSED);
        }
        ackedFeatures = features;
        lastNegotiatedFeatures = features & ~F_PROTOCOL_FEATURES;
        featuresSet = true;
        return Outcome.OK;
    }

    private Outcome setProtocolFeatures(final long features)
    {
        final long unknown = features & ~offeredProtocolFeatures;
        if (unknown != 0)
        {
            return fail("SET_PROTOCOL_FEATURES 0x" + Long.toHexString(features) + ": bits 0x" +
                Long.toHexString(unknown) + " were not offered", Outcome.REFUSED);
        }
        ackedProtocolFeatures = features;
        return Outcome.OK;
    }

    private Outcome setStatus(final long value)
    {
        if (value < 0 || value > 0xFF)
        {
            return fail("SET_STATUS " + value + ": not a status byte", Outcome.REFUSED);
        }
        status = (int)value;
        if ((status & io.pagewire.dataplane.virtio.DeviceStatus.DRIVER_OK) == 0)
        {
            // §3.1.1: the device uses no queue before DRIVER_OK; a reset (0) stops them.
            stopAll();
        }
        else
        {
            for (int pair = 0; pair < maxQueuePairs; pair++)
            {
                tryStart(pair);
            }
        }
        return Outcome.OK;
    }

    private Outcome resetDevice()
    {
        stopAll();
        for (final Vring vring : vrings)
        {
            resetVring(vring);
        }
        ackedFeatures = 0;
        featuresSet = false;
        status = 0;
        return Outcome.OK;
    }

    private Outcome setMemTable(final UnsafeBuffer payload, final int size, final int[] fds, final int fdCount)
    {
        if (size < 8)
        {
            closeAll(fds, fdCount);
            return fail("SET_MEM_TABLE: payload of " + size + " bytes is shorter than its header", Outcome.CLOSE);
        }
        final long regions = payload.getInt(0) & 0xFFFF_FFFFL;
        if (regions < 1 || regions > MAX_MEM_REGIONS || size != 8 + regions * MEM_REGION_SIZE || fdCount != regions)
        {
            closeAll(fds, fdCount);
            return fail("SET_MEM_TABLE: " + regions + " regions in " + size + " bytes with " + fdCount +
                " fds: must be 1.." + MAX_MEM_REGIONS + " regions of " + MEM_REGION_SIZE + " bytes, one fd each",
                Outcome.CLOSE);
        }
        final GuestMemory table = new GuestMemory();
        final List<Mapping> mapped = new ArrayList<>();
        String problem = null;
        int sealed = 0;
        for (int i = 0; i < regions && problem == null; i++)
        {
            final int offset = 8 + i * MEM_REGION_SIZE;
            final long guestPhys = payload.getLong(offset);
            final long length = payload.getLong(offset + 8);
            final long userAddr = payload.getLong(offset + 16);
            final long mmapOffset = payload.getLong(offset + 24);
            problem = mapRegion(table, mapped, i, fds[i], guestPhys, length, userAddr, mmapOffset);
            sealed += problem == null && sealedAgainstShrinking(fds[i]) ? 1 : 0;
        }
        closeAll(fds, fdCount); // a mapping keeps its own reference to the memory, the table a duplicate of each fd
        if (problem != null)
        {
            mapped.forEach(Mapping::close);
            table.closeBackingFds();
            return fail("SET_MEM_TABLE: " + problem, Outcome.REFUSED);
        }
        log("memory table: " + regions + " region(s), " + (sealed == regions ? "all" : sealed == 0 ? "none" :
            sealed + "") + " sealed against shrinking (F_SEAL_SHRINK)" + (sealed == regions ? "" :
            ": a frontend that shrinks one faults its queue pairs and is disconnected"));
        // The dataplane translates through the old table until its queue pairs are given back.
        final boolean[] wasRunning = stopAll();
        releaseTable();
        held = new HeldMemory(table, mapped);
        memory = table;
        for (int pair = 0; pair < maxQueuePairs; pair++)
        {
            if (wasRunning[pair])
            {
                tryStart(pair);
            }
        }
        return Outcome.OK;
    }

    private static String mapRegion(
        final GuestMemory table, final List<Mapping> mapped, final int index, final int fd, final long guestPhys,
        final long length, final long userAddr, final long mmapOffset)
    {
        if (length <= 0 || mmapOffset < 0 || mmapOffset > Long.MAX_VALUE - length)
        {
            return "region " + index + ": size " + length + " at mmap offset " + mmapOffset + " is not a valid range";
        }
        final long fileSize;
        final long fileSystem;
        final boolean regularFile;
        try
        {
            fileSize = Fds.size(fd);
            fileSystem = MemoryFiles.fileSystemType(fd);
            regularFile = Fds.isRegularFile(fd);
        }
        catch (final RuntimeException e)
        {
            return "region " + index + ": " + e.getMessage();
        }
        if (!regularFile)
        {
            // Device nodes live on devtmpfs, which reports tmpfs's magic: only a file is memory we can check.
            return "region " + index + ": its fd is not a regular file (a memfd, a /dev/shm or hugetlbfs file)";
        }
        if (!MemoryFiles.isMemoryBacked(fileSystem))
        {
            // A page fault on FUSE or a network file waits for a server the frontend may control: the dataplane
            // thread would hang in it. tmpfs/shmem and hugetlbfs faults are served from memory or fail at once.
            return "region " + index + ": its fd is on " + MemoryFiles.describe(fileSystem) + ": only tmpfs/shmem " +
                "(memfd, /dev/shm) and hugetlbfs memory is accepted";
        }
        if (mmapOffset + length > fileSize)
        {
            return "region " + index + ": size " + length + " at offset " + mmapOffset + " is larger than its fd (" +
                fileSize + " bytes)";
        }
        final Mapping mapping;
        try
        {
            mapping = Mapping.map(fd, 0, mmapOffset + length);
        }
        catch (final RuntimeException e)
        {
            return "region " + index + ": " + e.getMessage();
        }
        mapped.add(mapping);
        final int backing;
        try
        {
            backing = MemoryFiles.duplicate(fd);
        }
        catch (final RuntimeException e)
        {
            return "region " + index + ": " + e.getMessage();
        }
        try
        {
            table.addRegion(guestPhys, length, userAddr, mapping.address() + mmapOffset, backing, mmapOffset + length);
        }
        catch (final IllegalArgumentException e)
        {
            Fds.closeQuietly(backing);
            return "region " + index + ": " + e.getMessage();
        }
        return null;
    }

    private static boolean sealedAgainstShrinking(final int fd)
    {
        try
        {
            final int seals = Fds.seals(fd);
            return seals >= 0 && (seals & Fds.SEAL_SHRINK) != 0;
        }
        catch (final RuntimeException e)
        {
            return false;
        }
    }

    /** Lets go of the current memory table: unmapped now unless an isolated pair still holds it. */
    private void releaseTable()
    {
        if (held != null)
        {
            held.release();
            held = null;
        }
    }

    private Vring vring(final long index)
    {
        return index >= 0 && index < vrings.length ? vrings[(int)index] : null;
    }

    private Outcome setVringNum(final int index, final int num)
    {
        final Vring vring = vring(index & 0xFFFF_FFFFL);
        if (vring == null)
        {
            return fail("SET_VRING_NUM: ring index " + (index & 0xFFFF_FFFFL) + " out of range (" + vrings.length +
                " rings)", Outcome.REFUSED);
        }
        if (num < 1 || num > SplitRingLayout.MAX_QUEUE_SIZE || Integer.bitCount(num) != 1)
        {
            return fail("SET_VRING_NUM ring " + index + ": num=" + (num & 0xFFFF_FFFFL) +
                ": must be a power of two in 1..32768", Outcome.REFUSED);
        }
        stopPairOf(index);
        vring.num = num;
        return Outcome.OK;
    }

    private Outcome setVringAddr(final UnsafeBuffer payload)
    {
        final long index = payload.getInt(0) & 0xFFFF_FFFFL;
        final Vring vring = vring(index);
        if (vring == null)
        {
            return fail("SET_VRING_ADDR: ring index " + index + " out of range", Outcome.REFUSED);
        }
        final long desc = payload.getLong(8);
        final long used = payload.getLong(16);
        final long avail = payload.getLong(24);
        final String problem = QueuePairFactory.checkRing("ring " + index, Math.max(vring.num, 1),
            SplitRingLayout.MAX_QUEUE_SIZE, desc, avail, used);
        if (problem != null)
        {
            return fail("SET_VRING_ADDR: " + problem, Outcome.REFUSED);
        }
        // With a memory table in place the ring must lie in it now, as libvhost-user also requires; tryStart checks
        // again against whatever table and size hold when the ring starts.
        if (memory.regionCount() > 0 && QueuePairFactory.translate(memory, true, Math.max(vring.num, 1), desc, avail,
            used, 0) == null)
        {
            return fail("SET_VRING_ADDR ring " + index + ": desc 0x" + Long.toHexString(desc) + ", avail 0x" +
                Long.toHexString(avail) + ", used 0x" + Long.toHexString(used) + " (" + Math.max(vring.num, 1) +
                " entries): not wholly inside a region of the memory table", Outcome.REFUSED);
        }
        stopPairOf((int)index);
        vring.desc = desc;
        vring.used = used;
        vring.avail = avail;
        return Outcome.OK;
    }

    private Outcome setVringBase(final int index, final int base)
    {
        final Vring vring = vring(index & 0xFFFF_FFFFL);
        if (vring == null || base < 0 || base > 0xFFFF)
        {
            return fail("SET_VRING_BASE ring " + (index & 0xFFFF_FFFFL) + " base " + (base & 0xFFFF_FFFFL) +
                ": ring out of range or base not a u16", Outcome.REFUSED);
        }
        stopPairOf(index);
        vring.base = base;
        return Outcome.OK;
    }

    private Outcome getVringBase(final int index, final UnsafeBuffer reply)
    {
        final Vring vring = vring(index & 0xFFFF_FFFFL);
        if (vring == null)
        {
            return fail("GET_VRING_BASE: ring index " + (index & 0xFFFF_FFFFL) + " out of range", Outcome.CLOSE);
        }
        stopPairOf(index);
        // §"Stopping rings": the ring is stopped; its kick fd no longer starts it.
        vring.kicked = false;
        if (vring.kickFd >= 0)
        {
            Fds.closeQuietly(vring.kickFd);
            vring.kickFd = -1;
        }
        reply.putInt(0, index);
        reply.putInt(4, vring.base);
        replyLength = VRING_STATE_SIZE;
        return Outcome.OK;
    }

    private Outcome setVringFile(
        final VhostUserRequest request, final long value, final int[] fds, final int fdCount)
    {
        final long index = value & VRING_INDEX_MASK;
        final boolean noFd = (value & VRING_NOFD) != 0;
        final Vring vring = vring(index);
        if (vring == null || (value & ~(VRING_INDEX_MASK | VRING_NOFD)) != 0 || fdCount != (noFd ? 0 : 1))
        {
            closeAll(fds, fdCount);
            return fail(request + " 0x" + Long.toHexString(value) + " with " + fdCount + " fds: ring out of range, " +
                "unknown bits, or fd missing/extra", Outcome.CLOSE);
        }
        final int fd = noFd ? -1 : fds[0];
        switch (request)
        {
            case SET_VRING_KICK ->
            {
                if (!noFd && !EventFd.isEventFd(fd))
                {
                    // Linux vhost takes only an eventfd here (eventfd_fdget); so does pagewire, for every vring fd.
                    final String what = EventFd.describe(fd);
                    Fds.closeQuietly(fd);
                    return fail(request + " ring " + index + ": fd " + fd + " is not an eventfd: it is " + what,
                        Outcome.REFUSED);
                }
                if (vring.kickFd >= 0)
                {
                    Fds.closeQuietly(vring.kickFd);
                }
                vring.kickFd = fd;
                vring.kicked = true;
                tryStart((int)index / 2);
            }
            case SET_VRING_CALL ->
            {
                // Wrapped before anything changes: a refused fd leaves the ring and its running pair as they were.
                final EventFd call;
                try
                {
                    call = noFd ? null : EventFd.wrap(fd);
                }
                catch (final RuntimeException e)
                {
                    return fail(request + " ring " + index + ": " + e.getMessage(), Outcome.REFUSED);
                }
                // The dataplane may be writing the old call fd: stop the pair, swap, start again.
                final boolean wasRunning = stopPairOf((int)index);
                if (vring.call != null)
                {
                    vring.call.close();
                }
                vring.call = call;
                if (wasRunning)
                {
                    tryStart((int)index / 2);
                }
            }
            default ->
            {
                final EventFd err;
                try
                {
                    err = noFd ? null : EventFd.wrap(fd);
                }
                catch (final RuntimeException e)
                {
                    return fail(request + " ring " + index + ": " + e.getMessage(), Outcome.REFUSED);
                }
                if (vring.err != null)
                {
                    vring.err.close();
                }
                vring.err = err;
            }
        }
        return Outcome.OK;
    }

    private Outcome setVringEnable(final int index, final int enable)
    {
        final Vring vring = vring(index & 0xFFFF_FFFFL);
        if (vring == null || (enable != 0 && enable != 1))
        {
            return fail("SET_VRING_ENABLE ring " + (index & 0xFFFF_FFFFL) + " value " + enable +
                ": ring out of range or value not 0/1", Outcome.REFUSED);
        }
        vring.enabled = enable == 1;
        if (vring.enabled)
        {
            tryStart(index / 2);
        }
        else
        {
            stopPairOf(index);
        }
        return Outcome.OK;
    }

    private boolean ready(final Vring vring)
    {
        final boolean enabled = (ackedFeatures & F_PROTOCOL_FEATURES) == 0 || vring.enabled;
        return vring.num > 0 && vring.hasAddresses() && vring.kicked && enabled;
    }

    /** Starts a queue pair once both its rings are ready and memory and features are set. */
    private void tryStart(final int pair)
    {
        // Nothing starts on an agent that still holds an isolated pair: it does not read its commands, and a full
        // command ring would park the control thread in the next attach.
        if (pair >= maxQueuePairs || running[pair] != null || !featuresSet || memory.regionCount() == 0)
        {
            return;
        }
        if (agentStuck(pair))
        {
            log("queue pair " + pair + " not started: its dataplane agent still holds a pair it did not give back");
            return;
        }
        if ((ackedProtocolFeatures & PROTOCOL_F_STATUS) != 0 &&
            (status & io.pagewire.dataplane.virtio.DeviceStatus.DRIVER_OK) == 0)
        {
            // With SET_STATUS negotiated the frontend says when the driver is ready: not before DRIVER_OK.
            return;
        }
        final Vring rx = vrings[2 * pair];
        final Vring tx = vrings[2 * pair + 1];
        if (!ready(rx) || !ready(tx))
        {
            return;
        }
        final QueuePair.RingAddresses rxRings =
            QueuePairFactory.translate(memory, true, rx.num, rx.desc, rx.avail, rx.used, rx.base);
        final QueuePair.RingAddresses txRings =
            QueuePairFactory.translate(memory, true, tx.num, tx.desc, tx.avail, tx.used, tx.base);
        if (rxRings == null || txRings == null)
        {
            fail("queue pair " + pair + ": a ring is not inside the frontend's memory table", Outcome.REFUSED);
            return;
        }
        // The pair signals the call fds it started with, never whatever the vrings hold later: a pair that is
        // isolated keeps writing these (owned by its Isolated record), not the next frontend's.
        final PairNotifier notifier = new PairNotifier(rx.call, tx.call);
        notifiers[pair] = notifier;
        final QueuePair queuePair = QueuePairFactory.create(pair, ackedFeatures & ~F_PROTOCOL_FEATURES, memory,
            rx.num, rxRings, tx.num, txRings, nicForPair.apply(pair), notifier, policy, burst, countersOf(pair));
        if (previous[pair] != null)
        {
            queuePair.continueFrom(previous[pair]);
        }
        running[pair] = queuePair;
        proxies[pair % proxies.length].attach(queuePair);
        log("queue pair " + pair + " running: rx " + rx.num + " entries, tx " + tx.num + " entries");
    }

    /** @return the pair's counters, allocated on first use and kept across restarts and reconnects; or null. */
    private QueueCounters countersOf(final int pair)
    {
        if (counters == null)
        {
            return null;
        }
        if (queueCounters[pair] == null)
        {
            queueCounters[pair] = new QueueCounters(counters, pair);
        }
        return queueCounters[pair];
    }

    /** Stops the pair that ring {@code ringIndex} belongs to; saves the rings' indices. @return if it ran. */
    private boolean stopPairOf(final int ringIndex)
    {
        return stopPair(ringIndex / 2);
    }

    private boolean stopPair(final int pair)
    {
        if (pair < 0 || pair >= maxQueuePairs || running[pair] == null)
        {
            return false;
        }
        final QueuePair queuePair = running[pair];
        final DataplaneProxy proxy = proxies[pair % proxies.length];
        proxy.detach(pair);
        // An agent that already kept a pair past the timeout is not waited for again: each pair would cost 5 s more.
        final long deadline = System.nanoTime() + (agentStuck(pair) ? 0 : DETACH_TIMEOUT_NS);
        detachedSnapshot[pair] = null;
        while (detachedSnapshot[pair] != queuePair && System.nanoTime() - deadline < 0)
        {
            if (!proxy.pollEvents(eventHandler))
            {
                Thread.onSpinWait();
            }
        }
        if (detachedSnapshot[pair] != queuePair)
        {
            isolate(pair, queuePair);
            return false;
        }
        running[pair] = null;
        previous[pair] = queuePair;
        vrings[2 * pair].base = queuePair.rxQueue().lastAvailIdx();
        vrings[2 * pair + 1].base = queuePair.txQueue().lastAvailIdx();
        lastDetached = queuePair;
        return true;
    }

    /**
     * The dataplane did not give the pair back in time (a stuck agent): rather than end the process, keep what the
     * pair may still touch (its memory table, its call eventfds) until the dataplane does give it back, count it, and
     * have the frontend disconnected. The DETACH command stays queued: its DETACHED event releases the rest.
     */
    private void isolate(final int pair, final QueuePair queuePair)
    {
        running[pair] = null;
        if (held != null)
        {
            held.holders++;
        }
        // The pair's PairNotifier may still signal these: they stay open, owned by the record.
        if (notifiers[pair] != null)
        {
            // From now on its blocked call fds are no reason to disconnect whoever is connected then.
            notifiers[pair].orphaned = true;
        }
        isolated[pair] = new Isolated(queuePair, held, vrings[2 * pair].call, vrings[2 * pair + 1].call);
        vrings[2 * pair].call = null;
        vrings[2 * pair + 1].call = null;
        isolatedPairs++;
        final QueueCounters pairCounters = countersOf(pair);
        if (pairCounters != null)
        {
            pairCounters.isolated().getAndAddRelease(1);
        }
        disconnectRequested = true;
        disconnectReason = "queue pair " + pair + ": the dataplane did not give it back within " +
            DETACH_TIMEOUT_NS / 1_000_000_000L + " s: isolated (its memory and eventfds kept until it does)";
        fail(disconnectReason + ", disconnecting the frontend", Outcome.CLOSE);
    }

    /** @return whether the agent that runs {@code pair} still holds a pair it did not give back in time. */
    private boolean agentStuck(final int pair)
    {
        for (int other = pair % proxies.length; other < maxQueuePairs; other += proxies.length)
        {
            if (isolated[other] != null)
            {
                return true;
            }
        }
        return false;
    }

    private boolean[] stopAll()
    {
        final boolean[] wasRunning = new boolean[maxQueuePairs];
        for (int pair = 0; pair < maxQueuePairs; pair++)
        {
            wasRunning[pair] = stopPair(pair);
        }
        return wasRunning;
    }

    /**
     * Consumes dataplane events (control thread): queue breakage signals the ring's error eventfd.
     *
     * @return whether any event was processed.
     */
    public boolean pollEvents()
    {
        boolean any = false;
        for (final DataplaneProxy proxy : proxies)
        {
            any |= proxy.pollEvents(eventHandler);
        }
        return any;
    }

    private boolean onEvent(final DataplaneEvent event, final long sequence, final boolean endOfBatch)
    {
        final QueuePair pair = event.queuePair();
        switch (event.type())
        {
            case DETACHED ->
            {
                detachedSnapshot[pair.index()] = pair;
                final Isolated stuck = isolated[pair.index()];
                if (stuck != null && stuck.pair() == pair)
                {
                    // Given back at last: nothing can touch its memory or eventfds any more.
                    isolated[pair.index()] = null;
                    stuck.release();
                    previous[pair.index()] = pair;
                    log("queue pair " + pair.index() + ": the dataplane gave the isolated pair back; released");
                }
            }
            case QUEUE_BROKEN ->
            {
                final Isolated stuck = isolated[pair.index()];
                if (stuck != null && stuck.pair() == pair)
                {
                    // A pair given up on (isolated): its frontend is gone; the ring's err fd is another's now.
                    return true;
                }
                final int ring = 2 * pair.index() + (event.rx() ? 0 : 1);
                log("ring " + ring + " broken: " + event.error().description());
                errors++;
                if (event.error() == io.pagewire.dataplane.virtio.QueueError.MEMORY_FAULT && !disconnectRequested)
                {
                    // The frontend's memory is gone (shrunk): nothing it could send would bring the pair back.
                    disconnectRequested = true;
                    disconnectReason = "ring " + ring + ": the frontend's memory faulted (shrunk under its mapping?)";
                    log(disconnectReason + "; disconnecting it");
                }
                final EventFd err = vrings[ring].err;
                if (err != null)
                {
                    // Never blocks the control thread: a full counter is FULL, a blocking one is interrupted.
                    final int result = err.signal();
                    if (result != EventFd.SIGNALLED)
                    {
                        errNotWritten(ring, result);
                    }
                }
            }
            case ATTACHED -> logResumed(pair);
        }
        return true;
    }

    /**
     * Says when a queue resumed at its ring's used.idx rather than at the base the frontend gave (see
     * {@link QueuePair#enable}), as DPDK's backend warns: a frontend that kept its rings across a backend restart.
     * The pair's start indices were written before the dataplane published ATTACHED.
     */
    private void logResumed(final QueuePair pair)
    {
        for (int q = 0; q < 2; q++)
        {
            final boolean rx = q == 0;
            final int base = (rx ? pair.rxRings() : pair.txRings()).baseIndex();
            final int used = pair.startUsedIdx(rx);
            if (used != base)
            {
                log("ring " + (2 * pair.index() + q) + ": SET_VRING_BASE " + base + " but used.idx " + used +
                    ", avail.idx " + pair.startAvailIdx(rx) + ": resumed at used.idx, " +
                    ((pair.startAvailIdx(rx) - used) & 0xFFFF) + " chains pending (the frontend kept its rings; " +
                    (rx ? "buffers a previous backend filled and did not return are filled again)" :
                    "chains a previous backend took and did not return are sent, perhaps twice)"));
            }
        }
    }

    /**
     * How one started queue pair notifies its guest (dataplane thread): writes the call eventfd the ring had when the
     * pair started, once; a notification that cannot be written is counted, never waited for (see
     * {@link EventFd#signal()}).
     */
    private final class PairNotifier implements GuestNotifier
    {
        private final EventFd rxCall;
        private final EventFd txCall;
        /** Set by control when the pair is isolated: the frontend it belonged to is gone. */
        volatile boolean orphaned;

        PairNotifier(final EventFd rxCall, final EventFd txCall)
        {
            this.rxCall = rxCall;
            this.txCall = txCall;
        }

        @Override
        public void notifyUsed(final int queueIndex)
        {
            final EventFd call = (queueIndex & 1) == 0 ? rxCall : txCall;
            if (call != null)
            {
                final int result = call.signal();
                if (result != EventFd.SIGNALLED)
                {
                    callNotWritten(queueIndex, result, orphaned);
                }
            }
        }
    }

    /** Dataplane thread: the single writer of the pair's call counters. */
    private void callNotWritten(final int queueIndex, final int result, final boolean orphaned)
    {
        if (result != EventFd.FULL && !orphaned)
        {
            peerFdBlocked = true;
        }
        final QueueCounters pairCounters = queueCounters[queueIndex >> 1];
        if (pairCounters != null)
        {
            (result == EventFd.FULL ? pairCounters.notifyCallFull() : pairCounters.notifyCallBlocked())
                .getAndAddRelease(1);
        }
    }

    /** Control thread: the single writer of the pair's err counter. */
    private void errNotWritten(final int ring, final int result)
    {
        if (result == EventFd.BLOCKED)
        {
            peerFdBlocked = true;
            log("ring " + ring + ": the frontend made its err fd blocking and filled it; not written again");
        }
        final QueueCounters pairCounters = queueCounters[ring >> 1];
        if (pairCounters != null)
        {
            pairCounters.notifyErrNotWritten().getAndAddRelease(1);
        }
    }

    /**
     * @return whether a write to one of this frontend's call or err eventfds slept and was interrupted: the frontend
     *         made the fd blocking and filled it. Such an fd is not written again; the frontend is to be disconnected
     *         (control thread).
     */
    public boolean peerFdBlocked()
    {
        return peerFdBlocked;
    }

    /** @return which of this frontend's eventfds are blocked, for the disconnect message (control thread). */
    public String blockedFds()
    {
        final StringBuilder which = new StringBuilder();
        for (int ring = 0; ring < vrings.length; ring++)
        {
            if (vrings[ring].call != null && vrings[ring].call.blocked())
            {
                which.append(which.isEmpty() ? "" : ", ").append("call fd of ring ").append(ring);
            }
            if (vrings[ring].err != null && vrings[ring].err.blocked())
            {
                which.append(which.isEmpty() ? "" : ", ").append("err fd of ring ").append(ring);
            }
        }
        return which.isEmpty() ? "an eventfd" : which.toString();
    }

    private static void resetVring(final Vring vring)
    {
        vring.num = 0;
        vring.desc = -1;
        vring.used = -1;
        vring.avail = -1;
        vring.base = 0;
        vring.kicked = false;
        vring.enabled = false;
        if (vring.kickFd >= 0)
        {
            Fds.closeQuietly(vring.kickFd);
            vring.kickFd = -1;
        }
        if (vring.call != null)
        {
            vring.call.close();
            vring.call = null;
        }
        if (vring.err != null)
        {
            vring.err.close();
            vring.err = null;
        }
    }

    private static void closeAll(final int[] fds, final int fdCount)
    {
        for (int i = 0; i < fdCount; i++)
        {
            Fds.closeQuietly(fds[i]);
        }
    }

    private Outcome fail(final String message, final Outcome outcome)
    {
        errors++;
        log(message);
        return outcome;
    }

    private void log(final String message)
    {
        if (log.size() == 256)
        {
            log.removeFirst();
        }
        log.add(message);
        logged++;
    }

    private long logged;

    /** @return how many messages were ever logged (to find the new ones in {@link #log()}). */
    public long logged()
    {
        return logged;
    }

    /** @return messages about refusals and ring changes, oldest first (bounded). */
    public List<String> log()
    {
        return log;
    }

    /** @return requests refused or malformed, and queue errors reported. */
    public long errors()
    {
        return errors;
    }

    /** @return the features the frontend acknowledged. */
    public long ackedFeatures()
    {
        return ackedFeatures;
    }

    /** @return the virtio features the most recent frontend accepted (kept after it disconnects). */
    public long lastNegotiatedFeatures()
    {
        return lastNegotiatedFeatures;
    }

    /** @return the features offered (with PROTOCOL_FEATURES). */
    public long offeredFeatures()
    {
        return offeredFeatures;
    }

    /** @return the queue pair running as pair {@code index}, or null. */
    public QueuePair running(final int index)
    {
        return running[index];
    }

    /**
     * @return the latest state of every queue pair that ever ran, by index (totals continue across restarts and
     * reconnects); an entry is null for a pair that never ran. Safe to read only once the pair is not running.
     */
    public QueuePair[] finalPairs()
    {
        return previous.clone();
    }

    /** @return the queue pair most recently given back by the dataplane, or null. */
    public QueuePair lastDetached()
    {
        return lastDetached;
    }

    /** @return the memory table in use. */
    public GuestMemory memory()
    {
        return memory;
    }

    /** @return mappings of frontends' memory held now: the current table's and those kept for isolated pairs. */
    public int mappingCount()
    {
        int count = held == null ? 0 : held.mappings.size();
        for (int i = 0; i < isolated.length; i++)
        {
            final HeldMemory memory = isolated[i] == null ? null : isolated[i].memory();
            if (memory != null && memory != held && firstIsolatedWith(memory) == i)
            {
                count += memory.mappings.size();
            }
        }
        return count;
    }

    private int firstIsolatedWith(final HeldMemory memory)
    {
        for (int i = 0; i < isolated.length; i++)
        {
            if (isolated[i] != null && isolated[i].memory() == memory)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return whether the frontend must be disconnected: its memory faulted, or a pair had to be isolated. The server
     * asks after every poll of the dataplane's events; {@link #close()} clears it.
     */
    public boolean disconnectRequested()
    {
        return disconnectRequested;
    }

    /** @return why {@link #disconnectRequested()}, for the log; null when it is not. */
    public String disconnectReason()
    {
        return disconnectRequested ? disconnectReason : null;
    }

    /** @return queue pairs isolated so far (the dataplane did not give them back in time). */
    public long isolatedPairs()
    {
        return isolatedPairs;
    }

    /** @return queue pairs isolated now: not yet given back by the dataplane. */
    public int isolatedNow()
    {
        int count = 0;
        for (final Isolated stuck : isolated)
        {
            count += stuck == null ? 0 : 1;
        }
        return count;
    }

    /**
     * Releases what isolated pairs hold even though the dataplane never gave them back: only once no dataplane thread
     * runs any more (the forwarder stopped its agents).
     */
    public void releaseIsolatedAfterDataplaneStopped()
    {
        for (int i = 0; i < isolated.length; i++)
        {
            if (isolated[i] != null)
            {
                isolated[i].release();
                isolated[i] = null;
            }
        }
    }

    /** Frontend gone: stops every pair, unmaps memory, closes every fd. */
    @Override
    public void close()
    {
        stopAll();
        for (final Vring vring : vrings)
        {
            resetVring(vring);
        }
        releaseTable();
        memory = new GuestMemory();
        ackedFeatures = 0;
        featuresSet = false;
        ackedProtocolFeatures = 0;
        status = 0;
        peerFdBlocked = false;
        disconnectRequested = false;
    }
}
