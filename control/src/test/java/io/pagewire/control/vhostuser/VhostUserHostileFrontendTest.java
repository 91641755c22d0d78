package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static io.pagewire.control.vhostuser.VhostUserProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A hostile vhost-user frontend (DESIGN.md, "Bad input"): malformed sizes, fds, memory tables, rings, unknown
 * requests, stalls, disconnects, and a seeded random-message fuzz. For every attack: the backend answers with an
 * error reply (REPLY_ACK) or closes the connection, counts it, leaks no fd, runs no queue pair on bad rings, and then
 * serves the next frontend normally (frames flow both ways). The control and dataplane threads must never die.
 */
class VhostUserHostileFrontendTest
{
    static final long FEATURES = VhostUserServerTest.FEATURES;
    private static final int EXPECT_CLOSE_MS = 2000;
    private static final int MIB = 1 << 20;

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicReference<Throwable> controlFailure = new AtomicReference<>();
    private final AtomicReference<Throwable> dataplaneFailure = new AtomicReference<>();
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
            null);
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
        assertFalse(control.isAlive(), "control thread stuck (in a blocking socket call?)");
        server.close();
        nic.closeAndDelete();
        checkThreads();
        assertEquals(fdsBefore, Fds.openFdCount(), "no fd leaked");
    }

    // ---------------------------------------------------------------------------------------------------- 1. sizes

    @Test
    void payloadSizeNotMatchingTheRequestClosesTheConnection() throws Exception
    {
        final int[][] cases = {
            {VhostUserRequest.SET_FEATURES.code(), 4},
            {VhostUserRequest.SET_FEATURES.code(), 16},
            {VhostUserRequest.SET_VRING_ADDR.code(), 39},
            {VhostUserRequest.SET_VRING_ADDR.code(), 41},
            {VhostUserRequest.SET_VRING_NUM.code(), 0},
            {VhostUserRequest.SET_VRING_KICK.code(), 4},
            {VhostUserRequest.GET_FEATURES.code(), 8},
            {VhostUserRequest.SET_MEM_TABLE.code(), 4},
        };
        for (final int[] c : cases)
        {
            attack("request " + c[0] + " with " + c[1] + " payload bytes", frontend ->
            {
                frontend.negotiate(FEATURES);
                frontend.send(c[0], VERSION | FLAG_NEED_REPLY, new UnsafeBuffer(new byte[64]), c[1], null, 0);
                expectRefusedOrClosed(frontend, c[0]);
            });
        }
    }

    // ------------------------------------------------------------------------------------------ 2. oversize payload

    @Test
    void oversizePayloadIsNeitherAllocatedNorReadButCloses() throws Exception
    {
        for (final long size : new long[] {MIB, MAX_PAYLOAD + 1, 0xFFFF_FFFFL})
        {
            attack("payload size " + size, frontend ->
            {
                frontend.negotiate(FEATURES);
                final byte[] bytes = new byte[HEADER_LENGTH + 4096];
                final UnsafeBuffer header = new UnsafeBuffer(bytes);
                header.putInt(REQUEST_OFFSET, VhostUserRequest.SET_FEATURES.code());
                header.putInt(FLAGS_OFFSET, VERSION | FLAG_NEED_REPLY);
                header.putInt(SIZE_OFFSET, (int)size);
                final long start = System.nanoTime();
                frontend.sendRaw(bytes, bytes.length, null, 0);
                assertTrue(frontend.closedOrReset(EXPECT_CLOSE_MS), "closed");
                assertTrue(System.nanoTime() - start < 500_000_000L, "closed at once, without waiting for the bytes");
            });
        }
    }

    // ---------------------------------------------------------------------------------- 3. memory table structure

    @Test
    void memoryTableWithTooManyNoOrMiscountedRegionsCloses() throws Exception
    {
        attack("SET_MEM_TABLE with 9 regions", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            final int[] fds = new int[9];
            final long[][] regions = new long[9][];
            for (int i = 0; i < 9; i++)
            {
                fds[i] = Fds.memfdCreate("region" + i, MIB);
                regions[i] = new long[] {(long)i * MIB, MIB, 0x7000_0000_0000L + (long)i * MIB, 0};
            }
            try
            {
                frontend.sendMemTable(9, regions, -1, fds, 9);
            }
            finally
            {
                closeAll(fds);
            }
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        attack("SET_MEM_TABLE with 0 regions", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            frontend.sendMemTable(0, new long[0][], -1, null, 0);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        attack("SET_MEM_TABLE with nregions 2 in a payload of 1 region", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            final int fd = Fds.memfdCreate("region", MIB);
            try
            {
                frontend.sendMemTable(2, new long[][] {{0, MIB, 0x7000_0000_0000L, 0}}, -1, new int[] {fd, fd}, 2);
            }
            finally
            {
                Fds.closeQuietly(fd);
            }
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        attack("SET_MEM_TABLE with nregions 1 in a payload of 2 regions", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            final int fd = Fds.memfdCreate("region", MIB);
            try
            {
                frontend.sendMemTable(1, new long[][] {{0, MIB, 0x7000_0000_0000L, 0}, {MIB, MIB, 0, 0}}, -1,
                    new int[] {fd}, 1);
            }
            finally
            {
                Fds.closeQuietly(fd);
            }
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        attack("SET_MEM_TABLE with nregions 0x80000001", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            final int fd = Fds.memfdCreate("region", MIB);
            try
            {
                frontend.sendMemTable(0x8000_0001, new long[][] {{0, MIB, 0x7000_0000_0000L, 0}}, -1,
                    new int[] {fd}, 1);
            }
            finally
            {
                Fds.closeQuietly(fd);
            }
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
    }

    // ------------------------------------------------------------------------------- 4. regions larger than the fd

    @Test
    void regionLargerThanItsFdIsRefusedAndTheOldTableKept() throws Exception
    {
        final long[][][] cases = {
            {{0x4000_0000L, 2 * MIB, 0x7000_0000_0000L, 0}},        // size past the fd
            {{0x4000_0000L, MIB, 0x7000_0000_0000L, 4096}},         // mmap_offset + size past the fd
            {{0x4000_0000L, 4096, 0x7000_0000_0000L, 2 * MIB}},     // offset alone past the fd
            {{0x4000_0000L, 4096, 0x7000_0000_0000L, Long.MAX_VALUE - 100}}, // offset + size overflows
            {{0x4000_0000L, -4096, 0x7000_0000_0000L, 0}},          // size as u64 huge
            {{0x4000_0000L, 0, 0x7000_0000_0000L, 0}},              // empty
            {{0xFFFF_FFFF_FFFF_F000L, MIB, 0x7000_0000_0000L, 0}},  // guest range wraps
            {{0x4000_0000L, MIB, 0xFFFF_FFFF_FFFF_F000L, 0}},       // user range wraps
        };
        for (final long[][] regions : cases)
        {
            attackKeepingMemory("region " + Arrays.toString(regions[0]) + " over a 1 MiB memfd", frontend ->
            {
                final int fd = Fds.memfdCreate("region", MIB);
                try
                {
                    frontend.sendMemTable(1, regions, -1, new int[] {fd}, 1);
                }
                finally
                {
                    Fds.closeQuietly(fd);
                }
            });
        }
    }

    // ---------------------------------------------------------------------------------------- 5. overlapping regions

    @Test
    void overlappingRegionsAreRefusedAndTheOldTableKept() throws Exception
    {
        final long[][][] cases = {
            // Same guest range, same user range, two fds.
            {{0x4000_0000L, MIB, 0x7000_0000_0000L, 0}, {0x4000_0000L, MIB, 0x7000_0000_0000L, 0}},
            // Same guest range, different user ranges.
            {{0x4000_0000L, MIB, 0x7000_0000_0000L, 0}, {0x4000_0000L, MIB, 0x7100_0000_0000L, 0}},
            // Different guest ranges, overlapping user ranges.
            {{0x4000_0000L, MIB, 0x7000_0000_0000L, 0}, {0x5000_0000L, MIB, 0x7000_0008_0000L, 0}},
            // Guest ranges overlapping by one page.
            {{0x4000_0000L, MIB, 0x7000_0000_0000L, 0}, {0x4000_0000L + MIB - 4096, MIB, 0x7100_0000_0000L, 0}},
        };
        for (final long[][] regions : cases)
        {
            attackKeepingMemory("regions " + Arrays.deepToString(regions), frontend ->
            {
                final int[] fds = {Fds.memfdCreate("a", MIB), Fds.memfdCreate("b", MIB)};
                try
                {
                    frontend.sendMemTable(2, regions, -1, fds, 2);
                }
                finally
                {
                    closeAll(fds);
                }
            });
        }
    }

    // -------------------------------------------------------------------------------------------- 6. ring sizes

    @Test
    void ringSizeNotAPowerOfTwoOrTooLargeIsRefused() throws Exception
    {
        for (final int[] c : new int[][] {{0, 300}, {0, 65536}, {0, 0}, {1, -1}, {5, 256}, {-1, 256}})
        {
            attack("SET_VRING_NUM ring " + c[0] + " num " + c[1], frontend ->
            {
                frontend.negotiate(FEATURES);
                frontend.sendState(VhostUserRequest.SET_VRING_NUM, c[0], c[1]);
                final long reply = frontend.replyOrClosed(VhostUserRequest.SET_VRING_NUM.code());
                assertNotEquals(0, reply, "refused");
                if (reply != TestFrontend.CLOSED)
                {
                    // The rest of the ring setup: the pair must not run with the refused size.
                    completeRingsAfterRefusal(frontend, c[0]);
                }
            });
        }
    }

    // -------------------------------------------------------------------------------------------- 7. ring addresses

    @Test
    void ringAddressesOutsideEveryRegionOrMisalignedAreRefusedAndNoPairRuns() throws Exception
    {
        // Offsets from the start of the frontend's region: {desc, used, avail}, or absolute when ABSOLUTE is set.
        final long outside = 0x10_0000L;     // an aligned user address below the region
        final long size = 16L << 20;
        final Object[][] cases = {
            {"desc outside", new long[] {-outside, 0x8000, 0x4000}},
            {"used outside", new long[] {0, size + 4096, 0x4000}},
            {"avail outside", new long[] {0, 0x8000, size}},
            {"desc straddles the region's end", new long[] {size - 2048, 0x8000, 0x4000}},
            {"used u64 wraps", new long[] {0, Long.MIN_VALUE, 0x4000}},
            {"desc not 16-aligned", new long[] {8, 0x8000, 0x4000}},
            {"used not 4-aligned", new long[] {0, 0x8002, 0x4000}},
            {"avail not 2-aligned", new long[] {0, 0x8000, 0x4001}},
        };
        for (final Object[] c : cases)
        {
            final long[] offsets = (long[])c[1];
            attack("SET_VRING_ADDR " + c[0], frontend ->
            {
                frontend.negotiate(FEATURES);
                frontend.setupRing(0, 256, true);
                frontend.sendState(VhostUserRequest.SET_VRING_NUM, 1, 256);
                frontend.expectAck(VhostUserRequest.SET_VRING_NUM, 0);
                final long base = frontend.memory.address();
                frontend.sendVringAddr(1, base + offsets[0], base + offsets[1], base + offsets[2]);
                final long reply = frontend.replyOrClosed(VhostUserRequest.SET_VRING_ADDR.code());
                assertNotEquals(0, reply, c[0] + ": SET_VRING_ADDR must be refused");
                if (reply != TestFrontend.CLOSED)
                {
                    frontend.sendU64(VhostUserRequest.SET_VRING_KICK, 1 | VRING_NOFD, true);
                    frontend.replyOrClosed(VhostUserRequest.SET_VRING_KICK.code());
                    frontend.sendState(VhostUserRequest.SET_VRING_ENABLE, 1, 1);
                    frontend.replyOrClosed(VhostUserRequest.SET_VRING_ENABLE.code());
                    Thread.sleep(20);
                    assertEquals(0, agent.queuePairCount(), c[0] + ": no queue pair on a bad ring");
                }
            });
        }
    }

    // ------------------------------------------------------------------------------------------ 8. unknown requests

    @Test
    void unknownRequestClosesTheConnection() throws Exception
    {
        for (final int code : new int[] {99, 0, 63, 64, -1, 21})
        {
            attack("request code " + code, frontend ->
            {
                frontend.negotiate(FEATURES);
                frontend.send(code, VERSION | FLAG_NEED_REPLY, new UnsafeBuffer(new byte[8]), 8, null, 0);
                assertTrue(frontend.closedOrReset(EXPECT_CLOSE_MS), "closed");
            });
        }
        attack("bad version bits", frontend ->
        {
            frontend.negotiate(FEATURES);
            frontend.send(VhostUserRequest.GET_FEATURES.code(), 2, null, 0, null, 0);
            assertTrue(frontend.closedOrReset(EXPECT_CLOSE_MS), "closed");
        });
    }

    // -------------------------------------------------------------------------------------------- 9. missing fds

    @Test
    void missingFdsAreRefusedOrClose() throws Exception
    {
        attack("SET_MEM_TABLE with 1 region and 0 fds", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            frontend.sendMemTable(1, new long[][] {{TestFrontend.GUEST_BASE, frontend.memory.length(),
                frontend.memory.address(), 0}}, -1, null, 0);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        for (final VhostUserRequest request : new VhostUserRequest[] {VhostUserRequest.SET_VRING_KICK,
            VhostUserRequest.SET_VRING_CALL, VhostUserRequest.SET_VRING_ERR})
        {
            attack(request + " without NOFD and without an fd", frontend ->
            {
                frontend.negotiate(FEATURES);
                frontend.sendU64(request, 0, true);
                expectRefusedOrClosed(frontend, request.code());
            });
        }
    }

    // ---------------------------------------------------------------------------------------------- 10. extra fds

    @Test
    void extraFdsAreClosed() throws Exception
    {
        attack("SET_FEATURES carrying 2 fds", frontend ->
        {
            frontend.negotiate(FEATURES);
            sendWithFds(frontend, VhostUserRequest.SET_FEATURES, FEATURES | F_PROTOCOL_FEATURES, 2);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_FEATURES.code());
        });
        attack("GET_FEATURES (no payload) carrying 3 fds", frontend ->
        {
            frontend.negotiate(FEATURES);
            final EventFd[] events = {EventFd.create(), EventFd.create(), EventFd.create()};
            try
            {
                frontend.send(VhostUserRequest.GET_FEATURES.code(), VERSION, null, 0,
                    new int[] {events[0].fd(), events[1].fd(), events[2].fd()}, 3);
            }
            finally
            {
                for (final EventFd event : events)
                {
                    event.close();
                }
            }
            final long reply = frontend.replyOrClosed(VhostUserRequest.GET_FEATURES.code());
            assertEquals(TestFrontend.CLOSED, reply, "fds on a request that takes none close the connection");
        });
        attack("SET_VRING_KICK with NOFD and an fd", frontend ->
        {
            frontend.negotiate(FEATURES);
            sendWithFds(frontend, VhostUserRequest.SET_VRING_KICK, VRING_NOFD, 1);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_VRING_KICK.code());
        });
        attack("SET_VRING_CALL with 2 fds", frontend ->
        {
            frontend.negotiate(FEATURES);
            sendWithFds(frontend, VhostUserRequest.SET_VRING_CALL, 0, 2);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_VRING_CALL.code());
        });
        attack("SET_MEM_TABLE with 1 region and 2 fds", frontend ->
        {
            frontend.negotiateFeatures(FEATURES);
            final int extra = Fds.memfdCreate("extra", MIB);
            try
            {
                frontend.sendMemTable(1, new long[][] {{TestFrontend.GUEST_BASE, frontend.memory.length(),
                    frontend.memory.address(), 0}}, -1, new int[] {frontend.memfd, extra}, 2);
            }
            finally
            {
                Fds.closeQuietly(extra);
            }
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_MEM_TABLE.code());
        });
        attack("SET_FEATURES carrying the most fds a message may carry", frontend ->
        {
            frontend.negotiate(FEATURES);
            sendWithFds(frontend, VhostUserRequest.SET_FEATURES, FEATURES | F_PROTOCOL_FEATURES,
                io.pagewire.dataplane.os.UnixSocket.MAX_FDS);
            expectRefusedOrClosed(frontend, VhostUserRequest.SET_FEATURES.code());
        });
        // A refused request that keeps the connection: its fds must be closed while the connection stays.
        final long problemsBefore = problems();
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            final int fdsConnected = Fds.openFdCount();
            sendWithFds(frontend, VhostUserRequest.SET_LOG_BASE, 0, 2);
            final long reply = frontend.replyOrClosed(VhostUserRequest.SET_LOG_BASE.code());
            assertNotEquals(0, reply, "SET_LOG_BASE refused");
            if (reply != TestFrontend.CLOSED)
            {
                awaitFds(fdsConnected, "SET_LOG_BASE's fds closed while the connection stays");
                assertNotEquals(-1, frontend.get(VhostUserRequest.GET_FEATURES), "connection still serves");
            }
        }
        afterAttack("SET_LOG_BASE with 2 fds", problemsBefore, fds0, true);
        servesAWellBehavedFrontend();
    }

    @Test
    void vringCallOrErrWithAnFdThatIsNotAnEventFdIsRefused() throws Exception
    {
        for (final VhostUserRequest request : new VhostUserRequest[] {VhostUserRequest.SET_VRING_CALL,
            VhostUserRequest.SET_VRING_ERR})
        {
            attack(request + " with a memfd", frontend ->
            {
                frontend.negotiate(FEATURES);
                final int fd = Fds.memfdCreate("not-an-eventfd", 4096);
                try
                {
                    frontend.send(request.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8, new int[] {fd}, 1);
                }
                finally
                {
                    Fds.closeQuietly(fd);
                }
                expectRefusedOrClosed(frontend, request.code());
            });
        }
        // With the pair running: the refusal must not leave a closed call eventfd for the dataplane to signal.
        attack("SET_VRING_CALL with a memfd while the pair runs", frontend ->
        {
            frontend.negotiate(FEATURES);
            final EventFd call = EventFd.create();
            try
            {
                frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                    new int[] {call.fd()}, 1);
                frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
                final DriverVirtqueue rx = frontend.setupRing(0, 256, false);
                final DriverVirtqueue tx = frontend.setupRing(1, 256, false);
                await(() -> agent.queuePairCount() == 1, "the pair to run");
                final int fd = Fds.memfdCreate("not-an-eventfd", 4096);
                try
                {
                    frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                        new int[] {fd}, 1);
                }
                finally
                {
                    Fds.closeQuietly(fd);
                }
                final long reply = frontend.replyOrClosed(VhostUserRequest.SET_VRING_CALL.code());
                assertNotEquals(0, reply, "refused");
                if (reply != TestFrontend.CLOSED)
                {
                    // Traffic that makes the device notify ring 0.
                    exchangeFrames(frontend, rx, tx, 7);
                }
            }
            finally
            {
                call.close();
            }
        });
    }

    // --------------------------------------------------------------------------------------------- 11. resets

    @Test
    void afterResetOwnerOrResetDeviceANewNegotiationRunsTheQueuesAgain() throws Exception
    {
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            runPairAndExchange(frontend, 1);
            for (final VhostUserRequest reset : new VhostUserRequest[] {VhostUserRequest.RESET_OWNER,
                VhostUserRequest.RESET_DEVICE, VhostUserRequest.RESET_OWNER})
            {
                frontend.send(reset.code(), VERSION | FLAG_NEED_REPLY, null, 0, null, 0);
                frontend.expectAck(reset, 0);
                await(() -> agent.queuePairCount() == 0, "the pair to stop at " + reset);

                // Rings set up again without features: nothing may run (features were reset). Protocol features
                // are sent again first, in case a reset forgets them too (DPDK's does).
                frontend.sendU64(VhostUserRequest.SET_PROTOCOL_FEATURES, PROTOCOL_F_REPLY_ACK | PROTOCOL_F_MQ, false);
                frontend.setupRing(0, 256, true);
                frontend.setupRing(1, 256, true);
                Thread.sleep(20);
                assertEquals(0, agent.queuePairCount(), "no pair runs before features are negotiated again");

                // The messages of a new negotiation are accepted on the same connection, and a pair runs again.
                frontend.negotiate(FEATURES);
                runPairAndExchange(frontend, 2);
                assertEquals(1, backend.mappingCount(), "the new table replaced the old one");
            }
            // A reset in the middle of ring setup, and ring messages right after it.
            frontend.setupRing(0, 256, true);
            frontend.send(VhostUserRequest.RESET_DEVICE.code(), VERSION | FLAG_NEED_REPLY, null, 0, null, 0);
            frontend.expectAck(VhostUserRequest.RESET_DEVICE, 0);
            frontend.sendState(VhostUserRequest.GET_VRING_BASE, 0, 0);
            assertEquals(0, frontend.readReply(VhostUserRequest.GET_VRING_BASE.code()), "base reset to 0");
        }
        awaitDisconnected();
        awaitFds(fds0, "after the reset frontend left");
        assertEquals(0, backend.mappingCount());
        assertEquals(0, agent.queuePairCount());
        servesAWellBehavedFrontend();
    }

    // -------------------------------------------------------------------------------------------------- 12. stalls

    @Test
    void frontendThatStallsMidMessageIsClosedAndTheNextServed() throws Exception
    {
        final byte[] setFeatures = new byte[HEADER_LENGTH + 8];
        final UnsafeBuffer header = new UnsafeBuffer(setFeatures);
        header.putInt(REQUEST_OFFSET, VhostUserRequest.SET_FEATURES.code());
        header.putInt(FLAGS_OFFSET, VERSION | FLAG_NEED_REPLY);
        header.putInt(SIZE_OFFSET, 8);
        final int[][] cases = {{6, 0}, {1, 0}, {11, 0}, {HEADER_LENGTH, 0}, {HEADER_LENGTH + 3, 0}, {6, 2},
            {HEADER_LENGTH + 3, 1}};
        for (final int[] c : cases)
        {
            final int length = c[0];
            final int fdCount = c[1];
            attack(length + " of " + setFeatures.length + " bytes with " + fdCount + " fds, then a stall",
                frontend ->
                {
                    frontend.negotiate(FEATURES);
                    final EventFd[] events = new EventFd[fdCount];
                    final int[] fds = new int[fdCount];
                    for (int i = 0; i < fdCount; i++)
                    {
                        events[i] = EventFd.create();
                        fds[i] = events[i].fd();
                    }
                    final long start = System.nanoTime();
                    frontend.sendRaw(setFeatures, length, fds, fdCount);
                    for (final EventFd event : events)
                    {
                        event.close();
                    }
                    assertTrue(frontend.closedOrReset(2500), "a stalled frontend is closed");
                    final long ms = (System.nanoTime() - start) / 1_000_000;
                    assertTrue(ms < 2500, "closed after " + ms + " ms");
                });
        }
    }

    @Test
    void frontendThatDiesMidMessageWithFdsLeaksNothing() throws Exception
    {
        final byte[] setMemTable = new byte[HEADER_LENGTH + 8 + MEM_REGION_SIZE];
        final UnsafeBuffer header = new UnsafeBuffer(setMemTable);
        header.putInt(REQUEST_OFFSET, VhostUserRequest.SET_MEM_TABLE.code());
        header.putInt(FLAGS_OFFSET, VERSION | FLAG_NEED_REPLY);
        header.putInt(SIZE_OFFSET, 8 + MEM_REGION_SIZE);
        header.putInt(HEADER_LENGTH, 1);
        for (final int length : new int[] {HEADER_LENGTH + 20, HEADER_LENGTH, 6})
        {
            attack(length + " bytes of SET_MEM_TABLE with its fd, then gone", frontend ->
            {
                frontend.negotiateFeatures(FEATURES);
                frontend.sendRaw(setMemTable, length, new int[] {frontend.memfd}, 1);
                // The frontend closes here (attack's try-with-resources).
            });
        }
    }

    /**
     * A stall on the other side: the frontend stops reading replies. Once the socket's send buffer is full of them, a
     * reply does not fit: VhostUserServer sends replies without waiting ({@code MSG_DONTWAIT}), so the control thread
     * never blocks there, and a frontend whose reply cannot be written whole is closed (and counted).
     */
    @Test
    void frontendThatNeverReadsItsRepliesIsClosed() throws Exception
    {
        final long problemsBefore = problems();
        final int fds0 = Fds.openFdCount();
        final AtomicBoolean stop = new AtomicBoolean();
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            // Requests that each want a reply, sent without ever reading one, until the socket pushes back.
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
                    // The backend closed, or we shut down.
                }
            });
            final long start = System.nanoTime();
            final long deadline = start + 3_000_000_000L;
            while (server.disconnects() < frontends && System.nanoTime() - deadline < 0)
            {
                Thread.sleep(5);
            }
            final boolean closed = server.disconnects() >= frontends;
            final long ms = (System.nanoTime() - start) / 1_000_000;
            stop.set(true);
            frontend.socket.shutdown();
            flood.join(5000);
            assertFalse(flood.isAlive(), "flood thread stuck");
            checkThreads();
            assertTrue(closed, "a frontend that stopped reading replies was not closed within " + ms + " ms: " +
                "the control thread is blocked in sendmsg");
        }
        afterAttack("a frontend that never reads replies", problemsBefore, fds0, true);
        servesAWellBehavedFrontend();
    }

    // ---------------------------------------------------------------------------------- 13. disconnect mid-traffic

    @Test
    void frontendThatDisconnectsMidTrafficLeavesNothingBehind() throws Exception
    {
        final int fds0 = Fds.openFdCount();
        final AtomicBoolean produce = new AtomicBoolean(true);
        final Thread producer;
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            final EventFd[] events = {EventFd.create(), EventFd.create(), EventFd.create()};
            final DriverVirtqueue rx;
            final DriverVirtqueue tx;
            try
            {
                // Call, err and kick eventfds on the rings too, so that fds are held at disconnect.
                frontend.send(VhostUserRequest.SET_VRING_CALL.code(), VERSION | FLAG_NEED_REPLY, u64(0), 8,
                    new int[] {events[0].fd()}, 1);
                frontend.expectAck(VhostUserRequest.SET_VRING_CALL, 0);
                frontend.send(VhostUserRequest.SET_VRING_ERR.code(), VERSION | FLAG_NEED_REPLY, u64(1), 8,
                    new int[] {events[1].fd()}, 1);
                frontend.expectAck(VhostUserRequest.SET_VRING_ERR, 0);
                rx = frontend.setupRing(0, 256, true);
                tx = frontend.setupRing(1, 256, true);
                frontend.send(VhostUserRequest.SET_VRING_KICK.code(), VERSION | FLAG_NEED_REPLY, u64(1), 8,
                    new int[] {events[2].fd()}, 1);
                frontend.expectAck(VhostUserRequest.SET_VRING_KICK, 0);
            }
            finally
            {
                for (final EventFd event : events)
                {
                    event.close();
                }
            }
            await(() -> agent.queuePairCount() == 1, "the pair to run");
            assertEquals(1, backend.mappingCount());

            // Frames keep coming from the NIC while the guest has buffers posted.
            producer = Thread.ofPlatform().name("test-producer").start(() ->
            {
                while (produce.get())
                {
                    final long slot = nic.rxRing().claim(1000);
                    if (slot != 0)
                    {
                        nic.rxRing().commit(1000);
                    }
                    else
                    {
                        Thread.onSpinWait();
                    }
                }
            });
            for (int i = 0; i < 128; i++)
            {
                rx.addBuffer(frontend.allocate(2048, 64), 2048, true);
                tx.addBuffer(frontend.allocate(200, 64), 200, false);
            }
            rx.publishAvail();
            tx.publishAvail();
            await(() -> rx.usedAvailable() > 0 && tx.usedAvailable() > 0, "frames to flow both ways");
            // The frontend vanishes with the queues busy (try-with-resources closes socket and memory).
        }
        awaitDisconnected();
        produce.set(false);
        producer.join();
        assertEquals(0, agent.queuePairCount(), "queues stopped");
        assertEquals(0, backend.mappingCount(), "memory unmapped");
        awaitFds(fds0, "fds closed at disconnect");
        checkThreads();
        servesAWellBehavedFrontend();
    }

    // -------------------------------------------------------------------------------------------------------- fuzz

    private static final VhostUserRequest[] REQUESTS = VhostUserRequest.values();

    /**
     * 2,000 random messages: request codes mostly known ones (some unknown), sizes mostly right (some random up to
     * 512), payloads random but often plausible (small ring indices, sizes around the limits, addresses in and around
     * the frontend's memory), random memfds and eventfds. In lockstep (a GET_QUEUE_NUM round trip after each), so
     * that every message is handled before the next and a closed connection is noticed at once.
     */
    @Test
    void seededRandomMessagesNeverBreakTheServer() throws Exception
    {
        final long seed = Long.getLong("pagewire.fuzz.seed", 20_251_014L);
        final Random random = new Random(seed);
        final int fds0 = Fds.openFdCount();
        final long problemsBefore = problems();
        final long ranBefore = agent.commandsApplied();
        int sent = 0;
        int connections = 0;
        int closedByBackend = 0;
        while (sent < 2000)
        {
            connections++;
            try (TestFrontend frontend = connect(1L << 20))
            {
                final int mode = random.nextInt(4);
                if (mode >= 1)
                {
                    frontend.negotiate(FEATURES);
                }
                if (mode == 3)
                {
                    frontend.setupRing(0, 64, random.nextBoolean());
                    frontend.setupRing(1, 64, random.nextBoolean());
                }
                final int messages = 1 + random.nextInt(80);
                for (int i = 0; i < messages && sent < 2000; i++)
                {
                    sent++;
                    final boolean honest;
                    try
                    {
                        honest = sendRandomMessage(frontend, random);
                    }
                    catch (final OsException e)
                    {
                        closedByBackend++;
                        break; // EPIPE/ECONNRESET: the backend closed the connection
                    }
                    if (!honest)
                    {
                        break; // the stream is out of step: leave (the backend may be waiting for payload)
                    }
                    if (!frontend.sync())
                    {
                        closedByBackend++;
                        break;
                    }
                    checkThreads();
                }
            }
            catch (final AssertionError e)
            {
                final String where = "seed " + seed + ", connection " + connections + ", message " + sent;
                if (failure() != null)
                {
                    fail(where + ": a thread died", failure());
                }
                throw new AssertionError(where + ": " + e.getMessage(), e);
            }
            awaitDisconnected();
            checkThreads();
            assertEquals(0, agent.queuePairCount(), "seed " + seed + ": no pair left after connection " + connections);
        }
        System.err.println("fuzz: seed " + seed + ", " + sent + " messages over " + connections + " connections (" +
            closedByBackend + " closed by the backend), " + (problems() - problemsBefore) + " problems counted, " +
            (agent.commandsApplied() - ranBefore) + " dataplane commands");
        assertTrue(problems() > problemsBefore, "random messages are refused");
        awaitFds(fds0, "seed " + seed + ": no fd leaked by the fuzz");
        assertEquals(0, backend.mappingCount());
        servesAWellBehavedFrontend();
    }

    /** @return false when the message's size field lied about the bytes sent. */
    private boolean sendRandomMessage(final TestFrontend frontend, final Random random)
    {
        final int codeKind = random.nextInt(40);
        final VhostUserRequest request = REQUESTS[random.nextInt(REQUESTS.length)];
        final int code = codeKind < 38 ? request.code() : codeKind == 38 ? random.nextInt(64) : random.nextInt();
        final boolean known = request.code() == code;
        final int flags = random.nextInt(50) == 0 ? random.nextInt() :
            VERSION | (random.nextBoolean() ? FLAG_NEED_REPLY : 0);
        final int size;
        if (!known || random.nextInt(16) == 0)
        {
            size = random.nextInt(513);
        }
        else if (request == VhostUserRequest.SET_MEM_TABLE)
        {
            size = 8 + MEM_REGION_SIZE * (random.nextInt(4) == 0 ? random.nextInt(10) : 1 + random.nextInt(2));
        }
        else
        {
            size = request.payloadSize() >= 0 ? request.payloadSize() : random.nextInt(513);
        }
        final byte[] bytes = new byte[Math.max(size, 64)]; // room for any structured payload; size bytes are sent
        random.nextBytes(bytes);
        final UnsafeBuffer payload = new UnsafeBuffer(bytes);
        if (known && random.nextInt(4) != 0)
        {
            structure(request, payload, size, frontend, random);
        }
        final int fdCount;
        if (known && request == VhostUserRequest.SET_MEM_TABLE && size >= 8)
        {
            final int regions = payload.getInt(0);
            fdCount = random.nextInt(6) != 0 && regions >= 0 && regions <= 8 ? regions : random.nextInt(10);
        }
        else if (known && (request.fdCount() == -1) && size >= 8)
        {
            fdCount = random.nextInt(6) != 0 ? ((payload.getLong(0) & VRING_NOFD) != 0 ? 0 : 1) : random.nextInt(3);
        }
        else
        {
            fdCount = random.nextInt(30) == 0 ? 1 + random.nextInt(3) : 0;
        }
        final int[] fds = new int[fdCount];
        try
        {
            for (int i = 0; i < fdCount; i++)
            {
                fds[i] = random.nextBoolean() ? Fds.memfdCreate("fuzz", 4096L * (1 + random.nextInt(256))) :
                    eventFd();
            }
            if (random.nextInt(100) == 0)
            {
                // A header whose size field lies about the bytes that follow.
                final byte[] raw = new byte[HEADER_LENGTH + size];
                final UnsafeBuffer header = new UnsafeBuffer(raw);
                header.putInt(REQUEST_OFFSET, code);
                header.putInt(FLAGS_OFFSET, flags);
                header.putInt(SIZE_OFFSET, random.nextInt(600));
                header.putBytes(HEADER_LENGTH, bytes, 0, size);
                frontend.sendRaw(raw, raw.length, fds, fdCount);
                return false;
            }
            frontend.send(code, flags, payload, size, fds, fdCount);
            return true;
        }
        finally
        {
            closeAll(fds);
        }
    }

    private static int eventFd()
    {
        // The fd number stays open: the EventFd object is dropped without close, and the fd closed by number.
        return EventFd.create().fd();
    }

    /** Makes a random payload plausible enough to get past the first checks. */
    private static void structure(
        final VhostUserRequest request, final UnsafeBuffer payload, final int size, final TestFrontend frontend,
        final Random random)
    {
        final long base = frontend.memory.address();
        final long memorySize = frontend.memory.length();
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
                for (int i = 0; i < 3; i++)
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
                for (int i = 0; i < regions && 8 + (i + 1) * MEM_REGION_SIZE <= size; i++)
                {
                    final int offset = 8 + i * MEM_REGION_SIZE;
                    payload.putLong(offset, TestFrontend.GUEST_BASE + (long)random.nextInt(4) * memorySize);
                    payload.putLong(offset + 8, 4096L * random.nextInt(260));
                    payload.putLong(offset + 16, base + (long)random.nextInt(4) * memorySize);
                    payload.putLong(offset + 24, 4096L * random.nextInt(4));
                }
            }
            default ->
            {
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------- helpers

    @FunctionalInterface
    interface Attack
    {
        void run(TestFrontend frontend) throws Exception;
    }

    /**
     * Runs an attack from a fresh frontend, which then closes; checks the aftermath and that the next frontend is
     * served normally.
     */
    private void attack(final String what, final Attack attack) throws Exception
    {
        assertEquals(0, agent.queuePairCount(), what + ": no pair before the attack");
        final long problemsBefore = problems();
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect())
        {
            attack.run(frontend);
        }
        catch (final AssertionError e)
        {
            throw new AssertionError(what + ": " + e.getMessage(), e);
        }
        afterAttack(what, problemsBefore, fds0, true);
        servesAWellBehavedFrontend();
    }

    /**
     * An attack on the memory table by a frontend that already has a good one: the bad table is refused (error
     * reply) or closes the connection; if refused, the good table stays and a queue pair still runs on it.
     */
    private void attackKeepingMemory(final String what, final Attack badTable) throws Exception
    {
        attack(what, frontend ->
        {
            frontend.negotiate(FEATURES);
            assertEquals(1, backend.mappingCount());
            badTable.run(frontend);
            final long reply = frontend.replyOrClosed(VhostUserRequest.SET_MEM_TABLE.code());
            assertNotEquals(0, reply, "SET_MEM_TABLE refused");
            if (reply != TestFrontend.CLOSED)
            {
                assertEquals(1, backend.mappingCount(), "the refused table left nothing mapped");
                runPairAndExchange(frontend, 3);
            }
        });
    }

    private void afterAttack(final String what, final long problemsBefore, final int fds0, final boolean counted)
        throws InterruptedException
    {
        awaitDisconnected();
        awaitFds(fds0, what + ": every fd closed after the frontend left");
        assertEquals(0, backend.mappingCount(), what + ": memory unmapped");
        assertEquals(0, agent.queuePairCount(), what + ": no queue pair left running");
        if (counted)
        {
            await(() -> problems() > problemsBefore, what + ": the bad input counted");
        }
        checkThreads();
    }

    /** The pair's two rings after a refused SET_VRING_NUM: whatever else is set up, no pair may run. */
    private void completeRingsAfterRefusal(final TestFrontend frontend, final int ring) throws InterruptedException
    {
        if (ring == 0 || ring == 1)
        {
            final int other = 1 - ring;
            frontend.setupRing(other, 256, true);
            final long desc = frontend.allocate(SplitRingLayout.descTableLength(256), 16);
            final long avail = frontend.allocate(SplitRingLayout.availRingLength(256), 2);
            final long used = frontend.allocate(SplitRingLayout.usedRingLength(256), 4);
            frontend.sendVringAddr(ring, frontend.userAddress(desc), frontend.userAddress(used),
                frontend.userAddress(avail));
            frontend.replyOrClosed(VhostUserRequest.SET_VRING_ADDR.code());
            frontend.sendU64(VhostUserRequest.SET_VRING_KICK, ring | VRING_NOFD, true);
            frontend.replyOrClosed(VhostUserRequest.SET_VRING_KICK.code());
            frontend.sendState(VhostUserRequest.SET_VRING_ENABLE, ring, 1);
            frontend.replyOrClosed(VhostUserRequest.SET_VRING_ENABLE.code());
            Thread.sleep(20);
            assertEquals(0, agent.queuePairCount(), "no queue pair with a refused ring size");
        }
    }

    private static void expectRefusedOrClosed(final TestFrontend frontend, final int code)
    {
        final long reply = frontend.replyOrClosed(code);
        assertNotEquals(0, reply, "an error reply (REPLY_ACK != 0) or a closed connection");
    }

    private static void sendWithFds(
        final TestFrontend frontend, final VhostUserRequest request, final long value, final int count)
    {
        final int[] fds = new int[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                fds[i] = eventFd();
            }
            frontend.send(request.code(), VERSION | FLAG_NEED_REPLY, u64(value), 8, fds, count);
        }
        finally
        {
            closeAll(fds);
        }
    }

    private static UnsafeBuffer u64(final long value)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        buffer.putLong(0, value);
        return buffer;
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

    private TestFrontend connect()
    {
        return connect(16L << 20);
    }

    private TestFrontend connect(final long memorySize)
    {
        final TestFrontend frontend = TestFrontend.connect(socketPath, memorySize);
        frontends++;
        return frontend;
    }

    private long problems()
    {
        return backend.errors() + server.protocolErrors();
    }

    /** A fresh, well-behaved frontend: negotiates, runs a queue pair, frames flow both ways; then leaves cleanly. */
    private void servesAWellBehavedFrontend() throws Exception
    {
        assertEquals(0, agent.queuePairCount());
        // Frames a previous frontend left on the NIC (no pair runs now, so the test may consume them).
        while (nic.rxAvailable() > 0)
        {
            nic.rxRelease(nic.rxAvailable());
        }
        while (nic.txRing().available() > 0)
        {
            nic.txRing().release(nic.txRing().available());
        }
        final int fds0 = Fds.openFdCount();
        try (TestFrontend frontend = connect())
        {
            frontend.negotiate(FEATURES);
            runPairAndExchange(frontend, 11);
        }
        awaitDisconnected();
        awaitFds(fds0, "a well-behaved frontend leaves no fd");
        assertEquals(0, backend.mappingCount());
        assertEquals(0, agent.queuePairCount());
    }

    private void runPairAndExchange(final TestFrontend frontend, final int seed) throws Exception
    {
        final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
        final DriverVirtqueue tx = frontend.setupRing(1, 256, true);
        await(() -> agent.queuePairCount() == 1, "the queue pair to run");
        exchangeFrames(frontend, rx, tx, seed);
    }

    /** One frame NIC → guest and one guest → NIC, each checked byte for byte. */
    private void exchangeFrames(final TestFrontend frontend, final DriverVirtqueue rx, final DriverVirtqueue tx,
        final int seed) throws Exception
    {
        final long[] byHead = new long[rx.size()];
        for (int i = 0; i < 8; i++)
        {
            final long buffer = frontend.allocate(4096, 64);
            byHead[rx.addBuffer(buffer, 4096, true)] = buffer;
        }
        rx.publishAvail();
        final byte[] frame = new byte[64 + seed];
        new Random(seed).nextBytes(frame);
        final long slot = nic.rxRing().claim(frame.length);
        assertNotEquals(0, slot, "NIC ring has room");
        new UnsafeBuffer(slot, frame.length).putBytes(0, frame);
        nic.rxRing().commit(frame.length);
        await(() -> rx.usedAvailable() == 1, "the frame in the used ring");
        assertEquals(12 + frame.length, rx.usedLength(0));
        final byte[] received = new byte[12 + frame.length];
        new UnsafeBuffer(frontend.userAddress(byHead[rx.usedId(0)]), received.length).getBytes(0, received);
        assertEquals(1, received[VirtioNetHeader.NUM_BUFFERS_OFFSET], "num_buffers");
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
        assertEquals(out.length - 12, nic.txRing().frameLength(0));
        final byte[] wire = new byte[out.length - 12];
        new UnsafeBuffer(nic.txRing().frameAddress(0), wire.length).getBytes(0, wire);
        assertArrayEquals(Arrays.copyOfRange(out, 12, out.length), wire, "frame reached the NIC");
        nic.txRing().release(1);
        await(() -> tx.usedAvailable() == 1, "the TX buffer back");
        tx.releaseUsed(1);
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
        final long deadline = System.nanoTime() + 5_000_000_000L;
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

    private Throwable failure()
    {
        return controlFailure.get() != null ? controlFailure.get() : dataplaneFailure.get();
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
}
