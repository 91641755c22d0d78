package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;

/**
 * A vhost-user frontend for tests, in the role DPDK's virtio_user or QEMU plays: shares one memfd region of "guest"
 * memory, sets up rings in it with the driver-side virtqueue, and speaks the protocol over a real Unix socket. Raw
 * methods send anything at all, for hostile tests.
 */
final class TestFrontend implements AutoCloseable
{
    static final long GUEST_BASE = 0x1_0000_0000L;

    final UnixSocket socket;
    final int memfd;
    final Mapping memory;
    final GuestMemory view = new GuestMemory();
    private final UnsafeBuffer message = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8192, 64));
    private final int[] noFds = new int[UnixSocket.MAX_FDS];
    private long next = GUEST_BASE;

    private TestFrontend(final Path path, final long memorySize)
    {
        this(connectWhenListening(path), memorySize);
    }

    /**
     * Connects, retrying for up to 10 s while the socket file exists but nobody listens yet (ECONNREFUSED: a server
     * binds, which creates the file, before it listens; a test that waits for the file can be that early on a loaded
     * machine) or the file is not there yet (ENOENT).
     */
    private static UnixSocket connectWhenListening(final Path path)
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (true)
        {
            try
            {
                return UnixSocket.connect(path);
            }
            catch (final OsException e)
            {
                if ((e.errno() != 111 && e.errno() != 2) || System.nanoTime() - deadline > 0)
                {
                    throw e;
                }
                java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
            }
        }
    }

    private TestFrontend(final UnixSocket socket, final long memorySize)
    {
        this.socket = socket;
        memfd = Fds.memfdCreate("test-guest", memorySize);
        memory = Mapping.map(memfd, 0, memorySize);
        // The frontend's own view: guest-physical GUEST_BASE is at its mapping; "user address" = its VA.
        view.addRegion(GUEST_BASE, memorySize, memory.address(), memory.address());
    }

    static TestFrontend connect(final Path path)
    {
        return new TestFrontend(path, 16L << 20);
    }

    /**
     * A frontend on a connection made otherwise: the one a listening frontend accepted from the backend in client
     * mode. It must be blocking ({@link UnixSocket#accept()}), as the frontend's methods wait on it.
     */
    static TestFrontend over(final UnixSocket socket)
    {
        return new TestFrontend(socket, 16L << 20);
    }

    /** A frontend with {@code memorySize} bytes of guest memory (a multiple of the page size). */
    static TestFrontend connect(final Path path, final long memorySize)
    {
        return new TestFrontend(path, memorySize);
    }

    /** What {@link #replyOrClosed} returns when the backend closed the connection instead of replying. */
    static final long CLOSED = Long.MIN_VALUE;

    /** Sends {@code length} raw bytes as they are (half a header, a header whose size lies), fds on the first. */
    void sendRaw(final byte[] bytes, final int length, final int[] fds, final int fdCount)
    {
        message.putBytes(0, bytes, 0, length);
        socket.send(message.addressOffset(), length, fds == null ? noFds : fds, fdCount);
    }

    /**
     * Like {@link #readReply}, but a connection the backend closed (EOF, or ECONNRESET because it closed with our
     * bytes unread) is {@link #CLOSED} instead of -1 or an exception.
     */
    long replyOrClosed(final int expectedCode)
    {
        try
        {
            if (!socket.awaitReadable(5000))
            {
                throw new AssertionError("no reply to request " + expectedCode + " within 5 s, and no close");
            }
            final long reply = readReply(expectedCode);
            return reply == -1 ? CLOSED : reply;
        }
        catch (final OsException e)
        {
            return CLOSED;
        }
    }

    /**
     * @return whether the backend closed the connection within the timeout: EOF or a reset; bytes that arrive first
     * (replies) are skipped.
     */
    boolean closedOrReset(final int timeoutMs)
    {
        final long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        try
        {
            while (true)
            {
                final long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
                if (remainingMs <= 0 || !socket.awaitReadable((int)remainingMs))
                {
                    return false;
                }
                if (socket.receive(message.addressOffset(), 4096, noFds) == 0)
                {
                    return true;
                }
            }
        }
        catch (final OsException e)
        {
            return true;
        }
    }

    /**
     * Reads and discards whatever the backend has sent so far, without waiting.
     *
     * @return false when the backend closed the connection.
     */
    boolean drain()
    {
        try
        {
            while (socket.awaitReadable(0))
            {
                if (socket.receive(message.addressOffset(), 4096, noFds) == 0)
                {
                    return false;
                }
                for (int i = 0; i < socket.lastFdCount(); i++)
                {
                    Fds.closeQuietly(noFds[i]);
                }
            }
            return true;
        }
        catch (final OsException e)
        {
            return false;
        }
    }

    /**
     * Sends GET_QUEUE_NUM and waits for its reply, skipping replies to earlier requests: the backend has then handled
     * everything sent before it.
     *
     * @return false when the backend closed the connection.
     */
    boolean sync()
    {
        try
        {
            send(VhostUserRequest.GET_QUEUE_NUM.code(), VERSION, null, 0, null, 0);
            while (true)
            {
                if (!socket.awaitReadable(5000))
                {
                    throw new AssertionError("no reply to GET_QUEUE_NUM within 5 s, and no close");
                }
                if (!socket.receiveFully(message.addressOffset(), HEADER_LENGTH, noFds))
                {
                    return false;
                }
                final int size = message.getInt(SIZE_OFFSET);
                if ((message.getInt(FLAGS_OFFSET) & FLAG_REPLY) == 0 || size < 0 || size > MAX_PAYLOAD)
                {
                    throw new AssertionError("malformed reply: flags 0x" +
                        Integer.toHexString(message.getInt(FLAGS_OFFSET)) + ", size " + size);
                }
                if (size > 0 && !socket.receiveFully(message.addressOffset() + HEADER_LENGTH, size, noFds))
                {
                    return false;
                }
                if (message.getInt(REQUEST_OFFSET) == VhostUserRequest.GET_QUEUE_NUM.code())
                {
                    return true;
                }
            }
        }
        catch (final OsException e)
        {
            return false;
        }
    }

    /** The usual negotiation without the memory table: protocol features with REPLY_ACK, owner, features. */
    void negotiateFeatures(final long features)
    {
        get(VhostUserRequest.GET_FEATURES);
        get(VhostUserRequest.GET_PROTOCOL_FEATURES);
        sendU64(VhostUserRequest.SET_PROTOCOL_FEATURES, PROTOCOL_F_REPLY_ACK | PROTOCOL_F_MQ, false);
        send(VhostUserRequest.SET_OWNER.code(), VERSION | FLAG_NEED_REPLY, null, 0, null, 0);
        expectAck(VhostUserRequest.SET_OWNER, 0);
        sendU64(VhostUserRequest.SET_FEATURES, features | F_PROTOCOL_FEATURES, true);
        expectAck(VhostUserRequest.SET_FEATURES, 0);
    }

    /**
     * Sends SET_MEM_TABLE (NEED_REPLY) with {@code nregions} in its header and the given regions, each
     * {guest_phys_addr, memory_size, userspace_addr, mmap_offset}, and the given fds; the payload size is
     * {@code 8 + 32 * regions.length} unless {@code size} is not negative.
     */
    void sendMemTable(final int nregions, final long[][] regions, final int size, final int[] fds, final int fdCount)
    {
        final int payloadSize = size >= 0 ? size : 8 + MEM_REGION_SIZE * regions.length;
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[Math.max(payloadSize, 8 + MEM_REGION_SIZE *
            regions.length)]);
        payload.putInt(0, nregions);
        for (int i = 0; i < regions.length; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                payload.putLong(8 + i * MEM_REGION_SIZE + 8 * j, regions[i][j]);
            }
        }
        send(VhostUserRequest.SET_MEM_TABLE.code(), VERSION | FLAG_NEED_REPLY, payload, payloadSize, fds, fdCount);
    }

    /** Sends SET_VRING_ADDR (NEED_REPLY) with the frontend's virtual addresses as given. */
    void sendVringAddr(final int index, final long desc, final long used, final long avail)
    {
        final UnsafeBuffer addr = new UnsafeBuffer(new byte[VRING_ADDR_SIZE]);
        addr.putInt(0, index);
        addr.putLong(8, desc);
        addr.putLong(16, used);
        addr.putLong(24, avail);
        send(VhostUserRequest.SET_VRING_ADDR.code(), VERSION | FLAG_NEED_REPLY, addr, VRING_ADDR_SIZE, null, 0);
    }

    long allocate(final long length, final long alignment)
    {
        final long start = (next + alignment - 1) & -alignment;
        next = start + length;
        return start;
    }

    /** @return the frontend's virtual address of a guest-physical address. */
    long userAddress(final long guestPhys)
    {
        return memory.address() + (guestPhys - GUEST_BASE);
    }

    /** Sends a request with a payload taken from {@code payload} (may be null) and fds. */
    void send(final int code, final int flags, final UnsafeBuffer payload, final int size, final int[] fds,
        final int fdCount)
    {
        message.putInt(REQUEST_OFFSET, code);
        message.putInt(FLAGS_OFFSET, flags);
        message.putInt(SIZE_OFFSET, size);
        if (payload != null && size > 0)
        {
            message.putBytes(HEADER_LENGTH, payload, 0, size);
        }
        socket.send(message.addressOffset(), HEADER_LENGTH + size, fds == null ? noFds : fds, fdCount);
    }

    void sendU64(final VhostUserRequest request, final long value, final boolean needReply)
    {
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        payload.putLong(0, value);
        send(request.code(), VERSION | (needReply ? FLAG_NEED_REPLY : 0), payload, 8, null, 0);
    }

    void sendState(final VhostUserRequest request, final int index, final int num)
    {
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        payload.putInt(0, index);
        payload.putInt(4, num);
        send(request.code(), VERSION | FLAG_NEED_REPLY, payload, 8, null, 0);
    }

    /** Reads one reply; returns its u64 (or the state's second word). -1 when the connection closed. */
    long readReply(final int expectedCode)
    {
        if (!socket.awaitReadable(5000) || !socket.receiveFully(message.addressOffset(), HEADER_LENGTH, noFds))
        {
            return -1;
        }
        final int size = message.getInt(SIZE_OFFSET);
        if (message.getInt(REQUEST_OFFSET) != expectedCode || (message.getInt(FLAGS_OFFSET) & FLAG_REPLY) == 0)
        {
            throw new AssertionError("reply to " + message.getInt(REQUEST_OFFSET) + " flags " +
                message.getInt(FLAGS_OFFSET) + ", expected a reply to " + expectedCode);
        }
        socket.receiveFully(message.addressOffset() + HEADER_LENGTH, size, noFds);
        return size == 8 && expectedCode == VhostUserRequest.GET_VRING_BASE.code() ?
            message.getInt(HEADER_LENGTH + 4) : message.getLong(HEADER_LENGTH);
    }

    long get(final VhostUserRequest request)
    {
        send(request.code(), VERSION, null, 0, null, 0);
        return readReply(request.code());
    }

    /** Sends the memory table (one region, the whole memfd); returns the REPLY_ACK value. */
    long setMemTable()
    {
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8 + MEM_REGION_SIZE]);
        payload.putInt(0, 1);
        payload.putLong(8, GUEST_BASE);
        payload.putLong(16, memory.length());
        payload.putLong(24, memory.address());
        payload.putLong(32, 0);
        send(VhostUserRequest.SET_MEM_TABLE.code(), VERSION | FLAG_NEED_REPLY, payload, payload.capacity(),
            new int[] {memfd}, 1);
        return readReply(VhostUserRequest.SET_MEM_TABLE.code());
    }

    /** The usual negotiation: protocol features with REPLY_ACK, owner, virtio features. */
    void negotiate(final long features)
    {
        final long offered = get(VhostUserRequest.GET_FEATURES);
        if ((offered & F_PROTOCOL_FEATURES) == 0)
        {
            throw new AssertionError("backend does not offer PROTOCOL_FEATURES");
        }
        get(VhostUserRequest.GET_PROTOCOL_FEATURES);
        sendU64(VhostUserRequest.SET_PROTOCOL_FEATURES, PROTOCOL_F_REPLY_ACK | PROTOCOL_F_MQ, false);
        send(VhostUserRequest.SET_OWNER.code(), VERSION | FLAG_NEED_REPLY, null, 0, null, 0);
        expectAck(VhostUserRequest.SET_OWNER, 0);
        sendU64(VhostUserRequest.SET_FEATURES, features | F_PROTOCOL_FEATURES, true);
        expectAck(VhostUserRequest.SET_FEATURES, 0);
        if (setMemTable() != 0)
        {
            throw new AssertionError("memory table refused");
        }
    }

    void expectAck(final VhostUserRequest request, final long expected)
    {
        final long ack = readReply(request.code());
        if (ack != expected)
        {
            throw new AssertionError(request + " acked " + ack + ", expected " + expected);
        }
    }

    /** Lays out ring {@code index} of {@code size} entries and hands it to the backend, polled (NOFD kick). */
    DriverVirtqueue setupRing(final int index, final int size, final boolean eventIdx)
    {
        final long desc = allocate(SplitRingLayout.descTableLength(size), 16);
        final long avail = allocate(SplitRingLayout.availRingLength(size), 2);
        final long used = allocate(SplitRingLayout.usedRingLength(size), 4);
        final DriverVirtqueue queue = new DriverVirtqueue(size, view, desc, avail, used, eventIdx);
        sendState(VhostUserRequest.SET_VRING_NUM, index, size);
        expectAck(VhostUserRequest.SET_VRING_NUM, 0);
        sendState(VhostUserRequest.SET_VRING_BASE, index, 0);
        expectAck(VhostUserRequest.SET_VRING_BASE, 0);
        final UnsafeBuffer addr = new UnsafeBuffer(new byte[VRING_ADDR_SIZE]);
        addr.putInt(0, index);
        addr.putLong(8, userAddress(desc));
        addr.putLong(16, userAddress(used));
        addr.putLong(24, userAddress(avail));
        send(VhostUserRequest.SET_VRING_ADDR.code(), VERSION | FLAG_NEED_REPLY, addr, VRING_ADDR_SIZE, null, 0);
        expectAck(VhostUserRequest.SET_VRING_ADDR, 0);
        sendU64(VhostUserRequest.SET_VRING_KICK, index | VRING_NOFD, true);
        expectAck(VhostUserRequest.SET_VRING_KICK, 0);
        sendState(VhostUserRequest.SET_VRING_ENABLE, index, 1);
        expectAck(VhostUserRequest.SET_VRING_ENABLE, 0);
        return queue;
    }

    /** @return whether the backend closed the connection (EOF within the timeout). */
    boolean closedByPeer(final int timeoutMs)
    {
        if (!socket.awaitReadable(timeoutMs))
        {
            return false;
        }
        return socket.receive(message.addressOffset(), 1, noFds) == 0;
    }

    @Override
    public void close()
    {
        socket.close();
        memory.close();
        Fds.closeQuietly(memfd);
    }
}
