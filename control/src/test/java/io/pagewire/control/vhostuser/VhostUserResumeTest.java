package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A frontend that starts a ring again on its kept contents with SET_VRING_BASE 0, as DPDK's virtio_user
 * ({@code server=1}) does to a restarted backend (issue 12, point 6), over a real socket: the queue resumes at the
 * ring's used.idx and sends only what is pending, the backend says so in its log, and each start writes each call
 * eventfd once. The process-level version (SIGKILL, real testpmd) is {@code ReconnectWithStateInteropTest}.
 */
class VhostUserResumeTest
{
    private static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.EVENT_IDX.mask();
    private static final int HEADER = 12;
    private static final int FRAME = 100;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private ShmNicPort nic;
    private VhostUserServer server;
    private Thread control;
    private Thread dataplane;
    private int fdsBefore;

    @BeforeEach
    void setUp()
    {
        fdsBefore = Fds.openFdCount();
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        final VhostUserBackend backend = new VhostUserBackend(1, FEATURES, new DataplaneProxy[] {proxy},
            pair -> nic, RxPolicy.WAIT, 32, null);
        server = new VhostUserServer(temp.resolve("vhost.sock"), false, backend);
        control = Thread.ofPlatform().name("test-control").start(() ->
        {
            while (running.get())
            {
                server.poll(5);
            }
        });
        dataplane = Thread.ofPlatform().name("test-dataplane").start(() ->
        {
            try
            {
                while (running.get())
                {
                    agent.doWork();
                }
            }
            catch (final Exception e)
            {
                throw new IllegalStateException(e);
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception
    {
        running.set(false);
        control.join();
        dataplane.join();
        server.close();
        nic.closeAndDelete();
        assertEquals(fdsBefore, Fds.openFdCount(), "no fd leaked");
    }

    private static void await(final java.util.function.BooleanSupplier condition, final String what)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void aRingStartedAgainWithBaseZeroOnItsKeptContentsResumesAtUsedIdx() throws Exception
    {
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock"));
            EventFd rxCall = EventFd.create();
            EventFd txCall = EventFd.create())
        {
            frontend.negotiate(FEATURES);
            setCall(frontend, 0, rxCall);
            setCall(frontend, 1, txCall);
            frontend.setupRing(0, 64, true);
            final DriverVirtqueue tx = frontend.setupRing(1, 64, true);
            await(() -> agent.queuePairCount() == 1, "the queue pair to run");
            assertEquals(1, rxCall.drain(), "one call at start");
            assertEquals(1, txCall.drain(), "one call at start");

            final List<byte[]> first = transmit(frontend, tx, 5);
            assertFrames(first, takeFromNic(5), "the first 5 frames");
            await(() -> tx.usedAvailable() == 5, "the 5 chains back");
            tx.releaseUsed(5);

            // The frontend stops the ring, keeps its contents, queues 3 more frames and starts it again from base 0.
            frontend.sendState(VhostUserRequest.GET_VRING_BASE, 1, 0);
            assertEquals(5, frontend.readReply(VhostUserRequest.GET_VRING_BASE.code()));
            await(() -> agent.queuePairCount() == 0, "the queue pair to stop");
            final List<byte[]> pending = transmit(frontend, tx, 3);
            rxCall.drain();
            txCall.drain();
            frontend.sendState(VhostUserRequest.SET_VRING_BASE, 1, 0);
            frontend.expectAck(VhostUserRequest.SET_VRING_BASE, 0);
            frontend.sendU64(VhostUserRequest.SET_VRING_KICK, 1 | VRING_NOFD, true);
            frontend.expectAck(VhostUserRequest.SET_VRING_KICK, 0);
            await(() -> agent.queuePairCount() == 1, "the queue pair to run again");

            assertFrames(pending, takeFromNic(3), "the pending frames, not the 5 already sent");
            await(() -> tx.usedAvailable() == 3, "the 3 chains back: used.idx 8");
            Thread.sleep(100);
            assertEquals(0, nic.txRing().available(), "nothing sent twice");
            assertEquals(1, rxCall.drain(), "the receive queue, idle, was called once at the restart");
            assertTrue(txCall.drain() >= 1);
            final QueuePair pair = server.backend().running(0);
            assertEquals(1, pair.ringResyncs(false));
            assertEquals(0, pair.ringResyncs(true), "ring 0 restarted at the base GET_VRING_BASE had recorded");
            await(() -> logContains("ring 1: SET_VRING_BASE 0 but used.idx 5, avail.idx 8: resumed at used.idx, " +
                "3 chains pending"), "the resume in the backend's log");
        }
        // The pair still runs: let the server stop it while the dataplane still polls (tearDown stops both threads).
        await(() -> !server.isConnected(), "the server to notice the disconnect");
    }

    private static void assertFrames(final List<byte[]> expected, final List<byte[]> actual, final String what)
    {
        assertEquals(expected.size(), actual.size(), what);
        for (int i = 0; i < expected.size(); i++)
        {
            assertArrayEquals(expected.get(i), actual.get(i), what + ": frame " + i);
        }
    }

    private boolean logContains(final String text)
    {
        try
        {
            return new ArrayList<>(server.backend().log()).stream().anyMatch(line -> line.startsWith(text));
        }
        catch (final ConcurrentModificationException e)
        {
            return false; // the control thread is logging: look again
        }
    }

    private static void setCall(final TestFrontend frontend, final int ring, final EventFd call)
    {
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        payload.putLong(0, ring);
        frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, payload, 8,
            new int[] {call.fd()}, 1);
        frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
    }

    private int framesMade;

    private List<byte[]> transmit(final TestFrontend frontend, final DriverVirtqueue tx, final int count)
    {
        final List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final byte[] frame = new byte[FRAME];
            new java.util.Random(++framesMade).nextBytes(frame);
            final long buffer = frontend.allocate(HEADER + FRAME, 64);
            new UnsafeBuffer(frontend.userAddress(buffer) + HEADER, FRAME).putBytes(0, frame);
            assertTrue(tx.addBuffer(buffer, HEADER + FRAME, false) >= 0);
            frames.add(frame);
        }
        tx.publishAvail();
        return frames;
    }

    private List<byte[]> takeFromNic(final int count) throws InterruptedException
    {
        await(() -> nic.txRing().available() >= count, count + " frames on the NIC");
        final List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final byte[] frame = new byte[nic.txRing().frameLength(i)];
            new UnsafeBuffer(nic.txRing().frameAddress(i), frame.length).getBytes(0, frame);
            frames.add(frame);
        }
        nic.txRing().release(count);
        return frames;
    }
}
