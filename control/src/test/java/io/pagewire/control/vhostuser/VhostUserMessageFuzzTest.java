package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.port.ShmNicPort;
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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12's message fuzz: at least 10⁴ seeded random vhost-user messages against a backend and its server in this
 * JVM (the server polled by a control thread, queue pairs run by a dataplane thread, as in pagewire): random request
 * codes, flags, sizes and payloads (often structured enough to pass the first checks), random fds (memfds, sealed or
 * not, and eventfds; missing, extra, on requests that take none), messages cut off midway (the frontend then leaves,
 * or in a few cases stalls until the server's deadline), headers whose size lies, bursts sent without waiting for
 * replies, and many reconnects, some with a negotiated memory table and running queue pairs. Afterwards no thread
 * died, the server still serves a valid session with traffic both ways, and the process's fd count
 * ({@code /proc/self/fd}) and its mappings of shared memory ({@code /proc/self/maps}) are back at their baseline.
 * Seed: {@code -Dpagewire.fuzz.seed=N}; messages: {@code -Dpagewire.fuzz.messages=N}.
 */
class VhostUserMessageFuzzTest
{
    private static final long FEATURES = VhostUserServerTest.FEATURES;
    private static final VhostUserRequest[] REQUESTS = VhostUserRequest.values();
    private static final int MEMORY = 1 << 20;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountersManager counters = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
    private final UnsafeBuffer raw = new UnsafeBuffer(BufferUtil.allocateDirectAligned(HEADER_LENGTH + 8192, 64));
    private ShmNicPort nic;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private Path socketPath;
    private Thread control;
    private Thread dataplane;
    private long frontends;

    @BeforeEach
    void setUp()
    {
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 256, 2048);
        backend = new VhostUserBackend(1, FEATURES, new DataplaneProxy[] {proxy}, pair -> nic, RxPolicy.DROP, 32,
            null);
        socketPath = temp.resolve("vhost.sock");
        server = new VhostUserServer(socketPath, false, backend, new SystemCounters(counters));
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
                failure.compareAndSet(null, t);
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
                failure.compareAndSet(null, t);
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception
    {
        running.set(false);
        control.join(10_000);
        assertFalse(control.isAlive(), "control thread stuck");
        server.close();
        dataplane.join(10_000);
        nic.closeAndDelete();
        checkThreads();
    }

    @Test
    void tenThousandRandomMessagesLeaveTheServerServingAndNothingBehind() throws Exception
    {
        final long seed = Long.getLong("pagewire.fuzz.seed", 20_261_208L);
        final int total = Integer.getInteger("pagewire.fuzz.messages", 12_000);
        final Random random = new Random(seed);

        // The baseline after one valid session: whatever a session allocates once (JIT, buffers) is there already.
        servesAValidSession();
        final int fds0 = Fds.openFdCount();
        final int sharedMaps0 = sharedMappings();
        final int maps0 = mappings();

        int sent = 0;
        int connections = 0;
        int truncated = 0;
        int stalls = 0;
        int lies = 0;
        int bursts = 0;
        int closedByServer = 0;
        final long errorsBefore = backend.errors() + server.protocolErrors();
        while (sent < total)
        {
            connections++;
            final String where = "seed " + seed + ", connection " + connections + ", message " + sent;
            try (TestFrontend frontend = connect())
            {
                final int setup = random.nextInt(8);
                if (setup >= 3)
                {
                    frontend.negotiate(FEATURES);
                }
                if (setup >= 6)
                {
                    frontend.setupRing(0, 64, random.nextBoolean());
                    frontend.setupRing(1, 64, random.nextBoolean());
                }
                final boolean burst = random.nextInt(10) == 0;
                bursts += burst ? 1 : 0;
                final int messages = 1 + random.nextInt(burst ? 200 : 60);
                boolean open = true;
                for (int i = 0; i < messages && sent < total && open; i++)
                {
                    sent++;
                    final int ending = random.nextInt(200);
                    try
                    {
                        if (ending == 0 && stalls < 3 && frontend.sync())
                        {
                            // Part of a message, then nothing: the server closes it at the message deadline. (After
                            // a sync: a burst may have had the connection closed already.)
                            stalls++;
                            sendPartOfAMessage(frontend, random);
                            assertTrue(frontend.closedOrReset(10_000), where + ": a stalled frontend is closed");
                            open = false;
                        }
                        else if (ending < 6)
                        {
                            // Part of a message (fds included), then the frontend leaves.
                            truncated++;
                            sendPartOfAMessage(frontend, random);
                            open = false;
                        }
                        else if (ending < 9)
                        {
                            // A header whose size lies about the bytes that follow; then the frontend leaves.
                            lies++;
                            sendRandomMessage(frontend, random, true);
                            open = false;
                        }
                        else
                        {
                            sendRandomMessage(frontend, random, false);
                            if (!burst && !frontend.sync())
                            {
                                closedByServer++;
                                open = false;
                            }
                        }
                    }
                    catch (final OsException e)
                    {
                        closedByServer++; // EPIPE/ECONNRESET: the server closed the connection
                        open = false;
                    }
                    if (failure.get() != null)
                    {
                        fail(where + ": a thread died", failure.get());
                    }
                }
                if (open && burst && !frontend.sync())
                {
                    closedByServer++;
                }
            }
            catch (final AssertionError e)
            {
                throw new AssertionError(where + ": " + e.getMessage(), e);
            }
            awaitDisconnected(where);
            assertEquals(0, agent.queuePairCount(), where + ": no queue pair left running");
            assertEquals(0, backend.mappingCount(), where + ": no mapping left");
        }
        System.err.println("fuzz: seed " + seed + ", " + sent + " messages over " + connections + " connections (" +
            truncated + " cut off, " + stalls + " stalled, " + lies + " lying sizes, " + bursts + " bursts, " +
            closedByServer + " closed by the server), " + (backend.errors() + server.protocolErrors() - errorsBefore) +
            " problems counted, " + server.suppressedLogLines() + " log lines suppressed");
        assertTrue(sent >= 10_000 || total < 10_000, "at least 10^4 messages");
        assertTrue(backend.errors() + server.protocolErrors() > errorsBefore, "random messages are refused");
        assertEquals(stalls, server.messageTimeouts(), "each stalled frontend closed at its deadline");
        checkThreads();

        await(() -> Fds.openFdCount() == fds0, () -> "fds back at " + fds0 + ", are " + Fds.openFdCount());
        await(() -> sharedMappings() == sharedMaps0, () -> "shared-memory mappings back at " + sharedMaps0 +
            ", are " + sharedMappings());
        // The JVM maps and unmaps on its own (malloc arenas, GC): the total is back within a few of the baseline,
        // where a leak of one mapping per connection would be hundreds.
        await(() -> mappings() <= maps0 + 8, () -> "mappings back at " + maps0 + " (+8 for the JVM), are " +
            mappings());
        servesAValidSession();
        assertEquals(fds0, Fds.openFdCount(), "a valid session after the fuzz leaves no fd");
    }

    /**
     * Sends one random message.
     *
     * @param lie whether the header's size field lies about the bytes that follow.
     */
    private void sendRandomMessage(final TestFrontend frontend, final Random random, final boolean lie)
    {
        final int codeKind = random.nextInt(50);
        final VhostUserRequest request = REQUESTS[random.nextInt(REQUESTS.length)];
        final int code = codeKind < 46 ? request.code() : codeKind < 48 ? random.nextInt(64) : random.nextInt();
        final boolean known = request.code() == code;
        final int flags = random.nextInt(60) == 0 ? random.nextInt() :
            VERSION | (random.nextBoolean() ? FLAG_NEED_REPLY : 0);
        final int size;
        final int sizeKind = random.nextInt(100);
        if (sizeKind == 0)
        {
            size = MAX_PAYLOAD + 1 + random.nextInt(1 << 20); // announced only: the server closes at the header
        }
        else if (!known || sizeKind < 8)
        {
            size = random.nextInt(600);
        }
        else if (request == VhostUserRequest.SET_MEM_TABLE)
        {
            size = 8 + MEM_REGION_SIZE * (random.nextInt(5) == 0 ? random.nextInt(10) : 1 + random.nextInt(2));
        }
        else
        {
            size = request.payloadSize() >= 0 ? request.payloadSize() : random.nextInt(600);
        }
        final int bytesSent = size > MAX_PAYLOAD ? 0 : size;
        final byte[] bytes = new byte[Math.max(bytesSent, 8 + MEM_REGION_SIZE * 9)];
        random.nextBytes(bytes);
        final UnsafeBuffer payload = new UnsafeBuffer(bytes);
        if (known && random.nextInt(5) != 0)
        {
            structure(request, payload, bytesSent, frontend, random);
        }
        final int fdCount = fdCount(request, known, payload, bytesSent, random);
        final int[] fds = randomFds(fdCount, random);
        try
        {
            raw.putInt(REQUEST_OFFSET, code);
            raw.putInt(FLAGS_OFFSET, flags);
            raw.putInt(SIZE_OFFSET, lie ? random.nextInt(700) : size);
            raw.putBytes(HEADER_LENGTH, bytes, 0, bytesSent);
            frontend.socket.send(raw.addressOffset(), HEADER_LENGTH + bytesSent, fds, fdCount);
        }
        finally
        {
            closeAll(fds);
        }
    }

    /** Sends the first 1..n-1 bytes of an otherwise plausible message, with fds on the first chunk sometimes. */
    private void sendPartOfAMessage(final TestFrontend frontend, final Random random)
    {
        final VhostUserRequest request = REQUESTS[random.nextInt(REQUESTS.length)];
        final int size = request.payloadSize() >= 0 ? request.payloadSize() : 8 + MEM_REGION_SIZE;
        final int length = 1 + random.nextInt(HEADER_LENGTH + size - 1);
        raw.putInt(REQUEST_OFFSET, request.code());
        raw.putInt(FLAGS_OFFSET, VERSION | FLAG_NEED_REPLY);
        raw.putInt(SIZE_OFFSET, size);
        for (int i = HEADER_LENGTH; i < HEADER_LENGTH + size; i++)
        {
            raw.putByte(i, (byte)random.nextInt());
        }
        final int fdCount = random.nextInt(3) == 0 ? 1 + random.nextInt(2) : 0;
        final int[] fds = randomFds(fdCount, random);
        try
        {
            frontend.socket.send(raw.addressOffset(), length, fds, fdCount);
        }
        finally
        {
            closeAll(fds);
        }
    }

    private static int fdCount(
        final VhostUserRequest request, final boolean known, final UnsafeBuffer payload, final int size,
        final Random random)
    {
        if (random.nextInt(20) == 0)
        {
            return random.nextInt(5);
        }
        if (known && request == VhostUserRequest.SET_MEM_TABLE && size >= 8)
        {
            final int regions = payload.getInt(0);
            return regions >= 0 && regions <= 8 ? regions : 1;
        }
        if (known && request.fdCount() == -1 && size >= 8)
        {
            return (payload.getLong(0) & VRING_NOFD) != 0 ? 0 : 1;
        }
        return 0;
    }

    /** Fds the test closes after sending (the receiver gets its own): memfds, sealed or not, and eventfds. */
    private static int[] randomFds(final int count, final Random random)
    {
        final int[] fds = new int[count];
        for (int i = 0; i < count; i++)
        {
            final int kind = random.nextInt(3);
            final long size = 4096L * (1 + random.nextInt(64));
            fds[i] = kind == 0 ? Fds.memfdCreate("fuzz", size) : kind == 1 ? Fds.memfdCreateSealed("fuzz", size) :
                EventFd.create().fd(); // the EventFd object is dropped; its fd is closed by number
        }
        return fds;
    }

    /** Makes a random payload plausible enough to get past the first checks. */
    private static void structure(
        final VhostUserRequest request, final UnsafeBuffer payload, final int size, final TestFrontend frontend,
        final Random random)
    {
        final long base = frontend.memory.address();
        final long memorySize = frontend.memory.length();
        if (size < 8)
        {
            return;
        }
        switch (request)
        {
            case SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE ->
            {
                payload.putInt(0, random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(3));
                final int[] nums = {0, 1, 2, 64, 256, 300, 32768, 65536, random.nextInt(2)};
                payload.putInt(4, nums[random.nextInt(nums.length)]);
            }
            case SET_VRING_ADDR ->
            {
                payload.putInt(0, random.nextInt(3));
                for (int i = 0; i < 3 && 8 + 8 * (i + 1) <= size; i++)
                {
                    final long offset = random.nextInt(4) == 0 ? random.nextLong() :
                        (random.nextLong(memorySize + 8192) - 4096) & (random.nextBoolean() ? -16 : -1);
                    payload.putLong(8 + 8 * i, base + offset);
                }
            }
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR ->
                payload.putLong(0, random.nextInt(5) / 2 | (random.nextBoolean() ? VRING_NOFD : 0) |
                    (random.nextInt(16) == 0 ? random.nextLong() : 0));
            case SET_FEATURES, SET_PROTOCOL_FEATURES, SET_STATUS ->
                payload.putLong(0, random.nextInt(4) == 0 ? random.nextLong() :
                    random.nextLong() & (FEATURES | F_PROTOCOL_FEATURES | 0xFF));
            case SET_MEM_TABLE ->
            {
                final int regions = Math.max(0, (size - 8) / MEM_REGION_SIZE);
                payload.putInt(0, random.nextInt(8) == 0 ? random.nextInt(12) : regions);
                for (int i = 0; i < regions; i++)
                {
                    final int offset = 8 + i * MEM_REGION_SIZE;
                    payload.putLong(offset, TestFrontend.GUEST_BASE + (long)random.nextInt(4) * memorySize);
                    payload.putLong(offset + 8, 4096L * random.nextInt(70));
                    payload.putLong(offset + 16, base + (long)random.nextInt(4) * memorySize);
                    payload.putLong(offset + 24, 4096L * random.nextInt(4));
                }
            }
            default ->
            {
            }
        }
    }

    /** A fresh, well-behaved frontend: negotiates, runs a queue pair, one frame each way; then leaves. */
    private void servesAValidSession() throws Exception
    {
        while (nic.rxAvailable() > 0)
        {
            nic.rxRelease(nic.rxAvailable());
        }
        while (nic.txRing().available() > 0)
        {
            nic.txRing().release(nic.txRing().available());
        }
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
            final DriverVirtqueue tx = frontend.setupRing(1, 256, true);
            await(() -> agent.queuePairCount() == 1, () -> "the queue pair to run");
            final long[] byHead = new long[rx.size()];
            for (int i = 0; i < 8; i++)
            {
                final long buffer = frontend.allocate(4096, 64);
                byHead[rx.addBuffer(buffer, 4096, true)] = buffer;
            }
            rx.publishAvail();
            final byte[] frame = new byte[100];
            new Random(7).nextBytes(frame);
            final long slot = nic.rxRing().claim(frame.length);
            assertNotEquals(0, slot, "NIC ring has room");
            new UnsafeBuffer(slot, frame.length).putBytes(0, frame);
            nic.rxRing().commit(frame.length);
            await(() -> rx.usedAvailable() == 1, () -> "the frame in the guest's used ring");
            final byte[] received = new byte[frame.length];
            new UnsafeBuffer(frontend.userAddress(byHead[rx.usedId(0)]) + 12, frame.length).getBytes(0, received);
            assertArrayEquals(frame, received, "frame reached the guest");
            rx.releaseUsed(1);

            final byte[] out = new byte[12 + 80];
            new Random(8).nextBytes(out);
            Arrays.fill(out, 0, 12, (byte)0);
            final long txBuffer = frontend.allocate(out.length, 64);
            new UnsafeBuffer(frontend.userAddress(txBuffer), out.length).putBytes(0, out);
            tx.addBuffer(txBuffer, out.length, false);
            tx.publishAvail();
            await(() -> nic.txRing().available() == 1, () -> "the frame on the NIC");
            final byte[] wire = new byte[out.length - 12];
            new UnsafeBuffer(nic.txRing().frameAddress(0), wire.length).getBytes(0, wire);
            assertArrayEquals(Arrays.copyOfRange(out, 12, out.length), wire, "frame reached the NIC");
            nic.txRing().release(1);
        }
        awaitDisconnected("a valid session");
        assertEquals(0, agent.queuePairCount());
        assertEquals(0, backend.mappingCount());
    }

    private TestFrontend connect()
    {
        final TestFrontend frontend = TestFrontend.connect(socketPath, MEMORY);
        frontends++;
        return frontend;
    }

    private void awaitDisconnected(final String where) throws InterruptedException
    {
        await(() -> server.connections() >= frontends && server.disconnects() >= frontends,
            () -> where + ": the server to notice the disconnect (" + frontends + " frontends)");
    }

    /** @return lines of /proc/self/maps. */
    private static int mappings()
    {
        return maps().size();
    }

    /** @return mappings of memfds (guest memory and the fuzz's memfds; the backend maps what frontends send). */
    private static int sharedMappings()
    {
        return (int)maps().stream().filter(line -> line.contains("/memfd:")).count();
    }

    private static List<String> maps()
    {
        try
        {
            return Files.readAllLines(Path.of("/proc/self/maps"));
        }
        catch (final IOException e)
        {
            throw new IllegalStateException(e);
        }
    }

    private void await(final BooleanSupplier condition, final java.util.function.Supplier<String> what)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean())
        {
            checkThreads();
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for " + what.get());
            }
            Thread.sleep(1);
        }
    }

    private void checkThreads()
    {
        if (failure.get() != null)
        {
            fail("a thread died (in pagewire the process would exit)", failure.get());
        }
    }

    private static void closeAll(final int[] fds)
    {
        for (final int fd : fds)
        {
            if (fd > 0)
            {
                Fds.closeQuietly(fd);
            }
        }
    }
}
