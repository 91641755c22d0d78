package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import io.pagewire.dataplane.stats.LogLimiter;
import io.pagewire.dataplane.stats.SystemCounter;
import io.pagewire.dataplane.stats.SystemCounters;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

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
 * <p>
 * Fairness (the control thread also serves SIGTERM, the run's duration, status lines, memif handshakes): whatever the
 * frontend does, one {@link #poll(int)} returns after at most {@link #MESSAGES_PER_POLL} requests (and 128 receives)
 * and one wait of at most the caller's timeout. The connection is non-blocking: a message is read as its bytes
 * arrive, across polls, so a frontend that stops mid-message holds no poll (it is closed once the message is
 * {@link #MESSAGE_TIMEOUT_MS} old); a reply is sent without waiting, and a frontend whose socket buffer has no room
 * for it (it does not read) is closed; in client mode connect never waits for the frontend to accept (a full listen
 * backlog is a failed attempt, retried after the backoff). Log lines go through a {@link LogLimiter}: a frontend
 * flooding refused requests costs a few lines a second, and one line saying how many were suppressed. (What one
 * request may cost is the backend's: stopping a running queue pair waits, bounded, for the dataplane to give it back.)
 */
public final class VhostUserServer implements AutoCloseable
{
    /** How long a frontend may take to send the rest of a message it started (header and payload). */
    public static final int MESSAGE_TIMEOUT_MS = 1000;
    /**
     * Requests handled per {@link #poll(int)} at most: enough for a frontend's whole setup (about 30 requests per
     * queue pair) in a few polls, few enough that a flood of cheap requests returns the control thread to its other
     * work many times a second.
     */
    public static final int MESSAGES_PER_POLL = 32;
    /**
     * recvmsg calls per poll at most: a frontend that sends a message byte by byte (each byte may carry fds to close)
     * makes one per byte; QEMU and DPDK send a message in one sendmsg, so this is never reached by them.
     */
    private static final int RECEIVES_PER_POLL = 4 * MESSAGES_PER_POLL;
    private static final long MIN_BACKOFF_NS = 100_000_000L;
    private static final long MAX_BACKOFF_NS = 5_000_000_000L;
    private static final int INCOMPLETE = 0;
    private static final int COMPLETE = 1;
    private static final int GONE = 2;

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
    private final LogLimiter logLimiter;
    private final AtomicCounter messageTimeoutCounter;
    private final AtomicCounter unwritableReplyCounter;
    private final AtomicCounter connectFailureCounter;
    /** Fds of the message being read, in {@link #fds}, that the backend has not taken yet. */
    private int fdCount;
    /** Bytes of the message being read that have arrived (header, then payload); 0 between messages. */
    private int received;
    /** Payload size announced by the header of the message being read; valid once its header arrived. */
    private int announced;
    private long messageDeadlineNs;
    private int receivesLeft;

    private UnixSocket listener;
    private UnixSocket connection;
    private long nextConnectNs;
    private long backoffNs = MIN_BACKOFF_NS;
    private boolean connectFailureLogged;
    private long connections;
    private long disconnects;
    private long protocolErrors;
    private long messageTimeouts;
    private long unwritableReplies;
    private long connectFailures;

    /**
     * @param path       the socket path.
     * @param clientMode connect to the frontend instead of listening.
     * @param backend    the device state the requests act on.
     */
    public VhostUserServer(final Path path, final boolean clientMode, final VhostUserBackend backend)
    {
        this(path, clientMode, backend, null);
    }

    /**
     * @param path       the socket path.
     * @param clientMode connect to the frontend instead of listening.
     * @param backend    the device state the requests act on.
     * @param counters   where message timeouts, unwritable replies, connect failures and suppressed log lines are
     *                   counted (this thread writes them), or null.
     */
    public VhostUserServer(
        final Path path, final boolean clientMode, final VhostUserBackend backend, final SystemCounters counters)
    {
        this.path = path;
        this.clientMode = clientMode;
        this.backend = backend;
        // PAGEWIRE_VHOST_TRACE=1 asks for every request's line: debugging a frontend, not defending against one.
        this.logLimiter = new LogLimiter(System.err::println, "pagewire: vhost-user",
            System.getenv("PAGEWIRE_VHOST_TRACE") != null ? Integer.MAX_VALUE : LogLimiter.DEFAULT_LINES_PER_INTERVAL,
            LogLimiter.DEFAULT_INTERVAL_NS, System::nanoTime)
            .countInto(counters == null ? null : counters.get(SystemCounter.CONTROL_LOG_LINES_SUPPRESSED));
        this.messageTimeoutCounter = counters == null ? null : counters.get(SystemCounter.VHOST_USER_MESSAGE_TIMEOUTS);
        this.unwritableReplyCounter =
            counters == null ? null : counters.get(SystemCounter.VHOST_USER_REPLIES_UNWRITABLE);
        this.connectFailureCounter = counters == null ? null : counters.get(SystemCounter.VHOST_USER_CONNECT_FAILURES);
        if (!clientMode)
        {
            listener = UnixSocket.listen(path);
        }
    }

    /**
     * Does the socket work that is ready, waiting at most {@code timeoutMs} for it (and never past the deadline of a
     * message that started arriving): accepts or connects, and handles up to {@link #MESSAGES_PER_POLL} requests.
     * Call it again at once when it returns {@link #MESSAGES_PER_POLL}: more may be waiting.
     *
     * @return requests handled.
     */
    public int poll(final int timeoutMs)
    {
        final long loggedByEvents = backend.logged();
        backend.pollEvents();
        printBackendLog(loggedByEvents);
        logLimiter.poll();
        if (connection != null && backend.peerFdBlocked())
        {
            // A write to one of its eventfds slept (it cleared O_NONBLOCK and filled the counter): it is hostile.
            log("vhost-user: the frontend made its " + backend.blockedFds() + " blocking and filled it: disconnecting");
            protocolErrors++;
            disconnect();
            return 0;
        }
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
                accept();
            }
            return 0;
        }
        int waitMs = timeoutMs;
        if (received > 0)
        {
            // A message has started: wake at its deadline at the latest, to close a frontend that stalled.
            final long remainingNs = messageDeadlineNs - System.nanoTime();
            waitMs = (int)Math.max(0, Math.min(waitMs, (remainingNs + 999_999) / 1_000_000));
        }
        if (!connection.awaitReadable(waitMs))
        {
            checkMessageDeadline();
            return 0;
        }
        int handled = 0;
        receivesLeft = RECEIVES_PER_POLL;
        while (connection != null && handled < MESSAGES_PER_POLL)
        {
            final int step = readMessage();
            if (step == GONE)
            {
                disconnect();
                break;
            }
            if (step == INCOMPLETE)
            {
                checkMessageDeadline();
                break;
            }
            handled++;
            if (!handleMessage())
            {
                disconnect();
            }
        }
        return handled;
    }

    private void accept()
    {
        try
        {
            // The listener said a connection is pending: this accept does not wait. The connection is non-blocking.
            connection = listener.tryAccept();
        }
        catch (final OsException e)
        {
            log("vhost-user: accept on " + path + " failed: " + e.getMessage());
            return;
        }
        if (connection != null)
        {
            connections++;
            log("vhost-user: frontend connected");
        }
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
            // Non-blocking: a frontend whose listen backlog is full (it never accepts) is EAGAIN now, not a control
            // thread asleep in connect until it accepts.
            connection = UnixSocket.connectNonBlocking(path);
            connections++;
            log("vhost-user: connected to the frontend at " + path);
            backoffNs = MIN_BACKOFF_NS;
            connectFailureLogged = false;
        }
        catch (final OsException e)
        {
            connectFailures++;
            if (connectFailureCounter != null)
            {
                connectFailureCounter.incrementRelease();
            }
            if (!connectFailureLogged)
            {
                connectFailureLogged = true;
                log("vhost-user: cannot connect to the frontend at " + path + " (" + e.getMessage() +
                    "); retrying with backoff up to " + MAX_BACKOFF_NS / 1_000_000_000L + " s");
            }
            nextConnectNs = nowNs + backoffNs;
            backoffNs = Math.min(MAX_BACKOFF_NS, backoffNs * 2);
        }
    }

    /**
     * Reads what has arrived of the current message, without waiting: first its header, then (once the header is
     * checked) exactly the payload it announces, never a byte of the next message. Fds that come are appended to
     * {@link #fds} and counted in {@link #fdCount} (beyond its room they are closed); they may ride on any chunk.
     *
     * @return {@link #COMPLETE}, {@link #INCOMPLETE} (nothing more is there now, or this poll's receives are used
     *         up), or {@link #GONE} (the frontend left, or the header is one to close on: logged and counted here).
     */
    private int readMessage()
    {
        try
        {
            while (true)
            {
                final int wanted = received < HEADER_LENGTH ? HEADER_LENGTH - received :
                    HEADER_LENGTH + announced - received;
                if (wanted == 0)
                {
                    return COMPLETE;
                }
                if (receivesLeft-- <= 0)
                {
                    return INCOMPLETE; // the rest in the next poll
                }
                final int bytes = connection.tryReceive(message.addressOffset() + received, wanted, moreFds);
                takeFds();
                if (bytes == UnixSocket.WOULD_BLOCK)
                {
                    return INCOMPLETE;
                }
                if (bytes == 0)
                {
                    if (received > 0)
                    {
                        protocolErrors++;
                        log("vhost-user: " + received + " bytes of a message, then the frontend left");
                    }
                    return GONE; // EOF between messages: the frontend left
                }
                if (received == 0)
                {
                    messageDeadlineNs = System.nanoTime() + MESSAGE_TIMEOUT_MS * 1_000_000L;
                }
                received += bytes;
                if (received == HEADER_LENGTH && !checkHeader())
                {
                    return GONE;
                }
            }
        }
        catch (final OsException e)
        {
            log("vhost-user: " + e.getMessage() + "; closing the connection");
            return GONE;
        }
    }

    private void takeFds()
    {
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
    }

    /** @return whether the header just read may be followed by its payload; if not, logged and counted. */
    private boolean checkHeader()
    {
        final int flags = message.getInt(FLAGS_OFFSET);
        final long size = message.getInt(SIZE_OFFSET) & 0xFFFF_FFFFL;
        if ((flags & VERSION_MASK) != VERSION || size > MAX_PAYLOAD)
        {
            protocolErrors++;
            log("vhost-user: message with flags 0x" + Integer.toHexString(flags) + " and payload " + size +
                " bytes: bad version or larger than " + MAX_PAYLOAD + "; closing the connection");
            return false;
        }
        announced = (int)size;
        return true;
    }

    /** Closes a frontend whose message started {@link #MESSAGE_TIMEOUT_MS} ago and is still incomplete. */
    private void checkMessageDeadline()
    {
        if (connection == null || received == 0 || System.nanoTime() - messageDeadlineNs < 0)
        {
            return;
        }
        protocolErrors++;
        messageTimeouts++;
        if (messageTimeoutCounter != null)
        {
            messageTimeoutCounter.incrementRelease();
        }
        final String expected = received < HEADER_LENGTH ? "a " + HEADER_LENGTH + "-byte header" :
            "request " + message.getInt(REQUEST_OFFSET) + " of " + (HEADER_LENGTH + announced) + " bytes";
        log("vhost-user: " + received + " bytes of " + expected + ", then the frontend stalled for " +
            MESSAGE_TIMEOUT_MS + " ms; closing the connection");
        disconnect();
    }

    /** Handles the complete message in {@link #message}. @return false when the connection must go. */
    private boolean handleMessage()
    {
        final int code = message.getInt(REQUEST_OFFSET);
        final int flags = message.getInt(FLAGS_OFFSET);
        final int size = announced;
        received = 0;
        announced = 0;
        try
        {
            payload.wrap(message, HEADER_LENGTH, Math.max(size, 8));
            final long loggedBefore = backend.logged();
            final int handedFds = fdCount;
            fdCount = 0; // the backend owns them now: it keeps or closes each
            final VhostUserBackend.Outcome outcome =
                backend.handle(code, flags, payload, size, fds, handedFds, replyPayload);
            if (outcome != VhostUserBackend.Outcome.OK)
            {
                protocolErrors++;
            }
            printBackendLog(loggedBefore);
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
                // Without waiting: a frontend that stops reading its replies must not hang the control thread. A
                // reply only partly written would leave the stream out of step, so it is as bad as none.
                final int sent = connection.trySend(reply.addressOffset(), HEADER_LENGTH + replyLength, fds, 0);
                if (sent != HEADER_LENGTH + replyLength)
                {
                    protocolErrors++;
                    unwritableReplies++;
                    if (unwritableReplyCounter != null)
                    {
                        unwritableReplyCounter.incrementRelease();
                    }
                    log("vhost-user: the frontend does not read its replies (" + Math.max(0, sent) + " of " +
                        (HEADER_LENGTH + replyLength) + " bytes fit in its socket buffer); closing the connection");
                    return false;
                }
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

    private static void closeFds(final int[] fds, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            Fds.closeQuietly(fds[i]);
        }
    }

    private void disconnect()
    {
        // Fds of a message that never completed.
        closeFds(fds, fdCount);
        fdCount = 0;
        received = 0;
        announced = 0;
        log("vhost-user: frontend disconnected; queues stopped, memory unmapped");
        final long loggedBefore = backend.logged();
        backend.close();
        printBackendLog(loggedBefore); // e.g. a pair isolated while its queues were stopped
        connection.close();
        disconnects++;
        connection = null;
        nextConnectNs = System.nanoTime() + MIN_BACKOFF_NS;
    }

    /** Prints what the backend logged since its count was {@code loggedBefore} (its log keeps the last 256). */
    private void printBackendLog(final long loggedBefore)
    {
        final List<String> messages = backend.log();
        for (long i = Math.max(0, messages.size() - (backend.logged() - loggedBefore)); i < messages.size(); i++)
        {
            log("vhost-user: " + messages.get((int)i));
        }
    }

    private void log(final String message)
    {
        logLimiter.log("pagewire: " + message);
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

    /** @return frontends closed because a message stayed incomplete for {@link #MESSAGE_TIMEOUT_MS}. */
    public long messageTimeouts()
    {
        return messageTimeouts;
    }

    /** @return frontends closed because a reply could not be written at once (they did not read). */
    public long unwritableReplies()
    {
        return unwritableReplies;
    }

    /** @return failed connect attempts (client mode). */
    public long connectFailures()
    {
        return connectFailures;
    }

    /** @return log lines suppressed by the rate limit. */
    public long suppressedLogLines()
    {
        return logLimiter.suppressed();
    }

    /** @return whether part of a message has arrived and the rest has not (tests). */
    public boolean messagePending()
    {
        return received > 0;
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
        logLimiter.flush();
    }
}
