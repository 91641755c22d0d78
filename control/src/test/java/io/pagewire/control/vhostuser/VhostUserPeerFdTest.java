package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12 point 2: a frontend shares the open file description of every eventfd it sends, so it can clear
 * O_NONBLOCK on a call or err fd after pagewire set it and fill the counter (a write of 1 then sleeps), or offer a
 * pipe. Neither the dataplane thread (call fds) nor the control thread (err fds) may block on it: the notification is
 * counted, the frontend disconnected, and the next frontend served.
 */
class VhostUserPeerFdTest
{
    private static final long FEATURES = VhostUserServerTest.FEATURES;
    private static final long FULL_COUNTER = 0xffff_ffff_ffff_fffeL;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 0x800;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicReference<Throwable> controlFailure = new AtomicReference<>();
    private final AtomicReference<Throwable> dataplaneFailure = new AtomicReference<>();
    private final CountersManager counters = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(1024 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(1024 * CountersReader.COUNTER_LENGTH)));
    private ShmNicPort nic;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private Path socketPath;
    private Thread control;
    private Thread dataplane;
    private int fdsBefore;
    private long frontends;

    @BeforeEach
    void setUp()
    {
        fdsBefore = Fds.openFdCount();
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        backend = new VhostUserBackend(1, FEATURES, new DataplaneProxy[] {proxy}, pair -> nic, RxPolicy.WAIT, 32,
            counters);
        socketPath = temp.resolve("vhost.sock");
        server = new VhostUserServer(socketPath, false, backend);
        control = Thread.ofPlatform().name("test-control").start(() ->
        {
            try
            {
                while (running.get())
                {
                    server.poll(5);
                }
            }
            catch (final Throwable t)
            {
                controlFailure.set(t);
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
            catch (final Throwable t)
            {
                dataplaneFailure.set(t);
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception
    {
        running.set(false);
        control.join(10_000);
        dataplane.join(10_000);
        assertFalse(control.isAlive(), "control thread stuck (in a write to the frontend's err fd?)");
        assertFalse(dataplane.isAlive(), "dataplane thread stuck (in a write to the frontend's call fd?)");
        server.close();
        nic.closeAndDelete();
        checkThreads();
        assertEquals(fdsBefore, Fds.openFdCount(), "no fd leaked");
    }

    /**
     * The call fd of the receive queue is made blocking and full; a frame for the guest makes the dataplane notify.
     * On a pagewire whose write can block, the dataplane sleeps in write(2) forever: the frontend is never dropped
     * (stopping its pair waits for the dataplane) and nothing else is served.
     */
    @Test
    void aCallFdMadeBlockingAndFullIsCountedAndTheFrontendDropped() throws Throwable
    {
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect(); EventFd call = EventFd.create())
        {
            frontend.negotiate(FEATURES);
            frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                new int[] {call.fd()}, 1);
            frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
            frontend.setupRing(1, 256, false);
            await(() -> agent.queuePairCount() == 1, "the pair to run");

            fill(call.fd());
            clearNonBlock(call.fd());
            for (int i = 0; i < 8; i++)
            {
                rx.addBuffer(frontend.allocate(2048, 64), 2048, true);
            }
            rx.publishAvail();
            putFrameOnTheNic(100);
            await(() -> rx.usedAvailable() == 1, "the frame delivered");

            assertTrue(frontend.closedByPeer(5000), "the frontend dropped");
            assertTrue(counter("q0 notify call_blocked") >= 1, "the notification that blocked is counted");
            assertEquals(0, counter("q0 notify call_full"), "it was not a plain full counter");
            assertEquals(FULL_COUNTER, readCounter(call.fd()), "nothing was written to it");
        }
        awaitDisconnected();
        awaitFds(fds0, "the hostile frontend's fds closed");
        servesAWellBehavedFrontend();
    }

    /** A full but still non-blocking call fd: each notification is counted as full, and the frontend stays. */
    @Test
    void aFullCallFdIsCountedAndTheFrontendKept() throws Throwable
    {
        try (TestFrontend frontend = connect(); EventFd call = EventFd.create())
        {
            frontend.negotiate(FEATURES);
            frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                new int[] {call.fd()}, 1);
            frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
            final DriverVirtqueue tx = frontend.setupRing(1, 256, false);
            await(() -> agent.queuePairCount() == 1, "the pair to run");
            fill(call.fd());
            exchangeFrames(frontend, rx, tx, 5);
            await(() -> counter("q0 notify call_full") >= 1, "the full counter counted");
            assertEquals(0, counter("q0 notify call_blocked"));
            assertFalse(frontend.closedByPeer(50), "a full counter is not hostile: the frontend stays");
            exchangeFrames(frontend, rx, tx, 6);
        }
        awaitDisconnected();
        servesAWellBehavedFrontend();
    }

    /**
     * The err fd of the receive queue is made blocking and full; then a descriptor outside guest memory breaks the
     * queue, and control signals the err fd. On a pagewire whose write can block, the control thread sleeps in
     * write(2) forever: no connection, message or SIGTERM is served again.
     */
    @Test
    void anErrFdMadeBlockingAndFullIsCountedAndTheFrontendDropped() throws Throwable
    {
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect(); EventFd err = EventFd.create())
        {
            frontend.negotiate(FEATURES);
            frontend.send(VhostUserRequest.SET_VRING_ERR.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                new int[] {err.fd()}, 1);
            frontend.expectAck(VhostUserRequest.SET_VRING_ERR, 0);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
            frontend.setupRing(1, 256, false);
            await(() -> agent.queuePairCount() == 1, "the pair to run");

            fill(err.fd());
            clearNonBlock(err.fd());
            rx.addBuffer(0xdead_0000_0000L, 2048, true); // not guest memory: ADDRESS_NOT_MAPPED breaks the queue
            rx.publishAvail();
            putFrameOnTheNic(100);

            assertTrue(frontend.closedByPeer(5000), "the frontend dropped");
            assertEquals(1, counter("q0 notify err_not_written"), "the err signal that blocked is counted");
            assertEquals(FULL_COUNTER, readCounter(err.fd()), "nothing was written to it");
        }
        awaitDisconnected();
        awaitFds(fds0, "the hostile frontend's fds closed");
        servesAWellBehavedFrontend();
    }

    /** Linux vhost takes eventfds only; a pipe nobody reads would be a call or err fd that fills up. */
    @Test
    void aPipeOfferedAsCallErrOrKickFdIsRefusedWithAClearMessage() throws Throwable
    {
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            for (final VhostUserRequest request : new VhostUserRequest[] {VhostUserRequest.SET_VRING_CALL,
                VhostUserRequest.SET_VRING_ERR, VhostUserRequest.SET_VRING_KICK})
            {
                final int[] pipe = pipe();
                final long logged = backend.logged();
                try
                {
                    frontend.send(request.code(), VERSION | FLAG_NEED_REPLY, u64(1), 8, new int[] {pipe[1]}, 1);
                }
                finally
                {
                    Fds.closeQuietly(pipe[0]);
                    Fds.closeQuietly(pipe[1]);
                }
                assertNotEquals(0, frontend.readReply(request.code()), request + " refused");
                await(() -> backend.logged() > logged, "the refusal logged");
                final String message = backend.log().getLast();
                assertTrue(message.matches(request + " ring 1: fd \\d+ is not an eventfd: it is pipe:\\[\\d+]"),
                    message);
            }
            // The connection stays usable: the pair runs on eventfds.
            final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
            final DriverVirtqueue tx = frontend.setupRing(1, 256, false);
            await(() -> agent.queuePairCount() == 1, "the pair to run");
            exchangeFrames(frontend, rx, tx, 9);
        }
        awaitDisconnected();
        awaitFds(fds0, "every refused pipe end closed");
    }

    // ------------------------------------------------------------------------------------------------- helpers

    private long counter(final String label)
    {
        final AtomicLong value = new AtomicLong(-1);
        counters.forEach((final int counterId, final int typeId, final org.agrona.DirectBuffer key,
            final String counterLabel) ->
        {
            if (counterLabel.equals(label))
            {
                value.set(counters.getCounterValue(counterId));
            }
        });
        assertNotEquals(-1, value.get(), "no counter " + label);
        return value.get();
    }

    private void putFrameOnTheNic(final int length)
    {
        final long slot = nic.rxRing().claim(length);
        assertNotEquals(0, slot, "NIC ring has room");
        new UnsafeBuffer(slot, length).setMemory(0, length, (byte)0x5a);
        nic.rxRing().commit(length);
    }

    private void servesAWellBehavedFrontend() throws Exception
    {
        assertEquals(0, agent.queuePairCount());
        while (nic.rxAvailable() > 0)
        {
            nic.rxRelease(nic.rxAvailable());
        }
        while (nic.txRing().available() > 0)
        {
            nic.txRing().release(nic.txRing().available());
        }
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect(); EventFd call = EventFd.create())
        {
            frontend.negotiate(FEATURES);
            frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                new int[] {call.fd()}, 1);
            frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
            final DriverVirtqueue tx = frontend.setupRing(1, 256, false);
            await(() -> agent.queuePairCount() == 1, "the queue pair to run");
            exchangeFrames(frontend, rx, tx, 11);
            assertTrue(call.drain() >= 1, "the guest was notified through its call fd");
        }
        awaitDisconnected();
        awaitFds(fds0, "a well-behaved frontend leaves no fd");
        assertEquals(0, agent.queuePairCount());
    }

    /** One frame NIC → guest and one guest → NIC, each checked byte for byte. */
    private void exchangeFrames(final TestFrontend frontend, final DriverVirtqueue rx, final DriverVirtqueue tx,
        final int seed) throws Exception
    {
        final long[] byHead = new long[rx.size()];
        final long buffer = frontend.allocate(4096, 64);
        byHead[rx.addBuffer(buffer, 4096, true)] = buffer;
        rx.publishAvail();
        final byte[] frame = new byte[64 + seed];
        new Random(seed).nextBytes(frame);
        final long slot = nic.rxRing().claim(frame.length);
        assertNotEquals(0, slot, "NIC ring has room");
        new UnsafeBuffer(slot, frame.length).putBytes(0, frame);
        nic.rxRing().commit(frame.length);
        await(() -> rx.usedAvailable() == 1, "the frame in the used ring");
        final byte[] received = new byte[12 + frame.length];
        new UnsafeBuffer(frontend.userAddress(byHead[rx.usedId(0)]), received.length).getBytes(0, received);
        assertArrayEquals(frame, Arrays.copyOfRange(received, 12, received.length), "frame reached the guest");
        rx.releaseUsed(1);

        final byte[] out = new byte[12 + 60 + seed];
        new Random(-seed).nextBytes(out);
        Arrays.fill(out, 0, 12, (byte)0);
        final long txBuffer = frontend.allocate(out.length, 64);
        new UnsafeBuffer(frontend.userAddress(txBuffer), out.length).putBytes(0, out);
        tx.addBuffer(txBuffer, out.length, false);
        tx.publishAvail();
        await(() -> nic.txRing().available() == 1, "the frame on the NIC");
        final byte[] wire = new byte[out.length - 12];
        new UnsafeBuffer(nic.txRing().frameAddress(0), wire.length).getBytes(0, wire);
        assertArrayEquals(Arrays.copyOfRange(out, 12, out.length), wire, "frame reached the NIC");
        nic.txRing().release(1);
        await(() -> tx.usedAvailable() == 1, "the TX buffer back");
        tx.releaseUsed(1);
    }

    private TestFrontend connect()
    {
        final TestFrontend frontend = TestFrontend.connect(socketPath);
        frontends++;
        return frontend;
    }

    private void awaitDisconnected() throws InterruptedException
    {
        await(() -> server.connections() >= frontends && server.disconnects() >= frontends,
            "the server to notice the disconnect (" + frontends + " frontends)");
    }

    private void awaitFds(final int expected, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 2_000_000_000L;
        while (Fds.openFdCount() != expected && System.nanoTime() - deadline < 0)
        {
            Thread.sleep(2);
        }
        assertEquals(expected, Fds.openFdCount(), what);
    }

    private void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean())
        {
            checkThreads();
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }

    private void checkThreads()
    {
        if (controlFailure.get() != null)
        {
            fail("the control thread died (pagewire would exit)", controlFailure.get());
        }
        if (dataplaneFailure.get() != null)
        {
            fail("the dataplane thread died", dataplaneFailure.get());
        }
    }

    private static UnsafeBuffer u64(final long value)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        buffer.putLong(0, value);
        return buffer;
    }

    // ------------------------------------------------------------------ what a hostile frontend does to a shared fd

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle WRITE = libc("write",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle READ = libc("read",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle FCNTL = libc("fcntl",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
        Linker.Option.firstVariadicArg(2));
    private static final MethodHandle PIPE = libc("pipe",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));

    @SuppressWarnings("restricted")
    private static MethodHandle libc(final String name, final FunctionDescriptor descriptor,
        final Linker.Option... options)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor, options);
    }

    /** Makes the counter 0xfffffffffffffffe: one more would block, or fail with EAGAIN. */
    static void fill(final int fd) throws Throwable
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            value.set(ValueLayout.JAVA_LONG, 0, FULL_COUNTER - readCounter(fd));
            assertEquals(8L, (long)WRITE.invokeExact(fd, value, 8L), "filling the counter");
        }
    }

    /** Reads the counter (which resets it) and puts the value back. Only on a non-blocking fd or a non-zero one. */
    static long readCounter(final int fd) throws Throwable
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            if ((long)READ.invokeExact(fd, value, 8L) != 8L)
            {
                return 0;
            }
            final long counter = value.get(ValueLayout.JAVA_LONG, 0);
            assertEquals(8L, (long)WRITE.invokeExact(fd, value, 8L), "putting the counter back");
            return counter;
        }
    }

    /** Clears O_NONBLOCK on the open file description pagewire shares with us. */
    static void clearNonBlock(final int fd) throws Throwable
    {
        final int flags = (int)FCNTL.invokeExact(fd, F_GETFL, 0);
        assertTrue(flags >= 0);
        assertEquals(0, (int)FCNTL.invokeExact(fd, F_SETFL, flags & ~O_NONBLOCK));
    }

    private static int[] pipe() throws Throwable
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(0, (int)PIPE.invokeExact(fds));
            return new int[] {fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)};
        }
    }
}
