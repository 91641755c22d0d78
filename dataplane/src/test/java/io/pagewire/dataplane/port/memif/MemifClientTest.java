package io.pagewire.dataplane.port.memif;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.port.NicPort;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * pagewire as memif client against {@link MemifTestPeer} as server: the messages pagewire sends, byte by byte; the
 * region it makes (sealed, DPDK's layout); frames both ways; a hostile server; reconnecting when the server returns.
 */
class MemifClientTest
{
    private static final int LOG2 = 6;
    private static final int RING = 1 << LOG2;
    private static final int BUFFER = 1024;

    private final List<String> log = new ArrayList<>();
    private final List<MemifTestPeer> peers = new ArrayList<>();
    private Path directory;
    private Path socket;
    private MemifNicPortSet set;

    @BeforeEach
    void setUp() throws Exception
    {
        directory = Files.createTempDirectory(Path.of("/tmp"), "pw-memif-test");
        socket = directory.resolve("c.sock");
    }

    private void open(final int pairs)
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif", "nic.memif.role=client",
            "nic.memif.socket=" + socket, "nic.memif.id=3", "nic.ring.size=" + RING, "nic.slot_size=" + BUFFER,
            "guest.type=vhost-user", "guest.queue_pairs=" + pairs, "traffic.frame_size=64"));
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
        set = MemifNicPortSet.open(config.nic(), pairs, counters, log::add);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (set != null)
        {
            set.close();
        }
        for (final MemifTestPeer peer : peers)
        {
            peer.close();
        }
        Files.deleteIfExists(socket);
        Files.deleteIfExists(directory);
    }

    private MemifTestPeer server()
    {
        final MemifTestPeer peer = MemifTestPeer.listen(socket);
        peers.add(peer);
        return peer;
    }

    private void accept(final MemifTestPeer peer)
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (!peer.accept())
        {
            set.poll();
            assertTrue(System.nanoTime() < deadline, "pagewire did not connect; log: " + log);
            Thread.onSpinWait();
        }
    }

    private int expect(final MemifTestPeer peer)
    {
        for (int i = 0; i < 2000; i++)
        {
            set.poll();
            final int type = peer.receive();
            if (type != -1)
            {
                return type;
            }
        }
        return fail("no message from pagewire; log: " + log);
    }

    private void sendHello(final MemifTestPeer peer, final int minVersion, final int maxVersion, final int maxRing,
        final int maxLog2)
    {
        peer.begin(MSG_HELLO);
        peer.putString(HELLO_NAME_OFFSET, "test server");
        peer.message.putShort(HELLO_MIN_VERSION_OFFSET, (short)minVersion);
        peer.message.putShort(HELLO_MAX_VERSION_OFFSET, (short)maxVersion);
        peer.message.putShort(HELLO_MAX_REGION_OFFSET, (short)255);
        peer.message.putShort(HELLO_MAX_M2S_RING_OFFSET, (short)maxRing);
        peer.message.putShort(HELLO_MAX_S2M_RING_OFFSET, (short)maxRing);
        peer.message.putByte(HELLO_MAX_LOG2_RING_SIZE_OFFSET, (byte)maxLog2);
        peer.send(-1);
    }

    private void ack(final MemifTestPeer peer)
    {
        peer.begin(MSG_ACK);
        peer.send(-1);
    }

    /** Runs the whole handshake as a DPDK server would, checking each message pagewire sends. */
    private MemifTestPeer connect()
    {
        final MemifTestPeer peer = server();
        accept(peer);
        sendHello(peer, VERSION, VERSION, 255, 14);
        assertEquals(MSG_INIT, expect(peer));
        final UnsafeBuffer m = peer.message;
        assertEquals(0x0200, m.getShort(2), "version");
        assertEquals(3, m.getInt(4), "id");
        assertEquals(0, m.getByte(8), "mode ethernet");
        assertEquals("pagewire", peer.string(33, 32), "name");

        ack(peer);
        assertEquals(MSG_ADD_REGION, expect(peer));
        assertEquals(0, m.getShort(2), "region index");
        final long size = m.getLong(4);
        assertEquals(2L * (128 + 16 * RING) + 2L * RING * BUFFER, size, "rings then buffers, DPDK's layout");
        assertEquals(1, peer.receivedFds.size(), "the memfd came with ADD_REGION");
        final int regionFd = peer.receivedFds.get(0);
        assertTrue((Fds.seals(regionFd) & Fds.SEAL_SHRINK) != 0, "sealed against shrinking");
        peer.mappedRegion = Mapping.map(regionFd, 0, size);

        for (int r = 0; r < 2; r++)
        {
            ack(peer);
            assertEquals(MSG_ADD_RING, expect(peer));
            assertEquals(r == 0 ? 1 : 0, m.getShort(2), "flags: S2M first");
            assertEquals(0, m.getShort(4), "ring index");
            assertEquals(0, m.getShort(6), "region");
            assertEquals(r * (128 + 16 * RING), m.getInt(8), "offset");
            assertEquals(LOG2, m.getByte(12), "log2 ring size");
            assertEquals(0, m.getShort(13), "private_hdr_size");
            assertEquals(r + 2, peer.receivedFds.size(), "an eventfd with each ring");
        }
        ack(peer);
        assertEquals(MSG_CONNECT, expect(peer));
        assertEquals("pagewire", peer.string(IF_NAME_OFFSET, NAME_LENGTH));
        final UnsafeBuffer region = mapped(peer);
        assertEquals(COOKIE, region.getInt(0));
        assertEquals(COOKIE, region.getInt(128 + 16 * RING));

        peer.begin(MSG_CONNECTED);
        peer.putString(IF_NAME_OFFSET, "server_if");
        peer.send(-1);
        for (int i = 0; i < 100 && !set.isConnected(); i++)
        {
            set.poll();
        }
        assertTrue(set.isConnected(), log.toString());
        return peer;
    }

    private static UnsafeBuffer mapped(final MemifTestPeer peer)
    {
        return new UnsafeBuffer(peer.mappedRegion.address(), (int)peer.mappedRegion.length());
    }

    @Test
    void handshakeRegionAndFramesBothWays()
    {
        open(1);
        final MemifTestPeer peer = connect();
        final NicPort port = set.port(0);
        final UnsafeBuffer region = mapped(peer);
        final int s2m = 0;
        final int m2s = 128 + 16 * RING;
        final long buffers = 2L * (128 + 16 * RING);

        assertEquals(0, port.rxAvailable());
        assertEquals(RING, region.getShortVolatile(m2s + RING_HEAD_OFFSET) & 0xFFFF,
            "the client offers every receive buffer at connect");
        assertEquals(RING_FLAG_MASK_INT, region.getShort(m2s + RING_FLAGS_OFFSET));
        for (int slot = 0; slot < RING; slot++)
        {
            final int desc = m2s + 128 + 16 * slot;
            assertEquals(BUFFER, region.getInt(desc + DESC_LENGTH_OFFSET));
            assertEquals(buffers + (long)(RING + slot) * BUFFER, region.getInt(desc + DESC_OFFSET_OFFSET),
                "M2S buffers follow the S2M ring's");
        }

        // Server -> pagewire: write into the offered buffer, set length, move tail.
        final int desc0 = m2s + 128;
        region.putBytes(region.getInt(desc0 + DESC_OFFSET_OFFSET), MemifServerTest.frame(70, 5));
        region.putInt(desc0 + DESC_LENGTH_OFFSET, 70);
        region.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)1);
        assertEquals(1, port.rxAvailable());
        assertEquals(70, port.rxFrameLength(0));
        assertEquals((byte)5, new UnsafeBuffer(port.rxFrameAddress(0), 70).getByte(69));
        port.rxRelease(1);
        assertEquals(RING + 1, region.getShortVolatile(m2s + RING_HEAD_OFFSET) & 0xFFFF, "buffer offered again");
        assertEquals(BUFFER, region.getInt(desc0 + DESC_LENGTH_OFFSET));

        // pagewire -> server: a full ring, then nothing until the server moves tail.
        for (int i = 0; i < RING; i++)
        {
            final long address = port.claim(80);
            assertNotEquals(0, address, "frame " + i);
            new UnsafeBuffer(address, 80).putInt(0, 1000 + i);
            port.commit(80);
        }
        assertEquals(0, port.claim(80), "ring full: the frame waits");
        assertEquals(0, region.getShortVolatile(s2m + RING_HEAD_OFFSET) & 0xFFFF, "published once per burst");
        port.flush();
        assertEquals(RING, region.getShortVolatile(s2m + RING_HEAD_OFFSET) & 0xFFFF);
        for (int i = 0; i < RING; i++)
        {
            final int desc = s2m + 128 + 16 * i;
            assertEquals(80, region.getInt(desc + DESC_LENGTH_OFFSET));
            assertEquals(1000 + i, region.getInt(region.getInt(desc + DESC_OFFSET_OFFSET)));
        }
        region.putShortVolatile(s2m + RING_TAIL_OFFSET, (short)3);
        assertNotEquals(0, port.claim(80));
        port.commit(80);
        port.flush();
        assertEquals(RING + 1, region.getShortVolatile(s2m + RING_HEAD_OFFSET) & 0xFFFF);
    }

    @Test
    void chainedFramesBothWaysWrappingTheRing()
    {
        open(1);
        final MemifTestPeer peer = connect();
        final NicPort port = set.port(0);
        final UnsafeBuffer region = mapped(peer);
        final int s2m = 0;
        final int m2s = 128 + 16 * RING;

        // Server -> pagewire: move M2S to 62, then a chain over slots 62, 63, 0 and a plain frame.
        for (int i = 0; i < 62; i++)
        {
            MemifTestPeer.writeChain(region, m2s, LOG2, i, MemifServerTest.frame(60, i), BUFFER);
        }
        region.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)62);
        assertEquals(62, port.rxAvailable());
        port.rxRelease(62);
        final byte[] jumbo = MemifServerTest.frame(3000, 1);
        final byte[] small = MemifServerTest.frame(70, 2);
        assertEquals(3, MemifTestPeer.writeChain(region, m2s, LOG2, 62, jumbo, BUFFER));
        MemifTestPeer.writeChain(region, m2s, LOG2, 65, small, BUFFER);
        region.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)66);
        assertEquals(2, port.rxAvailable());
        assertEquals(jumbo.length, port.rxFrameLength(0));
        assertEquals(small.length, port.rxFrameLength(1));
        final byte[] got = new byte[jumbo.length];
        new UnsafeBuffer(port.rxFrameAddress(0), jumbo.length).getBytes(0, got);
        assertArrayEquals(jumbo, got);
        port.rxRelease(2);
        assertEquals(RING + 66, region.getShortVolatile(m2s + RING_HEAD_OFFSET) & 0xFFFF,
            "all four buffers offered again");
        for (final int slot : new int[] {62, 63, 0, 1})
        {
            assertEquals(BUFFER, region.getInt(m2s + 128 + 16 * slot + DESC_LENGTH_OFFSET));
            assertEquals(0, region.getShort(m2s + 128 + 16 * slot + DESC_FLAGS_OFFSET), "NEXT cleared on refill");
        }

        // pagewire -> server: move S2M to 62, then a chain over 62, 63, 0.
        for (int i = 0; i < 62; i++)
        {
            assertNotEquals(0, port.claim(80));
            port.commit(80);
        }
        port.flush();
        region.putShortVolatile(s2m + RING_TAIL_OFFSET, (short)62);
        final long address = port.claim(jumbo.length);
        assertNotEquals(0, address);
        new UnsafeBuffer(address, jumbo.length).putBytes(0, jumbo);
        port.commit(jumbo.length);
        port.flush();
        assertEquals(65, region.getShortVolatile(s2m + RING_HEAD_OFFSET) & 0xFFFF);
        final int[] descriptors = new int[1];
        assertArrayEquals(jumbo, MemifTestPeer.readChain(region, s2m, LOG2, 62, descriptors));
        assertEquals(3, descriptors[0]);
        assertEquals(3000 - 2 * BUFFER, region.getInt(s2m + 128 + DESC_LENGTH_OFFSET), "the tail in slot 0");

        // Two buffers free, three needed: the frame waits until the server consumes more.
        for (int i = 0; i < RING - 5; i++)
        {
            assertNotEquals(0, port.claim(80));
            port.commit(80);
        }
        assertEquals(0, port.claim(jumbo.length));
        final long given = port.claim(80);
        assertNotEquals(0, given, "a frame of one buffer still fits");
        port.abandon();
        assertThrows(IllegalStateException.class, () -> port.commit(80), "an abandoned claim is void");
        assertEquals(given, port.claim(80), "the same buffer again");
        port.commit(80);
        port.flush();
        region.putShortVolatile(s2m + RING_TAIL_OFFSET, (short)65);
        assertNotEquals(0, port.claim(jumbo.length));
        port.commit(jumbo.length);
        port.flush();
        assertEquals(128, region.getShortVolatile(s2m + RING_HEAD_OFFSET) & 0xFFFF);
        assertEquals(0, set.portCounter(0, MemifCounter.TX_DROPS_BUFFER_TOO_SMALL));
    }

    @Test
    void lengthBeyondTheBufferIsABadDescriptorAndTheClientReconnects() throws Exception
    {
        open(1);
        final MemifTestPeer peer = connect();
        final UnsafeBuffer region = mapped(peer);
        final int m2s = 128 + 16 * RING;
        set.port(0).rxAvailable();
        region.putInt(m2s + 128 + DESC_LENGTH_OFFSET, BUFFER + 1);
        region.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)1);
        assertEquals(1, set.port(0).rxAvailable());
        assertEquals(-1, set.port(0).rxFrameLength(0));
        set.port(0).rxRelease(1);
        assertEquals(1, set.portCounter(0, MemifCounter.BAD_DESCRIPTORS));
        assertDroppedThenReconnects(peer, "Bad descriptor");
        assertEquals(1, set.disconnects());
    }

    /**
     * pagewire told the server why and hung up; the server goes and comes back, and pagewire connects to it again.
     *
     * @return the new connection's server.
     */
    private MemifTestPeer assertDroppedThenReconnects(final MemifTestPeer peer, final String reason) throws Exception
    {
        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals(reason, peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertFalse(set.isConnected());
        peer.close();
        peers.remove(peer);
        Files.deleteIfExists(socket);
        final MemifTestPeer again = connect();
        assertEquals(2, set.connects());
        return again;
    }

    @Test
    void chainTheServerNeverFinishesIsCountedAndTheClientReconnects() throws Exception
    {
        open(1);
        final StepClock clock = new StepClock();
        set.memifPort(0).clock(clock);
        final MemifTestPeer peer = connect();
        final UnsafeBuffer region = mapped(peer);
        final int m2s = 128 + 16 * RING;
        assertEquals(0, set.port(0).rxAvailable(), "the dataplane adopts the connection and offers its buffers");
        assertEquals(2, MemifTestPeer.writeChain(region, m2s, LOG2, 0, MemifServerTest.frame(1500, 1), BUFFER));
        region.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)1);
        for (int i = 0; i < 2 * StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, set.port(0).rxAvailable());
            if (i == StallWatch.SAMPLE_POLLS)
            {
                clock.advance(StallWatch.DEADLINE_NS);
            }
        }
        assertEquals(1, set.portCounter(0, MemifCounter.RX_INCOMPLETE_CHAINS));
        final UnsafeBuffer again = mapped(assertDroppedThenReconnects(peer, "Incomplete chain"));
        assertEquals(0, set.port(0).rxAvailable());
        MemifTestPeer.writeChain(again, m2s, LOG2, 0, MemifServerTest.frame(1500, 2), BUFFER);
        again.putShortVolatile(m2s + RING_TAIL_OFFSET, (short)2);
        assertEquals(1, set.port(0).rxAvailable(), "the next server's chain goes through whole");
        assertEquals(1500, set.port(0).rxFrameLength(0));
    }

    @Test
    void retriesWhileNobodyListensAndReconnectsWhenTheServerReturns() throws Exception
    {
        open(1);
        for (int i = 0; i < 10; i++)
        {
            set.poll();
        }
        assertTrue(log.stream().anyMatch(l -> l.contains("cannot connect")), log.toString());
        final MemifTestPeer peer = connect();
        peer.close();
        peers.remove(peer);
        Files.deleteIfExists(socket);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
        final long address = set.port(0).claim(60);
        assertNotEquals(0, address);
        set.port(0).commit(60);
        assertEquals(1, set.portCounter(0, MemifCounter.TX_DROPS_DOWN));
        connect();
        assertEquals(2, set.connects());
    }

    @Test
    void incompatibleVersionIsRefused()
    {
        open(1);
        final MemifTestPeer peer = server();
        accept(peer);
        sendHello(peer, 0x0300, 0x0301, 0, 14);
        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals("Incompatible memif version", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertEquals(1, set.badMessages());
    }

    @Test
    void serverWithTooFewRingsIsRefused()
    {
        open(2);
        final MemifTestPeer peer = server();
        accept(peer);
        sendHello(peer, VERSION, VERSION, 0, 14);
        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals("Too few rings", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertTrue(log.stream().anyMatch(l -> l.contains("pagewire needs 2")), log.toString());
    }

    @Test
    void smallerRingOfferedIsTaken()
    {
        open(1);
        final MemifTestPeer peer = server();
        accept(peer);
        sendHello(peer, VERSION, VERSION, 0, 4);
        assertEquals(MSG_INIT, expect(peer));
        ack(peer);
        assertEquals(MSG_ADD_REGION, expect(peer));
        assertEquals(2L * (128 + 16 * 16) + 2L * 16 * BUFFER, peer.message.getLong(4));
    }

    @Test
    void unexpectedMessageIsRefused()
    {
        open(1);
        final MemifTestPeer peer = server();
        accept(peer);
        peer.begin(MSG_CONNECTED);
        peer.send(-1);
        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals("Unexpected message", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertEquals(1, set.badMessages());
    }

    @Test
    void framesTheServerNeverConsumedBeforeItLeftAreCountedAsPeerLeft()
    {
        open(1);
        final MemifTestPeer peer = connect();
        final NicPort port = set.port(0);
        final UnsafeBuffer region = mapped(peer);
        final int s2m = 0;
        assertEquals(0, port.rxAvailable());
        // Three one-buffer frames and one chained over three buffers: six descriptors, four frames, one flush.
        for (final int length : new int[]{100, 100, 100, 2500})
        {
            assertNotEquals(0, port.claim(length));
            port.commit(length);
        }
        port.flush();
        assertEquals(6, region.getShortVolatile(s2m + RING_HEAD_OFFSET));
        // The server consumes the first frame only, then leaves; pagewire has one more frame committed meanwhile.
        region.putShortVolatile(s2m + RING_TAIL_OFFSET, (short)1);
        assertNotEquals(0, port.claim(100));
        port.commit(100);
        peer.socket.close();
        peer.socket = null;
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
        assertEquals(0, port.rxAvailable(), "the dataplane adopts the down state");
        assertEquals(4, set.portCounter(0, MemifCounter.TX_DROPS_PEER_LEFT),
            "two one-buffer frames and the chain never consumed, one frame never published");
        assertEquals(6, region.getShortVolatile(s2m + RING_HEAD_OFFSET), "nothing published after the server left");
        set.poll();
        assertEquals(0, set.retiredMappings());
    }
}
