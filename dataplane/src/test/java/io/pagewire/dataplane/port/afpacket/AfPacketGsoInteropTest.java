package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.fixture.TcpFrames;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernel's own GSO frames, end to end: a TCP sender in a network namespace writes through a veth whose offloads
 * are on, so the frames the host end receives are TSO frames of up to 64 KiB with partial checksums. An AF_PACKET port
 * with vnet_hdr on the host end feeds a real queue pair, attached to a dataplane agent through the command ring (the
 * way control attaches it, so the port learns the features there), writing into a mergeable receive queue in fake
 * guest memory that the test reaps as a driver.
 * <ul>
 *   <li>With GUEST_CSUM and GUEST_TSO4 negotiated, frames longer than the MTU arrive whole with the header the
 *       device must write (NEEDS_CSUM at the TCP checksum, GSO_TCPV4, gso_size, hdr_len = the headers' length).</li>
 *   <li>Without them, every frame is at most 1514 bytes with a complete, valid TCP checksum and a zero header.</li>
 * </ul>
 * Either way every payload byte the guest receives is the byte the sender wrote at that stream offset.
 */
@Tag("interop")
class AfPacketGsoInteropTest
{
    private static final int QUEUE_SIZE = 256;
    private static final int BUFFER_SIZE = 4096;
    private static final long STREAM_BYTES = 16L << 20;

    private static byte streamByte(final long offset)
    {
        return (byte)(offset % 251);
    }

    @ParameterizedTest(name = "guest offloads={0}")
    @ValueSource(booleans = {true, false})
    void kernelGsoFramesReachTheGuestWholeOrSegmented(final boolean offloads) throws Exception
    {
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final String subnet = "10." + random.nextInt(100, 200) + "." + random.nextInt(0, 256) + ".";
        try (VethPair veth = VethPair.create(true, true))
        {
            VethPair.run("ip", "addr", "add", subnet + "1/24", "dev", veth.hostEnd());
            veth.inNamespace("ip", "addr", "add", subnet + "2/24", "dev", veth.peerEnd());
            try (AfPacketNicPort port = AfPacketNicPort.open(
                    AfPacketNicPortTest.config(veth.hostEnd(), 1 << 16, 64, 2048, true), null);
                FakeGuestMemory guest = FakeGuestMemory.ofSize(32L << 20);
                ServerSocket server = new ServerSocket())
            {
                assertTrue(port.describe().contains("x " + AfPacketNicPort.VNET_HDR_MIN_BLOCK_SIZE + " B blocks"),
                    "vnet_hdr grows 64 KiB blocks so a GSO frame fits: " + port.describe());
                server.bind(new InetSocketAddress(subnet + "1", 0));
                final Guest driver = new Guest(guest, offloads, port);
                final AtomicLong received = new AtomicLong();
                final Thread receiver = Thread.ofPlatform().start(() -> drain(server, received));
                final Socket client = NetworkNamespace.call(veth.namespace(),
                    () -> new Socket(subnet + "1", server.getLocalPort()));
                final Thread sender = Thread.ofPlatform().start(() -> send(client));
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                long quietUntil = Long.MAX_VALUE;
                while (System.nanoTime() < quietUntil && System.nanoTime() - deadline < 0)
                {
                    driver.poll();
                    if (quietUntil == Long.MAX_VALUE && received.get() == STREAM_BYTES)
                    {
                        // Everything reached the kernel's receiver; give the ring a moment to hand over the rest.
                        quietUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
                    }
                }
                sender.join(TimeUnit.SECONDS.toMillis(10));
                receiver.join(TimeUnit.SECONDS.toMillis(10));
                driver.detach();
                port.poll();
                System.out.printf("af_packet GSO interop (guest offloads=%s): %d TCP frames, %d longer than the " +
                    "MTU (largest %d B), %d payload bytes checked, %d GSO frames passed whole, %d segmented here, " +
                    "%d kernel drops%n", offloads, driver.tcpFrames, driver.longFrames, driver.largest,
                    driver.payloadBytes, port.rxGsoPassed(), port.rxGsoSegmented(), port.kernelStatistics()[1]);
                assertEquals(STREAM_BYTES, received.get(), "the kernel's receiver got the whole stream");
                // The sender outruns this test's driver (it copies every frame out): the kernel drops what does not
                // fit the ring, which costs the real receiver nothing; megabytes are still checked.
                assertTrue(driver.payloadBytes > 1 << 20, "payload bytes checked: " + driver.payloadBytes);
                if (offloads)
                {
                    assertTrue(driver.longFrames > 0, "GSO frames arrived whole");
                    assertEquals(driver.longFrames, port.rxGsoPassed(), "each counted as passed");
                    assertEquals(0, port.rxGsoSegmented());
                }
                else
                {
                    assertEquals(0, driver.longFrames, "no frame longer than the MTU");
                    assertTrue(port.rxGsoSegmented() > 0, "the kernel did hand over GSO frames, cut here");
                    assertEquals(0, port.rxGsoPassed());
                }
            }
        }
    }

    private static void drain(final ServerSocket server, final AtomicLong received)
    {
        try (Socket socket = server.accept(); InputStream in = socket.getInputStream())
        {
            final byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0)
            {
                received.addAndGet(n);
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static void send(final Socket client)
    {
        try (client; OutputStream out = client.getOutputStream())
        {
            final byte[] chunk = new byte[251 * 1024];
            for (int i = 0; i < chunk.length; i++)
            {
                chunk[i] = streamByte(i);
            }
            long sent = 0;
            while (sent < STREAM_BYTES)
            {
                final int n = (int)Math.min(chunk.length, STREAM_BYTES - sent);
                out.write(chunk, 0, n);
                sent += n;
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** The guest's side: a mergeable receive queue of 4 KiB buffers, reaped and checked frame by frame. */
    private static final class Guest
    {
        private final FakeGuestMemory memory;
        private final boolean offloads;
        private final TestVirtqueue rx;
        private final DataplaneProxy proxy = new DataplaneProxy();
        private final DataplaneAgent agent = new DataplaneAgent("gso-test", proxy, null, -1);
        private final long[] addressOfHead = new long[QUEUE_SIZE];
        private long isn = -1;
        long tcpFrames;
        long longFrames;
        long payloadBytes;
        int largest;

        Guest(final FakeGuestMemory memory, final boolean offloads, final AfPacketNicPort port) throws Exception
        {
            this.memory = memory;
            this.offloads = offloads;
            this.rx = TestVirtqueue.of(memory, QUEUE_SIZE);
            final TestVirtqueue tx = TestVirtqueue.of(memory, QUEUE_SIZE);
            final long features = FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask() |
                FeatureBit.EVENT_IDX.mask() | FeatureBit.INDIRECT_DESC.mask() |
                (offloads ? FeatureBit.GUEST_CSUM.mask() | FeatureBit.GUEST_TSO4.mask() : 0);
            final QueuePair pair = new QueuePair(0, rx.device(), new MergeableRxWriter(rx.device()), tx.device(),
                new TxReader(tx.device(), VirtioNetHeader.MRG_RXBUF_LENGTH), rings(rx), rings(tx), features, port,
                GuestNotifier.POLLING, RxPolicy.WAIT, 32, null);
            for (int i = 0; i < QUEUE_SIZE; i++)
            {
                post(memory.allocate(BUFFER_SIZE, 64));
            }
            rx.driver().publishAvail();
            proxy.attach(pair);
            agent.doWork();
            assertEquals(1, agent.queuePairCount(), "attached");
        }

        private QueuePair.RingAddresses rings(final TestVirtqueue queue)
        {
            return new QueuePair.RingAddresses(
                memory.host(queue.descTable(), SplitRingLayout.descTableLength(QUEUE_SIZE)),
                memory.host(queue.availRing(), SplitRingLayout.availRingLength(QUEUE_SIZE)),
                memory.host(queue.usedRing(), SplitRingLayout.usedRingLength(QUEUE_SIZE)), 0);
        }

        private void post(final long address)
        {
            final int head = rx.driver().addBuffer(address, BUFFER_SIZE, true);
            assertTrue(head >= 0);
            addressOfHead[head] = address;
        }

        void detach() throws Exception
        {
            proxy.detach(0);
            agent.doWork();
        }

        void poll() throws Exception
        {
            agent.doWork();
            final DriverVirtqueue driver = rx.driver();
            while (driver.usedAvailable() > 0)
            {
                final ByteArrayOutputStream packet = new ByteArrayOutputStream();
                final byte[] first = memory.get(addressOfHead[driver.usedId(0)], driver.usedLength(0));
                final int numBuffers = ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN)
                    .getShort(VirtioNetHeader.NUM_BUFFERS_OFFSET) & 0xFFFF;
                assertTrue(numBuffers >= 1 && numBuffers <= driver.usedAvailable(), "num_buffers " + numBuffers);
                packet.writeBytes(first);
                for (int i = 1; i < numBuffers; i++)
                {
                    packet.writeBytes(memory.get(addressOfHead[driver.usedId(i)], driver.usedLength(i)));
                }
                final long[] addresses = new long[numBuffers];
                for (int i = 0; i < numBuffers; i++)
                {
                    addresses[i] = addressOfHead[driver.usedId(i)];
                }
                driver.releaseUsed(numBuffers);
                for (final long address : addresses)
                {
                    post(address);
                }
                driver.publishAvail();
                check(packet.toByteArray());
            }
        }

        private void check(final byte[] packet)
        {
            final ByteBuffer header = ByteBuffer.wrap(packet, 0, VirtioNetHeader.MRG_RXBUF_LENGTH)
                .order(ByteOrder.LITTLE_ENDIAN);
            final int flags = header.get(VirtioNetHeader.FLAGS_OFFSET) & 0xFF;
            final int gsoType = header.get(VirtioNetHeader.GSO_TYPE_OFFSET) & 0xFF;
            final int hdrLen = header.getShort(VirtioNetHeader.HDR_LEN_OFFSET) & 0xFFFF;
            final int gsoSize = header.getShort(VirtioNetHeader.GSO_SIZE_OFFSET) & 0xFFFF;
            final int csumStart = header.getShort(VirtioNetHeader.CSUM_START_OFFSET) & 0xFFFF;
            final int csumOffset = header.getShort(VirtioNetHeader.CSUM_OFFSET_OFFSET) & 0xFFFF;
            final byte[] f = java.util.Arrays.copyOfRange(packet, VirtioNetHeader.MRG_RXBUF_LENGTH, packet.length);
            if (f.length < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6)
            {
                return;
            }
            tcpFrames++;
            largest = Math.max(largest, f.length);
            final int l4 = 14 + (f[14] & 0xF) * 4;
            final int headers = l4 + ((f[l4 + 12] & 0xFF) >> 4) * 4;
            if (!offloads)
            {
                assertEquals(0, flags | gsoType | hdrLen | gsoSize | csumStart | csumOffset, "no offload, zeros");
            }
            if (f.length > 1514)
            {
                longFrames++;
                assertTrue(offloads, "a " + f.length + "-byte frame without offloads");
                assertEquals(VirtioNetHeader.F_NEEDS_CSUM, flags);
                assertEquals(VirtioNetHeader.GSO_TCPV4, gsoType);
                assertEquals(headers, hdrLen, "hdr_len: Ethernet + IPv4 + TCP headers");
                assertTrue(gsoSize >= 536 && gsoSize <= 1460, "gso_size " + gsoSize);
                assertEquals(l4, csumStart, "csum_start: the TCP header, counted from the frame's start");
                assertEquals(16, csumOffset);
            }
            else
            {
                assertEquals(VirtioNetHeader.GSO_NONE, gsoType);
                if ((flags & VirtioNetHeader.F_NEEDS_CSUM) != 0)
                {
                    // What the guest does with NEEDS_CSUM: sum from csum_start to the end, store at csum_offset.
                    final int sum = ~TcpFrames.sum16(f, csumStart, f.length, 0) & 0xFFFF;
                    f[csumStart + csumOffset] = (byte)(sum >> 8);
                    f[csumStart + csumOffset + 1] = (byte)sum;
                }
                assertTrue(TcpFrames.l4ChecksumValid(f, false, 6),
                    "TCP checksum of a " + f.length + "-byte frame");
            }
            final long seq = ByteBuffer.wrap(f, l4 + 4, 4).getInt() & 0xFFFFFFFFL;
            if ((f[l4 + 13] & 0x02) != 0)
            {
                isn = seq;
                return;
            }
            if (isn < 0 || f.length == headers)
            {
                return;
            }
            final long offset = (seq - isn - 1) & 0xFFFFFFFFL;
            for (int k = headers; k < f.length; k++)
            {
                if (f[k] != streamByte(offset + k - headers))
                {
                    assertEquals(streamByte(offset + k - headers), f[k], "stream byte " + (offset + k - headers));
                }
            }
            payloadBytes += f.length - headers;
        }
    }
}
