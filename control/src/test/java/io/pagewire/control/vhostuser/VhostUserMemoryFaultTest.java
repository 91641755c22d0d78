package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.DataplaneRunner;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.MemoryFiles;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.BufferUtil;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Memory a frontend changes under us (issue 12, point 1) and a queue pair the dataplane does not give back (point 5):
 * a frontend that shrinks its memfd after SET_MEM_TABLE is disconnected, its pair broken with
 * {@code queue error memory_fault}, and the next frontend served; a region on a file that is not memory-backed is
 * refused; a pair the dataplane keeps past the stop timeout is isolated, its frontend disconnected, the next served,
 * and what the pair held released once the dataplane gives it back, fds and mappings back at their baseline.
 */
class VhostUserMemoryFaultTest
{
    private static final long FEATURES = VhostUserServerTest.FEATURES;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicReference<Throwable> controlFailure = new AtomicReference<>();
    private final AtomicReference<Throwable> dataplaneFailure = new AtomicReference<>();
    private final CountersManager counters = new CountersManager(
        new UnsafeBuffer(BufferUtil.allocateDirectAligned(1024 * 1024, 64)),
        new UnsafeBuffer(BufferUtil.allocateDirectAligned(256 * 1024, 64)));
    private ShmNicPort nic;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private Path socketPath;
    private Thread control;
    private DataplaneRunner dataplane;

