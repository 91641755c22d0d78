package io.pagewire.dataplane.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.pagewire.dataplane.os.LinuxStructs.CMSG_DATA;
import static io.pagewire.dataplane.os.LinuxStructs.CMSG_LEN_OFFSET;
import static io.pagewire.dataplane.os.LinuxStructs.CMSG_LEVEL;
import static io.pagewire.dataplane.os.LinuxStructs.CMSG_TYPE;
import static io.pagewire.dataplane.os.LinuxStructs.IOV_BASE;
import static io.pagewire.dataplane.os.LinuxStructs.IOV_LEN;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_CONTROL;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_CONTROLLEN;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_FLAGS;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_IOV;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_IOVLEN;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_NAME;
import static io.pagewire.dataplane.os.LinuxStructs.MSG_NAMELEN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An AF_UNIX socket carrying messages with file descriptors (SCM_RIGHTS): SOCK_STREAM, blocking, for the vhost-user
 * transport (QEMU docs/interop/vhost-user.rst), or non-blocking ({@link #connectNonBlocking}, {@link #tryAccept},
 * {@link #tryReceive}, {@link #trySend}) for a control thread serving hostile frontends; SOCK_SEQPACKET,
 * non-blocking ({@link #listenSeqPacket}, {@link #connectSeqPacket}, {@link #tryAccept}, {@link #receiveMessage}),
 * for memif's control channel, polled by a control thread that must never block.
 * <p>
 * Rules of fd passing on a stream socket, which this class follows:
 * <ul>
 *   <li>fds travel attached to payload bytes, so a send with fds carries at least one byte; they are received by
 *       the recvmsg that reads the first of those bytes, and the kernel never merges fds of two sends into one
 *       recvmsg.</li>
 *   <li>a control buffer too small for the fds that came sets {@code MSG_CTRUNC}: the fds that fit are installed
 *       in this process, the rest are lost. Then the message cannot be trusted: the fds that did arrive are closed
 *       and {@link OsException} is thrown; the connection should be dropped.</li>
 *   <li>received fds are close-on-exec ({@code MSG_CMSG_CLOEXEC}); sends use {@code MSG_NOSIGNAL}, so a peer that
 *       went away is EPIPE, not SIGPIPE.</li>
 * </ul>
 * Each socket preallocates its msghdr, iovec, control buffers and errno call state (one set for the sending side,
 * one for the receiving side), so send and receive allocate no segments. Threads: one thread may send while another
 * receives ({@link #receive}, {@link #receiveFully}, {@link #awaitReadable}, {@link #accept} form the receiving side);
 * {@link #shutdown()} may be called from any thread and wakes the receiver. {@link #close()} must not race a call
 * still in progress: shut down, let the receiver return, then close (the fd number could otherwise be reused under
 * it). EINTR is retried everywhere.
 */
public final class UnixSocket implements AutoCloseable
{
    /** The most fds one message carries; the control buffers are sized for this many. */
    public static final int MAX_FDS = 32;
    /**
     * What {@link #receiveMessage} and {@link #tryReceive} return when nothing is waiting, and {@link #trySend} when
     * the send buffer has no room.
     */
    public static final int WOULD_BLOCK = -1;

    /** listen(2) backlog. */
    private static final int BACKLOG = 8;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final Charset PATH_CHARSET = pathCharset();
    private static final long CONTROL_BYTES = LinuxStructs.cmsgSpace((long)Integer.BYTES * MAX_FDS);

    private final int fd;
    private final String name;
    private final Path boundPath;
    private final Object boundFileKey;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final boolean seqPacket;
    private boolean lastMessageTruncated;

    private final MemorySegment sendMsg;
    private final MemorySegment sendIov;
    private final MemorySegment sendControl;
    private final MemorySegment sendState;

    private final MemorySegment receiveMsg;
    private final MemorySegment receiveIov;
    private final MemorySegment receiveControl;
    private final MemorySegment receiveState;
    private final MemorySegment pollFd;
    private final MemorySegment sendPollFd;
    private int chunkFdCount;
    private int lastFdCount;

    private UnixSocket(
        final int fd, final String name, final Path boundPath, final Object boundFileKey, final boolean seqPacket)
    {
        this.seqPacket = seqPacket;
        this.fd = fd;
        this.name = name;
        this.boundPath = boundPath;
        this.boundFileKey = boundFileKey;

        // An automatic arena: the buffers live as long as this object, and may be used from any thread.
        final Arena arena = Arena.ofAuto();
        sendMsg = arena.allocate(LinuxStructs.MSGHDR);
        sendIov = arena.allocate(LinuxStructs.IOVEC);
        sendControl = arena.allocate(CONTROL_BYTES, 8);
        sendState = Libc.callState(arena);
        initMsghdr(sendMsg, sendIov);

        receiveMsg = arena.allocate(LinuxStructs.MSGHDR);
        receiveIov = arena.allocate(LinuxStructs.IOVEC);
        receiveControl = arena.allocate(CONTROL_BYTES, 8);
        receiveState = Libc.callState(arena);
        initMsghdr(receiveMsg, receiveIov);
        receiveMsg.set(JAVA_LONG, MSG_CONTROL, receiveControl.address());

        pollFd = arena.allocate(LinuxStructs.POLLFD);
        pollFd.set(JAVA_INT, LinuxStructs.POLLFD_FD, fd);
        sendPollFd = arena.allocate(LinuxStructs.POLLFD);
        sendPollFd.set(JAVA_INT, LinuxStructs.POLLFD_FD, fd);
    }

    private static void initMsghdr(final MemorySegment msg, final MemorySegment iov)
    {
        msg.set(JAVA_LONG, MSG_NAME, 0L);
        msg.set(JAVA_INT, MSG_NAMELEN, 0);
        msg.set(JAVA_LONG, MSG_IOV, iov.address());
        msg.set(JAVA_LONG, MSG_IOVLEN, 1L);
        msg.set(JAVA_LONG, MSG_CONTROL, 0L);
        msg.set(JAVA_LONG, MSG_CONTROLLEN, 0L);
        msg.set(JAVA_INT, MSG_FLAGS, 0);
    }

    /**
     * Binds a listening socket at a path. A socket file already there is taken as left over by a process that is
     * gone and is removed first; anything else at the path (a regular file, a directory) is never removed, and bind
     * then fails with EADDRINUSE and says why.
     *
     * @param path where to listen; at most 107 bytes in the file system's encoding (sun_path is 108 with its NUL).
     * @return the listening socket; {@link #close()} removes the path again.
     * @throws IllegalArgumentException when the path does not fit sun_path.
     * @throws OsException              naming the call and the path when socket, unlink, bind or listen fails.
     */
    public static UnixSocket listen(final Path path)
    {
        return listen(path, false);
    }

    /**
     * Binds a listening, non-blocking {@code SOCK_SEQPACKET} socket at a path (memif's control channel: message
     * boundaries are kept, one memif message per packet). Same stale-socket rule as {@link #listen(Path)}; accept
     * with {@link #tryAccept()}, whose sockets are non-blocking too.
     *
     * @param path where to listen; at most 107 bytes.
     * @return the listening socket; {@link #close()} removes the path again.
     * @throws IllegalArgumentException when the path does not fit sun_path.
     * @throws OsException              naming the call and the path when socket, unlink, bind or listen fails.
     */
    public static UnixSocket listenSeqPacket(final Path path)
    {
        return listen(path, true);
    }

    private static UnixSocket listen(final Path path, final boolean seqPacket)
    {
        final byte[] pathBytes = pathBytes(path);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment cPath = cString(arena, pathBytes);
            if (isSocket(path) && Libc.unlink(state, cPath) != 0 && Libc.errno(state) != Libc.ENOENT)
            {
                throw new OsException("unlink(stale socket " + path + ")", Libc.errno(state));
            }
            final int fd = newSocket(state, seqPacket);
            boolean bound = false;
            try
            {
                if (Libc.bind(state, fd, sockaddr(arena, pathBytes), sockaddrLength(pathBytes)) != 0)
                {
                    final int errno = Libc.errno(state);
                    final String kind = errno == Libc.EADDRINUSE ? fileKind(path) : null;
                    throw new OsException("bind(" + path + ")", errno,
                        kind == null ? null : "the path exists and is " + kind + ", not a socket; not removing it");
                }
                bound = true;
                if (Libc.listen(state, fd, BACKLOG) != 0)
                {
                    throw new OsException("listen(" + path + ")", Libc.errno(state));
                }
                return new UnixSocket(fd, path.toString(), path, fileKey(path), seqPacket);
            }
            catch (final RuntimeException e)
            {
                Fds.closeQuietly(fd);
                if (bound)
                {
                    Libc.unlink(state, cPath);
                }
                throw e;
            }
        }
    }

    /**
     * Connects to a listening socket.
     *
     * @param path the socket's path.
     * @return the connected socket.
     * @throws IllegalArgumentException when the path does not fit sun_path.
     * @throws OsException              naming the path, for example ENOENT (no such socket) or ECONNREFUSED (nobody
     *                                  listens on it any more).
     */
    public static UnixSocket connect(final Path path)
    {
        return connect(path, false);
    }

    /**
     * Connects a non-blocking {@code SOCK_SEQPACKET} socket to a listening one. For a Unix socket connect completes
     * or fails at once: it never waits for the peer to accept.
     *
     * @param path the socket's path.
     * @return the connected socket.
     * @throws IllegalArgumentException when the path does not fit sun_path.
     * @throws OsException              naming the path: ENOENT (no such socket), ECONNREFUSED (nobody listens),
     *                                  EAGAIN (the listener's backlog is full).
     */
    public static UnixSocket connectSeqPacket(final Path path)
    {
        return connect(path, true);
    }

    /**
     * Connects a non-blocking {@code SOCK_STREAM} socket to a listening one (vhost-user client mode, on a control
     * thread that must never wait for a peer). A blocking connect to a Unix socket whose listen backlog is full
     * sleeps until the peer accepts, which a hostile or hung frontend may never do; this one fails at once with
     * EAGAIN instead (net/unix/af_unix.c, unix_stream_connect: {@code if (!timeo) goto out} with {@code -EAGAIN}).
     * For a Unix socket connect completes or fails at once: there is no EINPROGRESS state to wait on.
     * <p>
     * The socket stays non-blocking: receive and send on it with {@link #tryReceive} and {@link #trySend}.
     *
     * @param path the socket's path.
     * @return the connected socket.
     * @throws IllegalArgumentException when the path does not fit sun_path.
     * @throws OsException              naming the path: ENOENT (no such socket), ECONNREFUSED (nobody listens),
     *                                  EAGAIN (the listener's backlog is full).
     */
    public static UnixSocket connectNonBlocking(final Path path)
    {
        return connect(path, false, Libc.SOCK_NONBLOCK);
    }

    private static UnixSocket connect(final Path path, final boolean seqPacket)
    {
        return connect(path, seqPacket, 0);
    }

    private static UnixSocket connect(final Path path, final boolean seqPacket, final int extraType)
    {
        final byte[] pathBytes = pathBytes(path);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment address = sockaddr(arena, pathBytes);
            final int fd = newSocket(state, seqPacket, extraType);
            try
            {
                boolean interrupted = false;
                while (Libc.connect(state, fd, address, sockaddrLength(pathBytes)) != 0)
                {
                    final int errno = Libc.errno(state);
                    if (errno == Libc.EINTR)
                    {
                        interrupted = true;
                    }
                    else if (interrupted && errno == Libc.EISCONN)
                    {
                        break;
                    }
                    else
                    {
                        throw new OsException("connect(" + path + ")", errno);
                    }
                }
                return new UnixSocket(fd, path.toString(), null, null, seqPacket);
            }
            catch (final RuntimeException e)
            {
                Fds.closeQuietly(fd);
                throw e;
            }
        }
    }

    /**
     * Waits for and accepts one connection (blocking). {@link #shutdown()} from another thread wakes it: it then
     * throws OsException with EINVAL.
     *
     * @return the connected socket.
     * @throws IllegalStateException when this is not a listening socket, or is closed.
     * @throws OsException           when accept fails.
     */
    public UnixSocket accept()
    {
        checkListening();
        if (seqPacket)
        {
            throw new IllegalStateException(name + ": a non-blocking SOCK_SEQPACKET listener: use tryAccept()");
        }
        return acceptOne(Libc.SOCK_CLOEXEC);
    }

    /**
     * Accepts one pending connection without waiting (a socket from {@link #listenSeqPacket}). On a listener from
     * {@link #listen(Path)}, which is itself blocking, call it only after {@link #awaitReadable} said a connection is
     * pending (a Unix listener keeps a pending connection queued even when its peer closes before the accept).
     *
     * @return the connected socket, of this listener's type and non-blocking, or null when none is pending.
     * @throws IllegalStateException when this is not a listening socket, or is closed.
     * @throws OsException           when accept fails otherwise.
     */
    public UnixSocket tryAccept()
    {
        checkListening();
        return acceptOne(Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
    }

    private void checkListening()
    {
        checkOpen();
        if (boundPath == null)
        {
            throw new IllegalStateException(name + ": accept on a socket that is not listening");
        }
    }

    /** @return the accepted socket, of this listener's type; null when non-blocking and none is pending. */
    private UnixSocket acceptOne(final int flags)
    {
        while (true)
        {
            final int accepted = Libc.accept4(receiveState, fd, flags);
            if (accepted >= 0)
            {
                return new UnixSocket(accepted, name + " (accepted)", null, null, seqPacket);
            }
            final int errno = Libc.errno(receiveState);
            if (errno == Libc.EAGAIN && (flags & Libc.SOCK_NONBLOCK) != 0)
            {
                return null;
            }
            if (errno != Libc.EINTR && errno != Libc.ECONNABORTED)
            {
                throw new OsException("accept(" + name + ")", errno,
                    errno == Libc.EINVAL ? "the socket was shut down" : null);
            }
        }
    }

    /**
     * Receives one message without waiting, from a {@code SOCK_SEQPACKET} socket: a whole packet, or its first
     * {@code length} bytes when it was longer ({@link #lastMessageTruncated()} then says so and the rest is gone).
     * Allocation-free unless it throws.
     *
     * @param address where to put the bytes.
     * @param length  room there, >= 1.
     * @param fdsOut  where to put received fds (see {@link #receive}); {@link #lastFdCount()} says how many came.
     * @return bytes received; 0 on EOF (the peer closed); {@link #WOULD_BLOCK} when no message is waiting.
     * @throws OsException when recvmsg fails (ECONNRESET, ...) or control data was truncated (fds closed).
     */
    public int receiveMessage(final long address, final int length, final int[] fdsOut)
    {
        checkOpen();
        checkReceiveArguments(length, fdsOut);
        lastFdCount = 0;
        lastMessageTruncated = false;
        final int received = receiveChunk(address, length, fdsOut, 0, Libc.MSG_DONTWAIT);
        if (received == WOULD_BLOCK)
        {
            return WOULD_BLOCK;
        }
        lastFdCount = chunkFdCount;
        lastMessageTruncated = (receiveMsg.get(JAVA_INT, MSG_FLAGS) & Libc.MSG_TRUNC) != 0;
        return received;
    }

    /**
     * @return whether the last {@link #receiveMessage} got a packet longer than the room given (the rest was
     *         discarded by the kernel).
     */
    public boolean lastMessageTruncated()
    {
        return lastMessageTruncated;
    }

    /**
     * @return whether this is a {@code SOCK_SEQPACKET} socket (from {@link #listenSeqPacket}/{@link #connectSeqPacket}).
     */
    public boolean isSeqPacket()
    {
        return seqPacket;
    }

    /**
     * Waits until a receive would not block: data, EOF (the peer hung up) or an error is pending; for a listening
     * socket, a connection. Allocation-free.
     *
     * @param timeoutMs how long to wait; 0 to only look, negative to wait forever.
     * @return true if readable or hung up, false on timeout.
     * @throws OsException when poll fails.
     */
    public boolean awaitReadable(final int timeoutMs)
    {
        return await(pollFd, receiveState, Libc.POLLIN, timeoutMs);
    }

    /**
     * Waits until a send would not block: for a peer that stops reading, a sender must not hang forever. Call from
     * the sending thread.
     *
     * @param timeoutMs how long to wait; 0 checks without waiting, negative waits forever.
     * @return true if writable (or the peer hung up, so a send fails at once instead of blocking), false on timeout.
     */
    public boolean awaitWritable(final int timeoutMs)
    {
        return await(sendPollFd, sendState, Libc.POLLOUT, timeoutMs);
    }

    private boolean await(final MemorySegment pollFd, final MemorySegment state, final short events,
        final int timeoutMs)
    {
        checkOpen();
        final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        int timeout = timeoutMs;
        pollFd.set(JAVA_SHORT, LinuxStructs.POLLFD_EVENTS, events);
        while (true)
        {
            pollFd.set(JAVA_SHORT, LinuxStructs.POLLFD_REVENTS, (short)0);
            final int ready = Libc.poll(state, pollFd, 1, timeout);
            if (ready > 0)
            {
                final short revents = pollFd.get(JAVA_SHORT, LinuxStructs.POLLFD_REVENTS);
                if ((revents & Libc.POLLNVAL) != 0)
                {
                    throw new OsException("poll(" + name + ")", Libc.EBADF);
                }
                return (revents & (events | Libc.POLLHUP | Libc.POLLERR)) != 0;
            }
            if (ready == 0)
            {
                return false;
            }
            final int errno = Libc.errno(state);
            if (errno != Libc.EINTR)
            {
                throw new OsException("poll(" + name + ")", errno);
            }
            if (timeoutMs > 0)
            {
                final long remainingNs = deadline - System.nanoTime();
                timeout = remainingNs <= 0 ? 0 : (int)((remainingNs + 999_999) / 1_000_000);
            }
        }
    }

    /**
     * @return the socket's descriptor (owned by this object).
     */
    public int fd()
    {
        return fd;
    }

    /**
     * Sends bytes and, attached to them, file descriptors (SCM_RIGHTS). The fds stay open and owned by the caller:
     * the peer receives duplicates. Allocation-free.
     *
     * @param address first byte to send.
     * @param length  bytes to send, >= 1 when fds are passed (fds travel with payload bytes on a stream socket).
     * @param fds     the fds to pass; may be null when fdCount is 0.
     * @param fdCount how many of fds[0..] to pass, 0..{@link #MAX_FDS}.
     * @return bytes sent, which on a blocking stream socket is all of them unless a signal cut the send short after
     *         some were sent; the fds went with the first byte.
     * @throws IllegalArgumentException when length or fdCount is out of range.
     * @throws OsException              when sendmsg fails, for example EPIPE when the peer closed.
     */
    public int send(final long address, final int length, final int[] fds, final int fdCount)
    {
        return send(address, length, fds, fdCount, 0);
    }

    /**
     * Sends what the socket buffer takes now, without waiting ({@code MSG_DONTWAIT}), and the fds attached to the
     * first byte: a peer that never reads must not hold the sending thread (a blocking sendmsg on a full buffer waits
     * until the peer reads). Allocation-free unless it throws.
     *
     * @param address first byte to send.
     * @param length  bytes to send (see {@link #send}).
     * @param fds     the fds to pass; may be null when fdCount is 0.
     * @param fdCount how many of fds[0..] to pass.
     * @return bytes sent, possibly fewer than length when the buffer filled up; {@link #WOULD_BLOCK} when the
     *         buffer had no room at all (nothing was sent, no fd went).
     * @throws IllegalArgumentException when length or fdCount is out of range.
     * @throws OsException              when sendmsg fails otherwise, for example EPIPE when the peer closed.
     */
    public int trySend(final long address, final int length, final int[] fds, final int fdCount)
    {
        return send(address, length, fds, fdCount, Libc.MSG_DONTWAIT);
    }

    private int send(final long address, final int length, final int[] fds, final int fdCount, final int extraFlags)
    {
        checkOpen();
        if (length < 0)
        {
            throw new IllegalArgumentException("length=" + length + ": must be >= 0");
        }
        if (fdCount < 0 || fdCount > MAX_FDS)
        {
            throw new IllegalArgumentException("fdCount=" + fdCount + ": must be in 0.." + MAX_FDS);
        }
        if (fdCount > 0)
        {
            if (fds == null || fds.length < fdCount)
            {
                throw new IllegalArgumentException("fdCount=" + fdCount + ": more than the " +
                    (fds == null ? 0 : fds.length) + " fds given");
            }
            if (length < 1)
            {
                throw new IllegalArgumentException(
                    "length=0 with fdCount=" + fdCount + ": fds need at least one payload byte on a stream socket");
            }
        }
        sendIov.set(JAVA_LONG, IOV_BASE, address);
        sendIov.set(JAVA_LONG, IOV_LEN, length);
        if (fdCount > 0)
        {
            final long dataLength = (long)Integer.BYTES * fdCount;
            sendControl.set(JAVA_LONG, CMSG_LEN_OFFSET, LinuxStructs.cmsgLen(dataLength));
            sendControl.set(JAVA_INT, CMSG_LEVEL, Libc.SOL_SOCKET);
            sendControl.set(JAVA_INT, CMSG_TYPE, Libc.SCM_RIGHTS);
            for (int i = 0; i < fdCount; i++)
            {
                sendControl.set(JAVA_INT, CMSG_DATA + (long)Integer.BYTES * i, fds[i]);
            }
            sendMsg.set(JAVA_LONG, MSG_CONTROL, sendControl.address());
            sendMsg.set(JAVA_LONG, MSG_CONTROLLEN, LinuxStructs.cmsgSpace(dataLength));
        }
        else
        {
            sendMsg.set(JAVA_LONG, MSG_CONTROL, 0L);
            sendMsg.set(JAVA_LONG, MSG_CONTROLLEN, 0L);
        }
        while (true)
        {
            final long sent = Libc.sendmsg(sendState, fd, sendMsg, Libc.MSG_NOSIGNAL | extraFlags);
            if (sent >= 0)
            {
                return (int)sent;
            }
            final int errno = Libc.errno(sendState);
            if ((errno == Libc.EAGAIN) && (extraFlags & Libc.MSG_DONTWAIT) != 0)
            {
                return WOULD_BLOCK;
            }
            if (errno != Libc.EINTR)
            {
                throw new OsException("sendmsg(" + name + ")", errno);
            }
        }
    }

    /**
     * Receives up to length bytes (blocking until at least one is there, or EOF), and the fds attached to them.
     * Allocation-free unless it throws.
     *
     * @param address where to put the bytes.
     * @param length  room there, >= 1.
     * @param fdsOut  where to put received fds, which the caller then owns; its length caps how many fds this
     *                receive accepts (at most {@link #MAX_FDS}); more is {@code MSG_CTRUNC}, an error.
     * @return bytes received, 0 on EOF; {@link #lastFdCount()} says how many fds came.
     * @throws OsException when recvmsg fails, or when the control data was truncated (errno 0; the fds that did
     *                     arrive are closed, the bytes are consumed: drop the connection).
     */
    public int receive(final long address, final int length, final int[] fdsOut)
    {
        checkOpen();
        checkReceiveArguments(length, fdsOut);
        lastFdCount = 0;
        final int received = receiveChunk(address, length, fdsOut, 0, 0);
        lastFdCount = chunkFdCount;
        return received;
    }

    /**
     * Receives up to length bytes if any are there, without waiting ({@code MSG_DONTWAIT}), and the fds attached to
     * them: for a control thread reading a stream message piece by piece, across polls, so that a peer that stops
     * mid-message never holds it. Allocation-free unless it throws.
     *
     * @param address where to put the bytes.
     * @param length  room there, >= 1.
     * @param fdsOut  where to put received fds (see {@link #receive}); {@link #lastFdCount()} says how many came.
     * @return bytes received; 0 on EOF; {@link #WOULD_BLOCK} when nothing is waiting.
     * @throws OsException when recvmsg fails, or when the control data was truncated (see {@link #receive}).
     */
    public int tryReceive(final long address, final int length, final int[] fdsOut)
    {
        checkOpen();
        checkReceiveArguments(length, fdsOut);
        lastFdCount = 0;
        final int received = receiveChunk(address, length, fdsOut, 0, Libc.MSG_DONTWAIT);
        lastFdCount = received == WOULD_BLOCK ? 0 : chunkFdCount;
        return received;
    }

    /**
     * @return how many fds the last {@link #receive} or {@link #receiveFully} stored into fdsOut (at 0..).
     */
    public int lastFdCount()
    {
        return lastFdCount;
    }

    /**
     * Receives exactly length bytes, looping over short reads, such as a vhost-user header and then its payload.
     * Fds normally come with the first chunk; any that come with later chunks are appended in fdsOut.
     *
     * @param address where to put the bytes.
     * @param length  how many, >= 1.
     * @param fdsOut  where to put received fds (see {@link #receive}); {@link #lastFdCount()} says how many came.
     * @return true when all bytes came, false on EOF before any byte.
     * @throws OsException when the peer closes after some but not all bytes (errno 0), when recvmsg fails, or when
     *                     control data was truncated; in every case the fds received by this call are closed.
     */
    public boolean receiveFully(final long address, final int length, final int[] fdsOut)
    {
        checkOpen();
        checkReceiveArguments(length, fdsOut);
        lastFdCount = 0;
        int done = 0;
        int fdCount = 0;
        try
        {
            while (done < length)
            {
                final int received = receiveChunk(address + done, length - done, fdsOut, fdCount, 0);
                fdCount += chunkFdCount;
                if (received == 0)
                {
                    if (done == 0 && fdCount == 0)
                    {
                        return false;
                    }
                    throw new OsException("recvmsg(" + name + ")", 0,
                        "the peer closed the connection after " + done + " of " + length + " bytes");
                }
                done += received;
            }
        }
        catch (final RuntimeException e)
        {
            closeAll(fdsOut, 0, fdCount);
            throw e;
        }
        lastFdCount = fdCount;
        return true;
    }

    /**
     * One recvmsg into [address, address + length), fds into fdsOut from fdOffset; sets chunkFdCount.
     */
    private int receiveChunk(
        final long address, final int length, final int[] fdsOut, final int fdOffset, final int extraFlags)
    {
        chunkFdCount = 0;
        final int room = Math.min(MAX_FDS, fdsOut.length - fdOffset);
        // msg_controllen = CMSG_LEN(room fds), not CMSG_SPACE: for an odd room the padding would fit one more fd,
        // which the kernel would install although fdsOut has no place for it.
        final long controlLength = room > 0 ? LinuxStructs.cmsgLen((long)Integer.BYTES * room) : 0;
        receiveIov.set(JAVA_LONG, IOV_BASE, address);
        receiveIov.set(JAVA_LONG, IOV_LEN, length);
        long received;
        while (true)
        {
            // recvmsg overwrites both with what it delivered, so they are set before every attempt.
            receiveMsg.set(JAVA_LONG, MSG_CONTROLLEN, controlLength);
            receiveMsg.set(JAVA_INT, MSG_FLAGS, 0);
            received = Libc.recvmsg(receiveState, fd, receiveMsg, Libc.MSG_CMSG_CLOEXEC | extraFlags);
            if (received >= 0)
            {
                break;
            }
            final int errno = Libc.errno(receiveState);
            if (errno == Libc.EAGAIN && (extraFlags & Libc.MSG_DONTWAIT) != 0)
            {
                return WOULD_BLOCK;
            }
            if (errno != Libc.EINTR)
            {
                throw new OsException("recvmsg(" + name + ")", errno);
            }
        }
        final int arrived = collectFds(fdsOut, fdOffset);
        if ((receiveMsg.get(JAVA_INT, MSG_FLAGS) & Libc.MSG_CTRUNC) != 0 || arrived < 0)
        {
            final int installed = arrived < 0 ? -arrived - 1 : arrived;
            closeAll(fdsOut, fdOffset, installed);
            throw new OsException("recvmsg: control data truncated (MSG_CTRUNC) on " + name, 0,
                "the peer sent more fds than the " + room + " there was room for; closed the " + installed +
                " that arrived, the message is lost");
        }
        chunkFdCount = arrived;
        return (int)received;
    }

    /**
     * Walks the control messages recvmsg delivered and stores SCM_RIGHTS fds into fdsOut from fdOffset.
     *
     * @return the number stored, or -(stored + 1) when some did not fit (those were closed).
     */
    private int collectFds(final int[] fdsOut, final int fdOffset)
    {
        final long controlLength = receiveMsg.get(JAVA_LONG, MSG_CONTROLLEN);
        int stored = 0;
        boolean overflow = false;
        long offset = 0;
        while (offset + CMSG_DATA <= controlLength)
        {
            final long cmsgLen = receiveControl.get(JAVA_LONG, offset + CMSG_LEN_OFFSET);
            if (cmsgLen < CMSG_DATA || offset + cmsgLen > controlLength)
            {
                break;
            }
            if (receiveControl.get(JAVA_INT, offset + CMSG_LEVEL) == Libc.SOL_SOCKET &&
                receiveControl.get(JAVA_INT, offset + CMSG_TYPE) == Libc.SCM_RIGHTS)
            {
                final int count = (int)((cmsgLen - CMSG_DATA) / Integer.BYTES);
                for (int i = 0; i < count; i++)
                {
                    final int received = receiveControl.get(JAVA_INT, offset + CMSG_DATA + (long)Integer.BYTES * i);
                    if (fdOffset + stored < fdsOut.length)
                    {
                        fdsOut[fdOffset + stored++] = received;
                    }
                    else
                    {
                        Fds.closeQuietly(received);
                        overflow = true;
                    }
                }
            }
            offset += LinuxStructs.cmsgAlign(cmsgLen);
        }
        return overflow ? -stored - 1 : stored;
    }

    /**
     * Shuts down both directions ({@code SHUT_RDWR}): a thread blocked in receive returns 0 (EOF), one blocked in
     * accept throws, the peer sees EOF. Safe from any thread; does nothing once closed.
     *
     * @throws OsException when shutdown fails other than with ENOTCONN (the peer is already gone).
     */
    public void shutdown()
    {
        if (closed.get())
        {
            return;
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            if (Libc.shutdown(state, fd, Libc.SHUT_RDWR) != 0)
            {
                final int errno = Libc.errno(state);
                if (errno != Libc.ENOTCONN)
                {
                    throw new OsException("shutdown(" + name + ")", errno);
                }
            }
        }
    }

    /**
     * Closes the socket; a listening socket also removes its path, if the file there is still the one it bound.
     * Later calls do nothing.
     *
     * @throws OsException when close or unlink fails.
     */
    @Override
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        try
        {
            Fds.close(fd);
        }
        finally
        {
            if (boundPath != null && boundFileKey != null && boundFileKey.equals(fileKey(boundPath)))
            {
                try (Arena arena = Arena.ofConfined())
                {
                    final MemorySegment state = Libc.callState(arena);
                    if (Libc.unlink(state, cString(arena, pathBytes(boundPath))) != 0 &&
                        Libc.errno(state) != Libc.ENOENT)
                    {
                        throw new OsException("unlink(" + boundPath + ")", Libc.errno(state));
                    }
                }
            }
        }
    }

    @Override
    public String toString()
    {
        return "UnixSocket[fd " + fd + ", " + name + (boundPath != null ? ", listening" : "") +
            (closed.get() ? ", closed]" : "]");
    }

    private void checkOpen()
    {
        if (closed.get())
        {
            throw new IllegalStateException(name + ": socket is closed");
        }
    }

    private static void checkReceiveArguments(final int length, final int[] fdsOut)
    {
        if (length < 1)
        {
            throw new IllegalArgumentException("length=" + length + ": must be >= 1 (0 would look like EOF)");
        }
        if (fdsOut == null)
        {
            throw new IllegalArgumentException("fdsOut is null: pass an array of up to " + MAX_FDS + " fds");
        }
    }

    private static void closeAll(final int[] fds, final int from, final int count)
    {
        for (int i = from; i < from + count; i++)
        {
            Fds.closeQuietly(fds[i]);
            fds[i] = -1;
        }
    }

    private static int newSocket(final MemorySegment state, final boolean seqPacket)
    {
        return newSocket(state, seqPacket, 0);
    }

    private static int newSocket(final MemorySegment state, final boolean seqPacket, final int extraType)
    {
        final int type = (seqPacket ? Libc.SOCK_SEQPACKET | Libc.SOCK_NONBLOCK : Libc.SOCK_STREAM) | extraType;
        final int fd = Libc.socket(state, Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new OsException(
                "socket(AF_UNIX, " + (seqPacket ? "SOCK_SEQPACKET" : "SOCK_STREAM") + ")", Libc.errno(state));
        }
        return fd;
    }

    private static Charset pathCharset()
    {
        final String name = System.getProperty("sun.jnu.encoding");
        try
        {
            return name == null ? StandardCharsets.UTF_8 : Charset.forName(name);
        }
        catch (final IllegalArgumentException e)
        {
            return StandardCharsets.UTF_8;
        }
    }

    private static byte[] pathBytes(final Path path)
    {
        final byte[] bytes = path.toString().getBytes(PATH_CHARSET);
        if (bytes.length == 0 || bytes.length >= LinuxStructs.SUN_PATH_LENGTH)
        {
            throw new IllegalArgumentException("socket path " + path + " is " + bytes.length +
                " bytes: must be 1.." + (LinuxStructs.SUN_PATH_LENGTH - 1) + " (sun_path[" +
                LinuxStructs.SUN_PATH_LENGTH + "] with its NUL)");
        }
        for (final byte b : bytes)
        {
            if (b == 0)
            {
                throw new IllegalArgumentException("socket path " + path + " contains a NUL byte");
            }
        }
        return bytes;
    }

    private static MemorySegment cString(final Arena arena, final byte[] bytes)
    {
        final MemorySegment string = arena.allocate(bytes.length + 1L);
        MemorySegment.copy(bytes, 0, string, JAVA_BYTE, 0, bytes.length);
        string.set(JAVA_BYTE, bytes.length, (byte)0);
        return string;
    }

    private static MemorySegment sockaddr(final Arena arena, final byte[] pathBytes)
    {
        final MemorySegment address = arena.allocate(LinuxStructs.SOCKADDR_UN);
        address.fill((byte)0);
        address.set(JAVA_SHORT, LinuxStructs.SUN_FAMILY, (short)Libc.AF_UNIX);
        MemorySegment.copy(pathBytes, 0, address, JAVA_BYTE, LinuxStructs.SUN_PATH, pathBytes.length);
        return address;
    }

    private static int sockaddrLength(final byte[] pathBytes)
    {
        return (int)(LinuxStructs.SUN_PATH + pathBytes.length + 1);
    }

    private static boolean isSocket(final Path path)
    {
        try
        {
            final int mode = (int)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & S_IFMT) == S_IFSOCK;
        }
        catch (final IOException | UnsupportedOperationException | IllegalArgumentException e)
        {
            return false;
        }
    }

    private static String fileKind(final Path path)
    {
        try
        {
            final BasicFileAttributes attributes =
                Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (attributes.isRegularFile())
            {
                return "a regular file";
            }
            if (attributes.isDirectory())
            {
                return "a directory";
            }
            if (attributes.isSymbolicLink())
            {
                return "a symbolic link";
            }
            return isSocket(path) ? null : "a special file";
        }
        catch (final IOException e)
        {
            return null;
        }
    }

    private static Object fileKey(final Path path)
    {
        try
        {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        }
        catch (final IOException e)
        {
            return null;
        }
    }
}
