package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.stats.SystemCounter;
import io.pagewire.dataplane.stats.SystemCounters;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The control thread stays fair whatever one frontend does (issue 12, point 4): the test is the control thread and
 * calls {@link VhostUserServer#poll(int)} itself, so it sees that every poll returns, and how much each one did. A
 * flood is served {@link VhostUserServer#MESSAGES_PER_POLL} requests per poll and logs a few lines; a message that
 * stops midway holds no poll and is closed at its deadline; a frontend that never reads is closed at the first reply
 * that does not fit; a client-mode connect to a frontend whose backlog is full fails at once and is retried. After
 * each, a valid frontend is served.
 */
class VhostUserServerFairnessTest
{
    private static final long FEATURES = VhostUserServerTest.FEATURES;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicBoolean controlRunning = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountersManager counters = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
    private final SystemCounters systemCounters = new SystemCounters(counters);
    private ShmNicPort nic;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private Thread dataplane;
    private Thread control;
    private int fdsBefore;

    @BeforeEach
    void setUp()
    {
        fdsBefore = Fds.openFdCount();
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        backend = new VhostUserBackend(1, FEATURES, new DataplaneProxy[] {proxy}, pair -> nic, RxPolicy.WAIT, 32,
            null);
        dataplane = Thread.ofPlatform().name("test-dataplane").start(() ->
        {
            try
            {
                while (running.get())
                {
                    agent.doWork();
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception
    {
        stopControl();
        if (server != null)
        {
            server.close(); // while the dataplane still runs: it gives back a queue pair still attached
        }
        running.set(false);
        dataplane.join(10_000);
        nic.closeAndDelete();
        assertNull(failure.get(), "a thread died");
        assertEquals(fdsBefore, Fds.openFdCount(), "no fd leaked");
    }

    @Test
    void aFloodOfRefusedRequestsIsServedAFewDozenPerPollAndLogsAFewLines() throws Exception
    {
        server = new VhostUserServer(temp.resolve("vhost.sock"), false, backend, systemCounters);
        final int requests = 2000;
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock")))
        {
            awaitConnected();
            // SET_FEATURES with a bit never offered: refused (and logged) each time; no reply without REPLY_ACK. All
            // in one send, so that they are all waiting before the first poll.
            final UnsafeBuffer flood = new UnsafeBuffer(BufferUtil.allocateDirectAligned(requests * 20, 64));
            for (int i = 0; i < requests; i++)
            {
                flood.putInt(i * 20 + REQUEST_OFFSET, VhostUserRequest.SET_FEATURES.code());
                flood.putInt(i * 20 + FLAGS_OFFSET, VERSION);
                flood.putInt(i * 20 + SIZE_OFFSET, 8);
                flood.putLong(i * 20 + HEADER_LENGTH, 1L << 62);
            }
            assertEquals(requests * 20, frontend.socket.send(flood.addressOffset(), requests * 20, null, 0));
            final long errorsBefore = backend.errors();
            int handled = 0;
            int polls = 0;
            while (handled < requests)
            {
                final int n = server.poll(100);
                // A few dozen at most (not the constant itself: that would let any bound pass).
                assertTrue(n <= VhostUserServer.MESSAGES_PER_POLL && n <= 64, "one poll handled " + n + " requests");
                assertTrue(server.isConnected(), "a flood of refused requests keeps its connection");
                handled += n;
                polls++;
                assertTrue(polls < 100 * requests, "the requests were handled");
            }
            assertTrue(polls >= requests / VhostUserServer.MESSAGES_PER_POLL, polls + " polls");
            assertEquals(requests, backend.errors() - errorsBefore, "every request refused and counted");
            assertTrue(server.suppressedLogLines() > 0, "log lines suppressed");
            assertEquals(server.suppressedLogLines(), systemCounters.get(
                SystemCounter.CONTROL_LOG_LINES_SUPPRESSED).get(), "and counted");
        }
        servesAValidFrontend(temp.resolve("vhost.sock"));
    }

    @Test
    void aMessageSentByteByByteWithAnFdOnEachIsReadAFewDozenReceivesPerPoll() throws Exception
    {
        server = new VhostUserServer(temp.resolve("vhost.sock"), false, backend, systemCounters);
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock"));
             EventFd event = EventFd.create())
        {
            awaitConnected();
            // A stream receive stops after a chunk that carries fds: one byte with one fd per send makes one recvmsg
            // per byte (bytes without fds would be read together).
            final int payloadSize = 8 + MEM_REGION_SIZE * MAX_MEM_REGIONS;
            final UnsafeBuffer bytes = new UnsafeBuffer(BufferUtil.allocateDirectAligned(HEADER_LENGTH + payloadSize,
                64));
            bytes.putInt(REQUEST_OFFSET, VhostUserRequest.SET_MEM_TABLE.code());
            bytes.putInt(FLAGS_OFFSET, VERSION);
            bytes.putInt(SIZE_OFFSET, payloadSize);
            bytes.putInt(HEADER_LENGTH, MAX_MEM_REGIONS);
            final int byByte = 200;
            for (int i = 0; i < byByte; i++)
            {
                assertEquals(1, frontend.socket.send(bytes.addressOffset() + i, 1, new int[] {event.fd()}, 1));
            }
            frontend.socket.send(bytes.addressOffset() + byByte, HEADER_LENGTH + payloadSize - byByte, null, 0);
            assertEquals(0, server.poll(100));
            assertTrue(server.isConnected() && server.messagePending(),
                "the poll stopped after a few dozen receives, the message not read to its end yet");
            for (int polls = 0; server.isConnected(); polls++)
            {
                assertTrue(polls < 10_000, "the rest is read in the next polls; 200 fds on a memory table close it");
                server.poll(100);
            }
        }
        servesAValidFrontend(temp.resolve("vhost.sock"));
    }

    @Test
    void aMessageStalledMidwayHoldsNoPollAndIsClosedAtItsDeadline() throws Exception
    {
        server = new VhostUserServer(temp.resolve("vhost.sock"), false, backend, systemCounters);
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock")))
        {
            awaitConnected();
            final byte[] getQueueNum = new byte[HEADER_LENGTH];
            final UnsafeBuffer header = new UnsafeBuffer(getQueueNum);
            header.putInt(REQUEST_OFFSET, VhostUserRequest.GET_QUEUE_NUM.code());
            header.putInt(FLAGS_OFFSET, VERSION);
            frontend.sendRaw(getQueueNum, 6, null, 0);
            assertEquals(0, server.poll(20));
            assertTrue(server.isConnected() && server.messagePending(),
                "half a header: the poll returned without waiting for the rest");
            final UnsafeBuffer rest = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
            rest.putBytes(0, getQueueNum, 6, HEADER_LENGTH - 6);
            frontend.socket.send(rest.addressOffset(), HEADER_LENGTH - 6, null, 0);
            assertEquals(1, server.poll(20), "the message completed by the next bytes is handled");
            assertEquals(1, frontend.readReply(VhostUserRequest.GET_QUEUE_NUM.code()));

            // Now a header and 1 of 8 payload bytes, then nothing: each poll returns; the deadline closes it.
            final byte[] setFeatures = new byte[HEADER_LENGTH + 1];
            final UnsafeBuffer partial = new UnsafeBuffer(setFeatures);
            partial.putInt(REQUEST_OFFSET, VhostUserRequest.SET_FEATURES.code());
            partial.putInt(FLAGS_OFFSET, VERSION);
            partial.putInt(SIZE_OFFSET, 8);
            frontend.sendRaw(setFeatures, setFeatures.length, null, 0);
            int polls = 0;
            int pendingPolls = 0;
            while (server.isConnected())
            {
                server.poll(50);
                polls++;
                pendingPolls += server.isConnected() && server.messagePending() ? 1 : 0;
                assertTrue(polls < 100_000, "closed at the deadline");
            }
            // The first poll reads the 13 bytes; those after it wait at most 50 ms each, not until the deadline.
            assertTrue(pendingPolls >= 2, "polls that returned while the message was incomplete: " + pendingPolls);
            assertEquals(1, server.messageTimeouts());
            assertEquals(1, systemCounters.get(SystemCounter.VHOST_USER_MESSAGE_TIMEOUTS).get());
            assertTrue(frontend.closedOrReset(5000), "the frontend sees the close");
        }
        servesAValidFrontend(temp.resolve("vhost.sock"));
    }

    @Test
    void aFrontendThatNeverReadsIsClosedAtTheFirstReplyThatDoesNotFit() throws Exception
    {
        server = new VhostUserServer(temp.resolve("vhost.sock"), false, backend, systemCounters);
        final AtomicBoolean stop = new AtomicBoolean();
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock")))
        {
            awaitConnected();
            final Thread flood = Thread.ofPlatform().name("test-flood").start(() ->
            {
                try
                {
                    while (!stop.get())
                    {
                        frontend.send(VhostUserRequest.GET_FEATURES.code(), VERSION, null, 0, null, 0);
                    }
                }
                catch (final OsException e)
                {
                    // The backend closed the connection.
                }
            });
            int polls = 0;
            while (server.isConnected())
            {
                assertTrue(server.poll(5) <= VhostUserServer.MESSAGES_PER_POLL);
                polls++;
                assertTrue(polls < 1_000_000, "closed once its socket buffer was full");
            }
            stop.set(true);
            flood.join(10_000);
            assertFalse(flood.isAlive(), "the flooding frontend sees the close");
            assertEquals(1, server.unwritableReplies());
            assertEquals(1, systemCounters.get(SystemCounter.VHOST_USER_REPLIES_UNWRITABLE).get());
        }
        servesAValidFrontend(temp.resolve("vhost.sock"));
    }

    @Test
    void aClientModeConnectNeverWaitsForAFrontendWhoseBacklogIsFull() throws Exception
    {
        final Path path = temp.resolve("frontend.sock");
        final List<UnixSocket> fillers = new ArrayList<>();
        try (UnixSocket listener = UnixSocket.listen(path))
        {
            try
            {
                while (true)
                {
                    fillers.add(UnixSocket.connectNonBlocking(path));
                    assertTrue(fillers.size() < 64, "the backlog fills up");
                }
            }
            catch (final OsException e)
            {
                assertEquals(11, e.errno(), "EAGAIN: " + e.getMessage());
            }
            server = new VhostUserServer(path, true, backend, systemCounters);
            // In its own thread, so that a connect that waits fails this test instead of hanging it.
            final Thread poller = Thread.ofPlatform().name("test-poll").start(() ->
            {
                for (int i = 0; i < 3; i++)
                {
                    server.poll(200);
                }
            });
            poller.join(30_000);
            assertFalse(poller.isAlive(), "poll stuck in connect on a frontend that does not accept");
            assertFalse(server.isConnected());
            assertTrue(server.connectFailures() >= 1, "failures: " + server.connectFailures());
            assertEquals(server.connectFailures(),
                systemCounters.get(SystemCounter.VHOST_USER_CONNECT_FAILURES).get());

            // The frontend comes round: its backlog empties, and pagewire's next attempt is accepted and served.
            while (listener.awaitReadable(0))
            {
                listener.tryAccept().close();
            }
            fillers.forEach(UnixSocket::close);
            fillers.clear();
            startControl();
            assertTrue(listener.awaitReadable(30_000), "pagewire connects again");
            try (TestFrontend frontend = TestFrontend.over(listener.accept()))
            {
                servesTraffic(frontend);
            }
        }
        finally
        {
            fillers.forEach(UnixSocket::close);
        }
        stopControl();
    }

    private void awaitConnected()
    {
        for (int i = 0; i < 1000 && !server.isConnected(); i++)
        {
            server.poll(10);
        }
        assertTrue(server.isConnected(), "the frontend was accepted");
    }

    private void servesAValidFrontend(final Path path) throws Exception
    {
        startControl();
        try (TestFrontend frontend = TestFrontend.connect(path))
        {
            servesTraffic(frontend);
        }
        stopControl();
        for (int i = 0; i < 1000 && server.isConnected(); i++)
        {
            server.poll(10);
        }
        assertFalse(server.isConnected(), "the valid frontend left");
        assertEquals(0, agent.queuePairCount());
        assertEquals(0, backend.mappingCount());
    }

    /** Negotiates, runs a queue pair, and one frame goes NIC → guest, checked byte for byte. */
    private void servesTraffic(final TestFrontend frontend) throws Exception
    {
        while (nic.rxAvailable() > 0)
        {
            nic.rxRelease(nic.rxAvailable());
        }
        frontend.negotiate(FEATURES);
        final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
        frontend.setupRing(1, 256, true);
        await(() -> agent.queuePairCount() == 1, "the queue pair to run");
        final long buffer = frontend.allocate(4096, 64);
        rx.addBuffer(buffer, 4096, true);
        rx.publishAvail();
        final long slot = nic.rxRing().claim(100);
        assertNotEquals(0, slot);
        new UnsafeBuffer(slot, 100).setMemory(0, 100, (byte)0x5A);
        nic.rxRing().commit(100);
        await(() -> rx.usedAvailable() == 1, "the frame in the guest's used ring");
        assertEquals(12 + 100, rx.usedLength(0));
        assertEquals((byte)0x5A, new UnsafeBuffer(frontend.userAddress(buffer), 112).getByte(111));
        rx.releaseUsed(1);
    }

    private void startControl()
    {
        controlRunning.set(true);
        control = Thread.ofPlatform().name("test-control").start(() ->
        {
            try
            {
                while (controlRunning.get())
                {
                    server.poll(5);
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
    }

    private void stopControl() throws InterruptedException
    {
        controlRunning.set(false);
        if (control != null)
        {
            control.join(10_000);
            assertFalse(control.isAlive(), "control thread stuck");
            control = null;
        }
    }

    private void await(final java.util.function.BooleanSupplier condition, final String what)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean())
        {
            assertNull(failure.get(), "a thread died");
            assertTrue(System.nanoTime() - deadline < 0, "timed out waiting for " + what);
            Thread.sleep(1);
        }
    }
}