    private void start(final boolean runDataplane)
    {
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        backend = new VhostUserBackend(1, FEATURES, new DataplaneProxy[] {proxy}, pair -> nic, RxPolicy.DROP, 32,
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
                // In pagewire this thread is the run loop: an exception out of poll ends the process.
                controlFailure.set(t);
            }
        });
        if (runDataplane)
        {
            runDataplane();
        }
    }

    private void runDataplane()
    {
        dataplane = DataplaneRunner.start(new SleepingIdleStrategy(20_000), dataplaneFailure::set, agent);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        running.set(false);
        if (control != null)
        {
            control.join(10_000);
            assertFalse(control.isAlive(), "control thread stuck");
        }
        if (server != null)
        {
            server.close();
        }
        if (dataplane != null)
        {
            dataplane.close();
        }
        if (nic != null)
        {
            nic.closeAndDelete();
        }
    }

    @Test
    void frontendThatShrinksItsMemoryIsDisconnectedAndTheNextServed() throws Exception
    {
        start(true);
        final int fds0 = Fds.openFdCount();
        final long maps0 = guestMappings();
        try (TestFrontend frontend = TestFrontend.connect(socketPath))
        {
            frontend.negotiate(FEATURES);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
            frontend.setupRing(1, 256, true);
            await(() -> agent.queuePairCount() == 1, "the pair to run");
            deliverOneFrame(frontend, rx);
            assertEquals(2, guestMappings() - maps0, "the frontend's mapping and pagewire's");

            // The hostile part: the frontend shrinks the memory it shared. Every access of the dataplane now faults.
            MemoryFiles.truncate(frontend.memfd, 0);

            assertTrue(frontend.closedOrReset(10_000), "pagewire disconnects the frontend whose memory went");
        }
        await(() -> server.disconnects() == 1, "the disconnect");
        assertTrue(agent.memoryFaults() >= 1, "the fault was caught");
        assertTrue(dataplane.isRunning(), "the dataplane thread goes on");
        assertEquals(0, agent.queuePairCount(), "the pair was given back");
        assertEquals(0, backend.mappingCount(), "the frontend's memory unmapped");
        assertEquals(1, countOf(QueueError.MEMORY_FAULT), "queue error memory_fault counted once");
        assertTrue(backend.log().stream().anyMatch(line -> line.contains("memory faulted")),
            String.join("\n", backend.log()));
        awaitFds(fds0, "no fd left from the faulted frontend");
        assertEquals(maps0, guestMappings(), "no mapping left from the faulted frontend");

        servesAWellBehavedFrontend();
        assertNull(controlFailure.get());
        assertNull(dataplaneFailure.get());
    }

    @Test
    void regionOnAFileThatIsNotMemoryBackedIsRefusedNamingItsFileSystem() throws Exception
    {
        start(true);
        final Path disk = temp.resolve("guest-memory");
        try (RandomAccessFile file = new RandomAccessFile(disk.toFile(), "rw"))
        {
            file.setLength(1 << 20);
        }
        final int fds0 = Fds.openFdCount();
        final long fileSystem = fileSystemOf(disk);
        try (TestFrontend frontend = TestFrontend.connect(socketPath))
        {
            frontend.get(VhostUserRequest.GET_FEATURES);
            frontend.sendU64(VhostUserRequest.SET_PROTOCOL_FEATURES, PROTOCOL_F_REPLY_ACK, false);
            final UnsafeBuffer payload = new UnsafeBuffer(new byte[8 + MEM_REGION_SIZE]);
            payload.putInt(0, 1);
            payload.putLong(8, TestFrontend.GUEST_BASE);
            payload.putLong(16, 1 << 20);
            payload.putLong(24, 0x7000_0000_0000L);
            payload.putLong(32, 0);
            try (RandomAccessFile file = new RandomAccessFile(disk.toFile(), "rw"))
            {
                final int fd = fdOf(file);
                frontend.send(VhostUserRequest.SET_MEM_TABLE.code(), VERSION | FLAG_NEED_REPLY, payload,
                    payload.capacity(), new int[] {fd}, 1);
                assertEquals(1, frontend.readReply(VhostUserRequest.SET_MEM_TABLE.code()), "refused");
            }
            assertEquals(0, backend.mappingCount());
            final String refusal = backend.log().getLast();
            assertTrue(refusal.contains("region 0: its fd is on " + MemoryFiles.describe(fileSystem)), refusal);
            assertTrue(refusal.contains("only tmpfs/shmem (memfd, /dev/shm) and hugetlbfs"), refusal);
            // A device node (on devtmpfs, which says it is tmpfs) is not a file: refused too.
            try (RandomAccessFile zero = new RandomAccessFile("/dev/zero", "r"))
            {
                final int fd = fdOfPath(Path.of("/dev/zero"));
                frontend.send(VhostUserRequest.SET_MEM_TABLE.code(), VERSION | FLAG_NEED_REPLY, payload,
                    payload.capacity(), new int[] {fd}, 1);
                assertEquals(1, frontend.readReply(VhostUserRequest.SET_MEM_TABLE.code()), "refused");
            }
            assertTrue(backend.log().getLast().contains("region 0: its fd is not a regular file"),
                backend.log().getLast());
            // The same frontend may go on with memory that is.
            assertEquals(0, frontend.setMemTable());
            assertTrue(backend.log().getLast().contains("none sealed against shrinking"), backend.log().getLast());
        }
        await(() -> server.disconnects() == 1, "the disconnect");
        awaitFds(fds0, "no fd left");
    }

    @Test
    void pairTheDataplaneDoesNotGiveBackIsIsolatedUntilItDoes() throws Exception
    {
        start(false); // the agent is driven by hand: it stops answering when the test stops calling doWork
        final int fds0 = Fds.openFdCount();
        final long maps0 = guestMappings();
        final AtomicBoolean poll = new AtomicBoolean(true);
        final Thread dataplaneThread = Thread.ofPlatform().name("test-dataplane").start(() ->
        {
            try
            {
                while (running.get())
                {
                    if (poll.get())
                    {
                        agent.doWork();
                    }
                    Thread.sleep(0, 20_000);
                }
            }
            catch (final Throwable t)
            {
                dataplaneFailure.set(t);
            }
        });
        try
        {
            try (TestFrontend frontend = TestFrontend.connect(socketPath))
            {
                frontend.negotiate(FEATURES);
                final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
                frontend.setupRing(1, 256, true);
                await(() -> agent.queuePairCount() == 1, "the pair to run");
                deliverOneFrame(frontend, rx);

                poll.set(false); // the dataplane is stuck from now on
                frontend.sendState(VhostUserRequest.GET_VRING_BASE, 0, 0);
                // pagewire waits 5 s for the pair, then isolates it and disconnects the frontend.
                assertTrue(frontend.closedOrReset(15_000), "the frontend is disconnected");
            }
            await(() -> server.disconnects() == 1, "the disconnect");
            assertEquals(1, backend.isolatedNow(), "the pair is isolated");
            assertEquals(1, backend.isolatedPairs());
            assertEquals(1, backend.mappingCount(), "its memory is kept: the dataplane may still touch it");
            assertEquals(1, counter("q0 queue isolated"), "queue isolated counted");
            assertNull(controlFailure.get(), "the control thread goes on");

            // The next frontend is served (its pair cannot start at the isolated index yet).
            try (TestFrontend next = TestFrontend.connect(socketPath))
            {
                assertEquals(backend.offeredFeatures(), next.get(VhostUserRequest.GET_FEATURES));
            }
            await(() -> server.disconnects() == 2, "the second frontend's disconnect");

            poll.set(true); // the dataplane comes back and gives the pair back
            await(() -> backend.isolatedNow() == 0, "the isolated pair released");
            assertEquals(0, backend.mappingCount());
            assertEquals(0, agent.queuePairCount());
            awaitFds(fds0, "every fd of the isolated pair closed");
            assertEquals(maps0, guestMappings(), "every mapping of the isolated pair unmapped");

            servesAWellBehavedFrontend();
            assertNull(controlFailure.get());
            assertNull(dataplaneFailure.get());
        }
        finally
        {
            running.set(false);
            dataplaneThread.join(10_000);
        }
    }

    // --------------------------------------------------------------------------------------------------- helpers

    private void servesAWellBehavedFrontend() throws Exception
    {
        final long disconnects = server.disconnects();
        try (TestFrontend frontend = TestFrontend.connect(socketPath))
        {
            frontend.negotiate(FEATURES);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
            frontend.setupRing(1, 256, true);
            await(() -> agent.queuePairCount() == 1, "the next frontend's pair to run");
            deliverOneFrame(frontend, rx);
        }
        await(() -> server.disconnects() == disconnects + 1, "the well-behaved frontend's disconnect");
        assertEquals(0, backend.mappingCount());
    }

    private void deliverOneFrame(final TestFrontend frontend, final DriverVirtqueue rx) throws Exception
    {
        while (nic.rxAvailable() > 0 && agent.queuePairCount() == 0)
        {
            nic.rxRelease(nic.rxAvailable());
        }
        final int before = rx.usedAvailable();
        rx.addBuffer(frontend.allocate(4096, 64), 4096, true);
        rx.publishAvail();
        final long slot = nic.rxRing().claim(100);
        assertNotEquals(0, slot, "NIC ring has room");
        nic.rxRing().commit(100);
        await(() -> rx.usedAvailable() > before, "a frame in the guest");
        rx.releaseUsed(rx.usedAvailable());
    }

    private long countOf(final QueueError error)
    {
        return counter("q0 queue error " + error.name().toLowerCase(java.util.Locale.ROOT));
    }

    private long counter(final String label)
    {
        final long[] value = {-1};
        counters.forEach((counterId, typeId, key, counterLabel) ->
        {
            if (counterLabel.equals(label))
            {
                value[0] = counters.getCounterValue(counterId);
            }
        });
        return value[0];
    }

    /** @return mappings of test-guest memfds in this process (the frontend's and pagewire's). */
    private static long guestMappings() throws IOException
    {
        try (var lines = Files.lines(Path.of("/proc/self/maps")))
        {
            return lines.filter(line -> line.contains("/memfd:test-guest")).count();
        }
    }

    private static long fileSystemOf(final Path path) throws IOException
    {
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "r"))
        {
            return MemoryFiles.fileSystemType(fdOf(file));
        }
    }

    private static int fdOf(final RandomAccessFile file) throws IOException
    {
        return fdOfPath(Path.of("guest-memory"));
    }

    /** @return the newest of this process's fds whose /proc/self/fd link ends with {@code name}. */
    private static int fdOfPath(final Path name) throws IOException
    {
        final String target = name.toString();
        int found = -1;
        try (var entries = Files.list(Path.of("/proc/self/fd")))
        {
            for (final Path entry : entries.toList())
            {
                try
                {
                    if (Files.readSymbolicLink(entry).toString().endsWith(target))
                    {
                        found = Math.max(found, Integer.parseInt(entry.getFileName().toString()));
                    }
                }
                catch (final IOException ignored)
                {
                    // the directory's own fd, gone by now
                }
            }
        }
        assertTrue(found >= 0, "fd of " + target);
        return found;
    }

    private void awaitFds(final int expected, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 5_000_000_000L;
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
            if (controlFailure.get() != null)
            {
                fail("the control thread died (pagewire would exit)", controlFailure.get());
            }
            if (dataplaneFailure.get() != null)
            {
                fail("the dataplane thread died", dataplaneFailure.get());
            }
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for " + what + "; log " + (backend == null ? "" : backend.log()));
            }
            Thread.sleep(1);
        }
    }
}
