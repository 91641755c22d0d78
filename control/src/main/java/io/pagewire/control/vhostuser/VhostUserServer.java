package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;

/**
 * The vhost-user socket, served from the control thread by {@link #poll(int)}: in server mode it listens and
 * accepts one frontend at a time; in client mode it connects to a listening frontend, retrying with exponential
 * backoff (100 ms doubling to 5 s). A frontend that disconnects, sends garbage, or stalls mid-message gets its
 * connection closed and its state torn down ({@link VhostUserBackend#close()}: queues stopped, memory unmapped, fds
 * closed); the server then waits for, or reconnects to, the next one. The dataplane never waits on the socket.
 */
public final class VhostUserServer implements AutoCloseable
{
    /** How long a frontend may take to send the rest of a message it started (header and payload). */
    private static final int MESSAGE_TIMEOUT_MS = 1000;
    private static final long MIN_BACKOFF_NS = 100_000_000L;
    private static final long MAX_BACKOFF_NS = 5_000_000_000L;

    private final Path path;
    private final boolean clientMode;
    private final VhostUserBackend backend;
    private final UnsafeBuffer message = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
        HEADER_LENGTH + MAX_PAYLOAD, 64));
    private final UnsafeBuffer payload = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer reply = new UnsafeBuffer(BufferUtil.allocateDirectAligned(HEADER_LENGTH + MAX_PAYLOAD,
        64));
    private final UnsafeBuffer replyPayload = new UnsafeBuffer(reply, HEADER_LENGTH, MAX_PAYLOAD);
    private final int[] fds = new int[UnixSocket.MAX_FDS];
    private final int[] moreFds = new int[UnixSocket.MAX_FDS];
    /** Fds of the message being read, in {@link #fds}, that the backend has not taken yet. */
    private int fdCount;

    private UnixSocket listener;
    private UnixSocket connection;
    private long nextConnectNs;
    private long backoffNs = MIN_BACKOFF_NS;
    private long connections;
    private long disconnects;
    private long protocolErrors;

    /**
     * @param path       the socket path.
     * @param clientMode connect to the frontend instead of listening.
     * @param backend    the device state the requests act on.
     */
    public VhostUserServer(final Path path, final boolean clientMode, final VhostUserBackend backend)
    {
        this.path = path;
        this.clientMode = clientMode;
        this.backend = backend;
        if (!clientMode)
        {
            listener = UnixSocket.listen(path);
        }
    }

    /**
     * Does the socket work that is ready, waiting at most {@code timeoutMs} for it: accepts or connects, and
     * handles every request that has arrived.
     *
     * @return requests handled.
     */
    public int poll(final int timeoutMs)
    {
        backend.pollEvents();
        if (connection != null && backend.disconnectRequested())
        {
            // The frontend's memory faulted or a pair had to be isolated: its session cannot go on.
            log("vhost-user: " + backend.disconnectReason() + "; closing the connection");
            disconnect();
            return 0;
        }
        if (connection == null)
        {
            if (clientMode)
            {
                tryConnect();
                if (connection == null && timeoutMs > 0)
                {
                    // Backing off: wait (bounded by the caller's timeout) instead of spinning the control thread.
                    LockSupport.parkNanos(Math.min(timeoutMs * 1_000_000L,
                        Math.max(0, nextConnectNs - System.nanoTime())));
                }
            }
            else if (listener.awaitReadable(timeoutMs))
            {
                connection = listener.accept();
                connections++;
                log("vhost-user: frontend connected");
            }
            return 0;
        }
        int handled = 0;
        while (connection != null && connection.awaitReadable(handled == 0 ? timeoutMs : 0))
        {
            if (!handleOne())
            {
                disconnect();
                break;
            }
            handled++;
        }
        return handled;
    }

    private void tryConnect()
    {
        final long nowNs = System.nanoTime();
        if (nowNs - nextConnectNs < 0)
        {
            return;
        }
        try
        {
            connection = UnixSocket.connect(path);
            connections++;
            log("vhost-user: connected to the frontend at " + path);
            backoffNs = MIN_BACKOFF_NS;
        }
        catch (final OsException e)
        {
            nextConnectNs = nowNs + backoffNs;
            backoffNs = Math.min(MAX_BACKOFF_NS, backoffNs * 2);
        }
    }

    /** Reads and handles one request. @return false when the connection must go. */
    private boolean handleOne()
    {
        fdCount = 0;
        final long deadlineNs = System.nanoTime() + MESSAGE_TIMEOUT_MS * 1_000_000L;
        try
        {
            final int headerBytes = receiveWithin(message.addressOffset(), HEADER_LENGTH, deadlineNs);
            if (headerBytes == 0)
            {
                return false; // EOF between messages: the frontend left
            }
            if (headerBytes < HEADER_LENGTH)
            {
                protocolErrors++;
                log("vhost-user: " + headerBytes + " of a " + HEADER_LENGTH + "-byte header, then the frontend " +
                    "stalled or left for " + MESSAGE_TIMEOUT_MS + " ms; closing the connection");
                return false;
            }
            final int code = message.getInt(REQUEST_OFFSET);
            final int flags = message.getInt(FLAGS_OFFSET);
            final long size = message.getInt(SIZE_OFFSET) & 0xFFFF_FFFFL;
            if ((flags & VERSION_MASK) != VERSION || size > MAX_PAYLOAD)
            {
                protocolErrors++;
                log("vhost-user: message with flags 0x" + Integer.toHexString(flags) + " and payload " + size +
                    " bytes: bad version or larger than " + MAX_PAYLOAD + "; closing the connection");
                return false;
            }
            if (size > 0)
            {
                // fds may ride on the payload's first chunk rather than the header's: receiveWithin appends them.
                final int payloadBytes = receiveWithin(message.addressOffset() + HEADER_LENGTH, (int)size, deadlineNs);
                if (payloadBytes < size)
                {
                    protocolErrors++;
                    log("vhost-user: request " + code + " announced " + size + " payload bytes; " + payloadBytes +
                        " came before the frontend stalled or left for " + MESSAGE_TIMEOUT_MS + " ms");
                    return false;
                }
            }
            payload.wrap(message, HEADER_LENGTH, (int)Math.max(size, 8));
            final long loggedBefore = backend.logged();
            final int handedFds = fdCount;
            fdCount = 0; // the backend owns them now: it keeps or closes each
            final VhostUserBackend.Outcome outcome =
                backend.handle(code, flags, payload, (int)size, fds, handedFds, replyPayload);
            if (outcome != VhostUserBackend.Outcome.OK)
            {
                protocolErrors++;
            }
            final List<String> messages = backend.log();
            for (long i = Math.max(0, messages.size() - (backend.logged() - loggedBefore)); i < messages.size(); i++)
            {
                log("vhost-user: " + messages.get((int)i));
            }
            if (outcome == VhostUserBackend.Outcome.CLOSE)
            {
                return false;
            }
            final int replyLength = backend.replyLength();
            if (replyLength >= 0)
            {
                reply.putInt(REQUEST_OFFSET, code);
                reply.putInt(FLAGS_OFFSET, VERSION | FLAG_REPLY);
                reply.putInt(SIZE_OFFSET, replyLength);
                if (!connection.awaitWritable(MESSAGE_TIMEOUT_MS))
                {
                    // A frontend that stops reading its replies must not hang the control thread.
                    protocolErrors++;
                    log("vhost-user: the frontend does not read its replies; closing the connection");
                    return false;
                }
                connection.send(reply.addressOffset(), HEADER_LENGTH + replyLength, fds, 0);
            }
            return true;
        }
        catch (final OsException e)
        {
            log("vhost-user: " + e.getMessage() + "; closing the connection");
            return false;
        }
        finally
        {
            // A message that went wrong before the backend took its fds: they are ours to close.
            closeFds(fds, fdCount);
            fdCount = 0;
        }
    }

    /**
     * Receives up to {@code length} bytes of the message being read, waiting until {@code deadlineNs} at most (the
     * message's first byte plus {@link #MESSAGE_TIMEOUT_MS}). Each recvmsg follows a poll that says a byte is there,
     * so it never blocks: a blocking receiveFully would hang the control thread (and with it every later frontend) on
     * a frontend that stalls mid-message. Fds that come are appended to {@link #fds} and counted in {@link #fdCount}
     * (beyond its room they are closed).
     *
     * @return bytes received: {@code length}, or fewer when the frontend closed or stalled.
     */
    private int receiveWithin(final long address, final int length, final long deadlineNs)
    {
        int done = 0;
        while (done < length)
        {
            final long remainingMs = (deadlineNs - System.nanoTime() + 999_999) / 1_000_000;
            if (remainingMs <= 0 || !connection.awaitReadable((int)remainingMs))
            {
                break;
            }
            final int received = connection.receive(address + done, length - done, moreFds);
            for (int i = 0; i < connection.lastFdCount(); i++)
            {
                if (fdCount < fds.length)
                {
                    fds[fdCount++] = moreFds[i];
                }
                else
                {
                    Fds.closeQuietly(moreFds[i]);
                }
            }
            if (received == 0)
            {
                break;
            }
            done += received;
        }
        return done;
    }

    private static void closeFds(final int[] fds, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            Fds.closeQuietly(fds[i]);
        }
    }

    private void disconnect()
    {
        log("vhost-user: frontend disconnected; queues stopped, memory unmapped");
        backend.close();
        connection.close();
        disconnects++;
        connection = null;
        nextConnectNs = System.nanoTime() + MIN_BACKOFF_NS;
    }

    private static void log(final String message)
    {
        System.err.println("pagewire: " + message);
    }

    /** @return whether a frontend is connected. */
    public boolean isConnected()
    {
        return connection != null;
    }

    /** @return frontends connected so far. */
    public long connections()
    {
        return connections;
    }

    /** @return connections lost or closed. */
    public long disconnects()
    {
        return disconnects;
    }

    /** @return malformed or refused requests. */
    public long protocolErrors()
    {
        return protocolErrors;
    }

    /** @return the backend. */
    public VhostUserBackend backend()
    {
        return backend;
    }

    @Override
    public void close()
    {
        if (connection != null)
        {
            disconnect();
        }
        if (listener != null)
        {
            listener.close();
            listener = null;
        }
    }
}
