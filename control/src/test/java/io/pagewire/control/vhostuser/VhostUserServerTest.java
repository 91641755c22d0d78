package io.pagewire.control.vhostuser;

import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The vhost-user backend against a frontend over a real socket: the control thread serves the socket, the dataplane
 * runs its duty cycle, the test is the frontend (and its driver).
 */
class VhostUserServerTest
{
    static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask() |
        FeatureBit.EVENT_IDX.mask() | FeatureBit.INDIRECT_DESC.mask();

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
    void framesFlowBothWaysThroughAFrontendsSharedMemory() throws Exception
    {
        try (TestFrontend frontend = TestFrontend.connect(temp.resolve("vhost.sock")))
        {
            frontend.negotiate(FEATURES);
            final DriverVirtqueue rx = frontend.setupRing(0, 256, true);
            final DriverVirtqueue tx = frontend.setupRing(1, 256, true);
            await(() -> agent.queuePairCount() == 1, "the queue pair to run");

            // NIC -> guest: page buffers posted by the frontend's driver.
            final long[] buffers = new long[64];
            for (int i = 0; i < buffers.length; i++)
            {
                buffers[i] = frontend.allocate(4096, 64);
                rx.addBuffer(buffers[i], 4096, true);
            }
            rx.publishAvail();
            final byte[] frame = new byte[1514];
            new java.util.Random(1).nextBytes(frame);
            final long slot = nic.rxRing().claim(frame.length);
            new UnsafeBuffer(slot, frame.length).putBytes(0, frame);
            nic.rxRing().commit(frame.length);
            await(() -> rx.usedAvailable() == 1, "the frame in the used ring");
            final int id = rx.usedId(0);
            assertEquals(12 + frame.length, rx.usedLength(0));
            final byte[] received = new byte[12 + frame.length];
            // Descriptors were taken in order from a fresh free list: head id i is buffers[i].
            new UnsafeBuffer(frontend.userAddress(buffers[id]), received.length).getBytes(0, received);
            assertEquals(1, received[VirtioNetHeader.NUM_BUFFERS_OFFSET], "num_buffers");
            assertArrayEquals(frame, java.util.Arrays.copyOfRange(received, 12, received.length));

            // guest -> NIC.
            final long txBuffer = frontend.allocate(12 + 100, 64);
            final byte[] out = new byte[12 + 100];
            for (int i = 12; i < out.length; i++)
            {
                out[i] = (byte)i;
            }
            new UnsafeBuffer(frontend.userAddress(txBuffer), out.length).putBytes(0, out);
            tx.addBuffer(txBuffer, out.length, false);
            tx.publishAvail();
            await(() -> nic.txRing().available() == 1, "the frame on the NIC");
            assertEquals(100, nic.txRing().frameLength(0));
            final byte[] wire = new byte[100];
            new UnsafeBuffer(nic.txRing().frameAddress(0), 100).getBytes(0, wire);
            assertArrayEquals(java.util.Arrays.copyOfRange(out, 12, out.length), wire);
            nic.txRing().release(1);
            await(() -> tx.usedAvailable() == 1, "the TX buffer back");

            // GET_VRING_BASE stops the ring and says where it stopped.
            frontend.sendState(VhostUserRequest.GET_VRING_BASE, 0, 0);
            assertEquals(1, frontend.readReply(VhostUserRequest.GET_VRING_BASE.code()));
            await(() -> agent.queuePairCount() == 0, "the queue pair to stop");
            final QueuePair pair = server.backend().lastDetached();
            assertEquals(1, pair.rxPackets());
            assertEquals(1, pair.reader().sentFrames());
        }
        await(() -> !server.isConnected(), "the server to notice the disconnect");
        assertEquals(0, server.backend().mappingCount(), "memory unmapped at disconnect");
    }
}
