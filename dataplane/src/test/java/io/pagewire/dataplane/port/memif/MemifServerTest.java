package io.pagewire.dataplane.port.memif;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
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
 * pagewire as memif server against {@link MemifTestPeer} as client: the handshake byte by byte, frames both ways,
 * and a hostile client for every check the server makes. After each hostile case a well-behaved client connects to
 * the same set: the process (and the listener) keep running.
 */
class MemifServerTest
{
    private static final int LOG2 = 8;
    private static final int BUFFER = 2048;

    private final List<String> log = new ArrayList<>();
    private final List<MemifTestPeer> peers = new ArrayList<>();
    /** The clock of the stall deadlines: it moves only when a test moves it. */
    private final StepClock clock = new StepClock();
    private Path directory;
    private Path socket;
    private MemifNicPortSet set;

    @BeforeEach
    void open() throws Exception
    {
        directory = Files.createTempDirectory(Path.of("/tmp"), "pw-memif-test");
        socket = directory.resolve("s.sock");
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif", "nic.memif.role=server",
            "nic.memif.socket=" + socket, "nic.memif.id=7", "nic.ring.size=" + (1 << LOG2)));
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
        set = MemifNicPortSet.open(config.nic(), 1, counters, log::add);
        set.memifPort(0).clock(clock);
    }

    @AfterEach
    void close() throws Exception
    {
        for (final MemifTestPeer peer : peers)
        {
            peer.close();
        }
        set.close();
        assertFalse(Files.exists(socket), "closing removes the socket file");
        Files.deleteIfExists(directory);
    }

    private MemifTestPeer peer()
    {
        final MemifTestPeer peer = MemifTestPeer.connect(socket);
        peers.add(peer);
        return peer;
    }

    /** Polls pagewire until the peer has a message; returns its type. */
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
            Thread.onSpinWait();
        }
        return fail("no message from pagewire; log: " + log);
    }

    private MemifTestPeer connectGood()
    {
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendInit(VERSION, 7);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, peer.ringOffset(0), LOG2, peer.eventFds.get(0).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(false, 0, 0, peer.ringOffset(1), LOG2, peer.eventFds.get(1).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendConnect();
        assertEquals(MSG_CONNECTED, expect(peer));
        assertEquals(MemifNicPortSet.NAME, peer.string(IF_NAME_OFFSET, NAME_LENGTH));
        assertTrue(set.isConnected());
        return peer;
    }

    /** The hostile peer got DISCONNECT and EOF, the counter moved, and a good client connects afterwards. */
    private void assertDropped(final MemifTestPeer peer, final String reason)
    {
        assertEquals(MSG_DISCONNECT, expect(peer), "pagewire says why before it hangs up");
        assertEquals(reason, peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertTrue(peer.closedByPagewire());
        assertFalse(set.isConnected());
        assertEquals(0, set.port(0).rxAvailable());
        final MemifTestPeer good = connectGood();
        good.close();
        peers.remove(good);
        for (int i = 0; i < 1000 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
    }

    @Test
    void helloCarriesMemifTwoPointZeroAndPagewiresLimitsAtTheirByteOffsets()
    {
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        final UnsafeBuffer m = peer.message;
        // Offsets written out from memif.h's packed memif_msg_hello_t after the u16 type.
        assertEquals(2, m.getShort(0));
        assertEquals("pagewire", peer.string(2, 32));
        assertEquals(0x0200, m.getShort(34), "min_version");
        assertEquals(0x0200, m.getShort(36), "max_version");
        assertEquals(255, m.getShort(38), "max_region");
        assertEquals(0, m.getShort(40), "max_m2s_ring: highest index, one pair");
        assertEquals(0, m.getShort(42), "max_s2m_ring");
        assertEquals(LOG2, m.getByte(44), "max_log2_ring_size = log2(nic.ring.size)");
        for (int i = 45; i < 128; i++)
        {
            assertEquals(0, m.getByte(i), "byte " + i + " is zero");
        }
    }

    @Test
    void framesFlowBothWaysZeroCopyOnReceive()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        final UnsafeBuffer m2s = peer.ring(1);
        assertEquals(RING_FLAG_MASK_INT, s2m.getShort(RING_FLAGS_OFFSET), "pagewire polls the ring it receives on");

        // Client -> pagewire: three frames, one head store.
        for (int i = 0; i < 3; i++)
        {
            peer.writeS2m(0, i, frame(60 + i, i));
        }
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)3);
        assertEquals(3, port.rxAvailable());
        for (int i = 0; i < 3; i++)
        {
            assertEquals(60 + i, port.rxFrameLength(i));
            assertEquals(peer.bufferOffset(0, i) - peer.bufferOffset(0, 0), port.rxFrameAddress(i) -
                port.rxFrameAddress(0), "frames are where the client's descriptors say");
            assertEquals((byte)i, new UnsafeBuffer(port.rxFrameAddress(i), 60 + i).getByte(60 + i - 1));
        }
        // Zero-copy: a byte the client changes now is the byte pagewire's address reads.
        peer.regionBuffer().putByte((int)peer.bufferOffset(0, 1), (byte)0x5A);
        assertEquals((byte)0x5A, new UnsafeBuffer(port.rxFrameAddress(1), 1).getByte(0));
        port.rxRelease(2);
        assertEquals(2, s2m.getShortVolatile(RING_TAIL_OFFSET), "tail published on release");
        assertEquals(1, port.rxAvailable());
        port.rxRelease(1);
        assertEquals(3, s2m.getShortVolatile(RING_TAIL_OFFSET));

        // pagewire -> client: nothing until the client offers buffers.
        assertEquals(0, port.claim(100), "no free buffer offered yet: full, not dropped");
        m2s.putShortVolatile(RING_HEAD_OFFSET, (short)4);
        for (int i = 0; i < 5; i++)
        {
            final long address = port.claim(100);
            if (i == 4)
            {
                assertEquals(0, address, "four buffers offered, four frames sent");
                break;
            }
            new UnsafeBuffer(address, 100).putByte(0, (byte)(0x40 + i));
            assertEquals((byte)(0x40 + i), peer.regionBuffer().getByte((int)peer.bufferOffset(1, i)),
                "written into the buffer the client offered");
            port.commit(100);
            assertEquals(i, m2s.getShortVolatile(RING_TAIL_OFFSET), "not published before the burst ends");
            port.flush();
            assertEquals(i + 1, m2s.getShortVolatile(RING_TAIL_OFFSET));
            final int desc = RING_HEADER_LENGTH + i * DESC_LENGTH;
            assertEquals(100, m2s.getInt(desc + DESC_LENGTH_OFFSET));
            assertEquals(0, m2s.getShort(desc + DESC_FLAGS_OFFSET));
        }
        set.poll();
        assertTrue(set.isConnected());
    }

    @Test
    void frameLongerThanABufferIsChainedOverTheClientsBuffersOrWaitsForThem()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer m2s = peer.ring(1);
        // Move pagewire's tail to 254 so the chain wraps the ring.
        offerM2s(m2s, 256);
        for (int i = 0; i < 254; i++)
        {
            assertNotEquals(0, port.claim(60));
            port.commit(60);
        }
        port.flush();
        assertEquals(254, m2s.getShortVolatile(RING_TAIL_OFFSET));

        final byte[] jumbo = frame(5000, 3);
        assertEquals(0, port.claim(jumbo.length), "two buffers free, three needed: the frame waits");
        offerM2s(m2s, 254 + 256);
        final long address = port.claim(jumbo.length);
        assertNotEquals(0, address);
        assertTrue(address < peer.region.address() || address >= peer.region.address() + peer.region.length(),
            "a chained frame is staged, then scattered at commit");
        new UnsafeBuffer(address, jumbo.length).putBytes(0, jumbo);
        port.commit(jumbo.length);
        port.flush();
        assertEquals(257, m2s.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF, "three descriptors, one frame");
        final int[] descriptors = new int[1];
        assertArrayEquals(jumbo, MemifTestPeer.readChain(peer.regionBuffer(), peer.ringOffset(1), LOG2, 254,
            descriptors));
        assertEquals(3, descriptors[0]);
        assertEquals(BUFFER, m2s.getInt(RING_HEADER_LENGTH + 255 * DESC_LENGTH + DESC_LENGTH_OFFSET));
        assertEquals(DESC_FLAG_NEXT, m2s.getShort(RING_HEADER_LENGTH + 255 * DESC_LENGTH + DESC_FLAGS_OFFSET));
        assertEquals(5000 - 2 * BUFFER, m2s.getInt(RING_HEADER_LENGTH + DESC_LENGTH_OFFSET), "wrapped to slot 0");
        assertEquals(0, m2s.getShort(RING_HEADER_LENGTH + DESC_FLAGS_OFFSET));

        // The client offers tiny buffers: all of the ring's together (256 x 64) cannot hold 20000 bytes.
        for (int slot = 0; slot < 256; slot++)
        {
            m2s.putInt(RING_HEADER_LENGTH + slot * DESC_LENGTH + DESC_LENGTH_OFFSET, 64);
        }
        m2s.putShortVolatile(RING_HEAD_OFFSET, (short)(257 + 256));
        assertNotEquals(0, port.claim(20000), "dropped into scratch, not waited for");
        port.commit(20000);
        port.flush();
        assertEquals(257, m2s.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF, "nothing half-written or published");
        assertEquals(1, counter(MemifCounter.TX_DROPS_BUFFER_TOO_SMALL));
        assertNotEquals(0, port.claim(100), "two 64-byte buffers take 100 bytes");
        port.commit(100);
        port.flush();
        assertEquals(259, m2s.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
        set.poll();
        assertTrue(set.isConnected(), "small buffers are legal, not hostile");
    }

    /** Client side of M2S: every buffer offered again at full size, head moved to {@code head}. */
    private static void offerM2s(final UnsafeBuffer m2s, final int head)
    {
        for (int slot = 0; slot < 1 << LOG2; slot++)
        {
            m2s.putInt(RING_HEADER_LENGTH + slot * DESC_LENGTH + DESC_LENGTH_OFFSET, BUFFER);
        }
        m2s.putShortVolatile(RING_HEAD_OFFSET, (short)head);
    }

    @Test
    void chainedFramesArriveWholeWrappingTheRingAndReleaseCountsFrames()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        // Move the ring to 252 so the first chain wraps.
        for (int i = 0; i < 252; i++)
        {
            peer.writeS2m(0, i, frame(60, i));
        }
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)252);
        assertEquals(252, port.rxAvailable());
        port.rxRelease(252);

        final byte[] jumbo = frame(9000, 1);
        final byte[] small = frame(60, 2);
        final byte[] two = frame(3000, 3);
        int head = 252;
        assertEquals(5, peer.writeS2m(0, head, jumbo));
        head += 5;
        head += peer.writeS2m(0, head, small);
        head += peer.writeS2m(0, head, two);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)head);
        assertEquals(260, head);

        assertEquals(3, port.rxAvailable(), "eight descriptors, three frames");
        for (final int slot : new int[] {252, 253, 254, 255, 0, 2, 3})
        {
            assertEquals(0, s2m.getShort(RING_HEADER_LENGTH + slot * DESC_LENGTH + DESC_FLAGS_OFFSET),
                "NEXT cleared on an assembled chain, so a client that leaves it set cannot chain a later frame");
        }
        assertFrame(jumbo, port, 0);
        assertFrame(small, port, 1);
        assertFrame(two, port, 2);
        peer.regionBuffer().putByte((int)peer.bufferOffset(0, 257 & 255), (byte)0x5A);
        assertEquals((byte)0x5A, new UnsafeBuffer(port.rxFrameAddress(1), 1).getByte(0),
            "a frame of one descriptor is still handed out in place");
        port.rxRelease(1);
        assertEquals(257, s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF, "a frame's release frees all its buffers");
        assertEquals(2, port.rxAvailable());
        assertFrame(two, port, 1);
        port.rxRelease(2);
        assertEquals(260, s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
        assertEquals(0, port.rxAvailable());
        assertEquals(0, counter(MemifCounter.BAD_DESCRIPTORS));
        assertEquals(0, counter(MemifCounter.RX_DROPS_TOO_LONG));
        set.poll();
        assertTrue(set.isConnected());
    }

    private static void assertFrame(final byte[] expected, final NicPort port, final int i)
    {
        assertEquals(expected.length, port.rxFrameLength(i));
        final byte[] got = new byte[expected.length];
        new UnsafeBuffer(port.rxFrameAddress(i), expected.length).getBytes(0, got);
        assertArrayEquals(expected, got);
    }

    @Test
    void chainNotYetCompleteAtTheClientsHeadWaitsForTheRest()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        final byte[] jumbo = frame(5000, 4);
        peer.writeS2m(0, 0, frame(64, 0));
        assertEquals(3, peer.writeS2m(0, 1, jumbo));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)3);
        assertEquals(1, port.rxAvailable(), "the frame before the chain");
        port.rxRelease(1);
        assertEquals(1, s2m.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(0, port.rxAvailable(), "two of three descriptors: nothing yet");
        assertEquals(0, port.rxAvailable());
        assertEquals(1, s2m.getShortVolatile(RING_TAIL_OFFSET), "the chain's buffers are kept, not dropped");
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)4);
        assertEquals(1, port.rxAvailable());
        assertFrame(jumbo, port, 0);
        port.rxRelease(1);
        assertEquals(4, s2m.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(0, counter(MemifCounter.BAD_DESCRIPTORS) + counter(MemifCounter.RX_DROPS_TOO_LONG));
    }

    /** Polls receive {@code polls} times; each must find nothing. */
    private static void pollEmpty(final NicPort port, final int polls)
    {
        for (int i = 0; i < polls; i++)
        {
            assertEquals(0, port.rxAvailable(), "poll " + i);
        }
    }

    @Test
    void chainThePeerNeverFinishesIsCountedAndThePeerDisconnectedAfterTheDeadline()
    {
        MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        UnsafeBuffer s2m = peer.ring(0);
        peer.writeS2m(0, 0, frame(64, 0));
        assertEquals(3, peer.writeS2m(0, 1, frame(5000, 1)));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)3);
        assertEquals(1, port.rxAvailable(), "the frame before the chain goes");
        port.rxRelease(1);
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        clock.advance(StallWatch.DEADLINE_NS - 1);
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        set.poll();
        assertTrue(set.isConnected(), "not before the deadline");
        assertEquals(0, counter(MemifCounter.RX_INCOMPLETE_CHAINS));
        clock.advance(1);
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        assertEquals(1, counter(MemifCounter.RX_INCOMPLETE_CHAINS));
        final int reads = clock.reads;
        pollEmpty(port, 10 * StallWatch.SAMPLE_POLLS);
        assertEquals(1, counter(MemifCounter.RX_INCOMPLETE_CHAINS), "counted once, not per poll");
        assertEquals(reads, clock.reads, "a broken ring is not polled (nor is the clock read) any more");
        assertEquals(1, s2m.getShortVolatile(RING_TAIL_OFFSET), "the chain's buffers were never given back");
        assertEquals(0, counter(MemifCounter.BAD_DESCRIPTORS), "not a bad descriptor: a stalled ring");

        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals("Incomplete chain", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertTrue(peer.closedByPagewire());
        assertFalse(set.isConnected());
        assertEquals(1, set.badMessages());
        assertTrue(log.stream().anyMatch(l -> l.contains("Incomplete chain on queue pair 0: receive chain from " +
            "descriptor 1 still incomplete after 1000 ms: 2 descriptor(s) up to the peer's index 3")), log.toString());
        assertEquals(1, log.stream().filter(l -> l.contains("Incomplete chain")).count(), "logged once");

        // The next peer starts with a clean ring: the same chain, finished, goes through.
        peer = connectGood();
        s2m = peer.ring(0);
        final byte[] jumbo = frame(5000, 2);
        assertEquals(3, peer.writeS2m(0, 0, jumbo));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)3);
        assertEquals(1, port.rxAvailable());
        assertFrame(jumbo, port, 0);
        port.rxRelease(1);
        assertEquals(3, s2m.getShortVolatile(RING_TAIL_OFFSET));
        set.poll();
        assertTrue(set.isConnected());
    }

    @Test
    void slowChainFinishedBeforeTheDeadlineGoesThroughWholeAndTheNextGetsItsOwnDeadline()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        // Ordinary traffic reads no clock.
        for (int i = 0; i < 3 * StallWatch.SAMPLE_POLLS; i++)
        {
            peer.writeS2m(0, i, frame(64, i));
            s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(i + 1));
            assertEquals(1, port.rxAvailable());
            port.rxRelease(1);
            assertEquals(0, port.rxAvailable());
        }
        assertEquals(0, clock.reads, "no clock read on a ring that is not stalled");

        int head = 3 * StallWatch.SAMPLE_POLLS;
        final byte[] first = frame(9000, 3);
        assertEquals(5, peer.writeS2m(0, head, first));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(head + 2));
        pollEmpty(port, 20 * StallWatch.SAMPLE_POLLS);
        assertEquals(20, clock.reads, "one clock read per 64 polls while stalled");
        clock.advance(StallWatch.DEADLINE_NS / 2);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(head + 4));
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        clock.advance(StallWatch.DEADLINE_NS / 2 - 1);
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(head + 5));
        assertEquals(1, port.rxAvailable(), "finished just before the deadline: whole");
        assertFrame(first, port, 0);
        port.rxRelease(1);
        head += 5;

        // A second chain left incomplete right after: its deadline starts at its own first sample.
        final byte[] second = frame(5000, 4);
        assertEquals(3, peer.writeS2m(0, head, second));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(head + 1));
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        clock.advance(StallWatch.DEADLINE_NS - 1);
        pollEmpty(port, StallWatch.SAMPLE_POLLS);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(head + 3));
        assertEquals(1, port.rxAvailable());
        assertFrame(second, port, 0);
        port.rxRelease(1);
        assertEquals(head + 3, s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
        assertEquals(0, counter(MemifCounter.RX_INCOMPLETE_CHAINS) + counter(MemifCounter.BAD_DESCRIPTORS));
        set.poll();
        assertTrue(set.isConnected());
    }

    @Test
    void frameNeedingMoreBuffersThanTheClientEverOffersWaitsCountedThenIsDroppedAfterTheDeadline()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer m2s = peer.ring(1);
        // The client offers two buffers at a time, and offers again what it consumed: never more than two at once.
        offerM2s(m2s, 2);
        for (int i = 0; i < 4; i++)
        {
            assertNotEquals(0, port.claim(100));
            port.commit(100);
            port.flush();
            offerM2s(m2s, i + 3);
        }
        assertEquals(4, m2s.getShortVolatile(RING_TAIL_OFFSET));

        // 5000 bytes need three 2048-byte buffers: the frame waits, counted once as waiting for the client's offer.
        for (int i = 0; i < StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000), "claim " + i);
        }
        assertEquals(1, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        clock.advance(StallWatch.DEADLINE_NS - 1);
        for (int i = 0; i < StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000), "not before the deadline");
        }
        clock.advance(1);
        for (int i = 0; i < StallWatch.SAMPLE_POLLS - 1; i++)
        {
            assertEquals(0, port.claim(5000));
        }
        final long address = port.claim(5000);
        assertTrue(address != 0 && (address < peer.region.address() ||
            address >= peer.region.address() + peer.region.length()), "dropped into scratch, so the queue moves");
        port.commit(5000);
        port.flush();
        assertEquals(1, counter(MemifCounter.TX_DROPS_OFFER_TOO_SMALL));
        assertEquals(1, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        assertEquals(4, m2s.getShortVolatile(RING_TAIL_OFFSET), "nothing of it was written or published");

        // The frames behind it go; the next long one gets its own wait, and goes when the client offers enough.
        assertNotEquals(0, port.claim(100));
        port.commit(100);
        port.flush();
        offerM2s(m2s, 7);
        assertEquals(0, port.claim(5000));
        assertEquals(2, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        clock.advance(StallWatch.DEADLINE_NS / 2);
        offerM2s(m2s, 8);
        assertNotEquals(0, port.claim(5000), "three buffers offered at last");
        port.commit(5000);
        port.flush();
        assertEquals(8, m2s.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(1, counter(MemifCounter.TX_DROPS_OFFER_TOO_SMALL));
        assertEquals(0, counter(MemifCounter.TX_DROPS_BUFFER_TOO_SMALL));
        set.poll();
        assertTrue(set.isConnected(), "offering few buffers is legal: the peer stays");
    }

    @Test
    void aWaitingFramesDeadlineDoesNotCarryOverWhenTheQueuePairChanges()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer m2s = peer.ring(1);
        offerM2s(m2s, 2);
        for (int i = 0; i < StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000), "claim " + i);
        }
        assertEquals(1, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        clock.advance(StallWatch.DEADLINE_NS - 1);
        // The guest's queue pair detaches and another attaches: its first frame, of the same length at the same
        // slot, is a new wait with a deadline of its own, not the old one's last nanosecond.
        port.guestFeatures(0);
        port.guestFeatures(1L << 32);
        clock.advance(1);
        for (int i = 0; i < 2 * StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000), "claim " + i + " after the change");
        }
        assertEquals(2, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        assertEquals(0, counter(MemifCounter.TX_DROPS_OFFER_TOO_SMALL));
    }

    @Test
    void fullRingIsOrdinaryBackpressureAndNeverDropsAFrame()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer m2s = peer.ring(1);
        // Nothing offered yet (a client that has not started): a frame waits, whatever its length.
        for (int i = 0; i < 4 * StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000));
            clock.advance(StallWatch.DEADLINE_NS);
        }
        // The whole ring offered, then not consumed: two buffers left, a frame needing three waits for good.
        offerM2s(m2s, 256);
        for (int i = 0; i < 254; i++)
        {
            assertNotEquals(0, port.claim(100));
            port.commit(100);
        }
        port.flush();
        for (int i = 0; i < 4 * StallWatch.SAMPLE_POLLS; i++)
        {
            assertEquals(0, port.claim(5000), "claim " + i);
            clock.advance(StallWatch.DEADLINE_NS);
        }
        assertEquals(0, counter(MemifCounter.TX_WAITS_OFFER_TOO_SMALL) +
            counter(MemifCounter.TX_DROPS_OFFER_TOO_SMALL) + counter(MemifCounter.TX_DROPS_BUFFER_TOO_SMALL));
        assertEquals(0, clock.reads, "an ordinary full ring reads no clock");
        offerM2s(m2s, 256 + 254);
        assertNotEquals(0, port.claim(5000), "the client consumed: the frame goes");
        port.commit(5000);
        port.flush();
        assertEquals(257, m2s.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
    }

    @Test
    void chainLongerThanTheFrameLimitIsDroppedWholeAndCounted()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        final int descriptors = peer.writeS2m(0, 0, frame(32 * BUFFER + 1, 5));
        assertEquals(33, descriptors, "65536 bytes in 2048-byte buffers, and one more");
        peer.writeS2m(0, descriptors, frame(64, 6));
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)(descriptors + 1));
        assertEquals(2, port.rxAvailable());
        assertEquals(-1, port.rxFrameLength(0), "the whole chain is one dropped frame");
        assertFrame(frame(64, 6), port, 1);
        port.rxRelease(2);
        assertEquals(descriptors + 1, s2m.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(1, counter(MemifCounter.RX_DROPS_TOO_LONG));
        assertEquals(0, counter(MemifCounter.BAD_DESCRIPTORS));
        set.poll();
        assertTrue(set.isConnected(), "a long frame is not hostile");
    }

    @Test
    void chainWithABadDescriptorIsDroppedWholeAndThePeerDisconnected()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        assertEquals(3, peer.writeS2m(0, 0, frame(5000, 7)));
        peer.writeS2m(0, 3, frame(64, 8));
        s2m.putShort(RING_HEADER_LENGTH + DESC_LENGTH + DESC_REGION_OFFSET, (short)3);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)4);
        assertEquals(2, port.rxAvailable());
        assertEquals(-1, port.rxFrameLength(0));
        assertFrame(frame(64, 8), port, 1);
        port.rxRelease(2);
        assertEquals(4, s2m.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(1, counter(MemifCounter.BAD_DESCRIPTORS));
        assertDropped(peer, "Bad descriptor");
        assertTrue(log.stream().anyMatch(l -> l.contains("receive descriptor 1: region 3")), log.toString());
    }

    @Test
    void chainThatFillsTheWholeRingCanNeverEndAndIsABadDescriptor()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        assertEquals(256, peer.writeS2m(0, 0, frame(256 * BUFFER, 9)));
        s2m.putShort(RING_HEADER_LENGTH + 255 * DESC_LENGTH + DESC_FLAGS_OFFSET, (short)DESC_FLAG_NEXT);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)256);
        assertEquals(1, port.rxAvailable());
        assertEquals(-1, port.rxFrameLength(0));
        port.rxRelease(1);
        assertEquals(256, s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
        assertEquals(1, counter(MemifCounter.BAD_DESCRIPTORS));
        assertDropped(peer, "Bad descriptor");
        assertTrue(log.stream().anyMatch(l -> l.contains("fills the whole ring")), log.toString());
    }

    @Test
    void chainsBeyondTheStagingAreaWaitForTheNextBurstNotDropped()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        final int frames = MemifNicPort.RX_STAGING_FRAMES + 1;
        int head = 0;
        for (int i = 0; i < frames; i++)
        {
            head += peer.writeS2m(0, head, frame(MemifNicPort.MAX_FRAME_LENGTH, 10 + i));
        }
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)head);
        assertEquals(MemifNicPort.RX_STAGING_FRAMES, port.rxAvailable());
        assertEquals(DESC_FLAG_NEXT, s2m.getShort(RING_HEADER_LENGTH + (head - 32) * DESC_LENGTH + DESC_FLAGS_OFFSET),
            "the chain left for the next burst keeps its flags");
        for (int i = 0; i < MemifNicPort.RX_STAGING_FRAMES; i++)
        {
            assertFrame(frame(MemifNicPort.MAX_FRAME_LENGTH, 10 + i), port, i);
        }
        port.rxRelease(MemifNicPort.RX_STAGING_FRAMES);
        assertEquals(1, port.rxAvailable());
        assertFrame(frame(MemifNicPort.MAX_FRAME_LENGTH, 10 + frames - 1), port, 0);
        port.rxRelease(1);
        assertEquals(head, s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF);
        assertEquals(0, counter(MemifCounter.RX_DROPS_TOO_LONG) + counter(MemifCounter.BAD_DESCRIPTORS));
    }

    @Test
    void descriptorOutsideTheRegionIsDroppedCountedAndThePeerDisconnected()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer s2m = peer.ring(0);
        peer.writeS2m(0, 0, frame(64, 0));
        peer.writeS2m(0, 1, frame(64, 1));
        s2m.putInt(RING_HEADER_LENGTH + DESC_OFFSET_OFFSET, (int)peer.region.length() - 10);
        s2m.putShort(RING_HEADER_LENGTH + DESC_LENGTH + DESC_REGION_OFFSET, (short)3);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)2);
        assertEquals(2, port.rxAvailable());
        assertEquals(-1, port.rxFrameLength(0), "offset + length beyond the region");
        assertEquals(-1, port.rxFrameLength(1), "a region never added");
        port.rxRelease(2);
        assertEquals(2, counter(MemifCounter.BAD_DESCRIPTORS));
        assertDropped(peer, "Bad descriptor");
        assertTrue(log.stream().anyMatch(l -> l.contains("receive descriptor 0: region 0 offset")), log.toString());
        assertEquals(1, set.badMessages());
    }

    @Test
    void headMoreThanARingAheadIsAFaultNotAFrameCount()
    {
        final MemifTestPeer peer = connectGood();
        peer.ring(0).putShortVolatile(RING_HEAD_OFFSET, (short)((1 << LOG2) + 1));
        assertEquals(0, set.port(0).rxAvailable());
        assertDropped(peer, "Bad descriptor");
        assertTrue(log.stream().anyMatch(l -> l.contains("receive ring index 257")), log.toString());
    }

    @Test
    void transmitDescriptorOutsideTheRegionIsNeverWritten()
    {
        final MemifTestPeer peer = connectGood();
        final UnsafeBuffer m2s = peer.ring(1);
        m2s.putInt(RING_HEADER_LENGTH + DESC_OFFSET_OFFSET, -64);
        m2s.putShortVolatile(RING_HEAD_OFFSET, (short)1);
        final long address = set.port(0).claim(100);
        assertTrue(address != 0 && (address < peer.region.address() ||
            address >= peer.region.address() + peer.region.length()), "scratch, not the bogus offset");
        set.port(0).commit(100);
        final long again = set.port(0).claim(100);
        assertTrue(again != 0 && (again < peer.region.address() ||
            again >= peer.region.address() + peer.region.length()), "still scratch until the peer is dropped");
        set.port(0).commit(100);
        set.port(0).flush();
        assertEquals(0, m2s.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(1, counter(MemifCounter.BAD_DESCRIPTORS), "the bad descriptor is counted once, not per frame");
        assertDropped(peer, "Bad descriptor");
    }

    @Test
    void peerGoingAwayStopsThePortAndItsMemoryIsUnmappedOnceTheDataplaneMovedOn()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        assertEquals(0, port.rxAvailable());
        peer.close();
        peers.remove(peer);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
        assertEquals(1, set.disconnects());
        assertEquals(1, set.retiredMappings(), "kept (detached) until the dataplane acknowledges");
        assertEquals(0, port.rxAvailable(), "the dataplane adopts the down state");
        set.poll();
        assertEquals(0, set.retiredMappings());
        final long address = port.claim(100);
        assertNotEquals(0, address);
        port.commit(100);
        assertEquals(1, counter(MemifCounter.TX_DROPS_DOWN), "dropped and counted while down, not stalled");
        final MemifTestPeer again = connectGood();
        assertEquals(2, set.connects());
        assertTrue(set.isConnected(), "the next peer is served after the first one left");
    }

    /** The peer leaves: its control socket closes, its memory stays readable here (the test reads what was sent). */
    private void leave(final MemifTestPeer peer)
    {
        peer.socket.close();
        peer.socket = null;
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
    }

    @Test
    void frameHandedOutZeroCopyWhenThePeerLeavesIsStillTheBytesItPublishedNeverZeros()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final byte[] sent = frame(64, 9);
        peer.writeS2m(0, 0, sent);
        peer.ring(0).putShortVolatile(RING_HEAD_OFFSET, (short)1);
        assertEquals(1, port.rxAvailable());
        final long address = port.rxFrameAddress(0);
        peer.close();
        peers.remove(peer);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
        // The dataplane is still mid-burst: the frame it was handed is whole (once, the region was remapped to zero
        // pages here, and the guest was given 64 zero bytes counted as a delivered frame).
        final byte[] read = new byte[64];
        new UnsafeBuffer(address, 64).getBytes(0, read);
        assertArrayEquals(sent, read);
        set.poll();
        assertEquals(1, set.retiredMappings(), "mapped as it was until the dataplane has moved on");
        port.rxRelease(1);
        assertEquals(0, port.rxAvailable(), "the next burst adopts the down state");
        set.poll();
        assertEquals(0, set.retiredMappings());
    }

    @Test
    void framesCommittedWhenThePeerLeavesAreCountedAsPeerLeftNotPublishedIntoItsRing()
    {
        final MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        final UnsafeBuffer m2s = peer.ring(1);
        offerM2s(m2s, 8);
        // One burst published: those reached the ring while the peer was there (sent).
        for (int i = 0; i < 2; i++)
        {
            assertNotEquals(0, port.claim(100));
            port.commit(100);
        }
        port.flush();
        assertEquals(2, m2s.getShortVolatile(RING_TAIL_OFFSET));
        // The next burst: two frames committed, then the peer leaves before the burst's flush.
        for (int i = 0; i < 2; i++)
        {
            assertNotEquals(0, port.claim(100));
            port.commit(100);
        }
        leave(peer);
        port.flush();
        assertEquals(2, m2s.getShortVolatile(RING_TAIL_OFFSET), "not published into the gone peer's ring");
        assertEquals(2, counter(MemifCounter.TX_DROPS_PEER_LEFT));
        assertEquals(0, counter(MemifCounter.TX_DROPS_DOWN));

        // Again, with the burst's next claim (not its flush) finding the peer gone: one frame committed before.
        final MemifTestPeer again = connectGood();
        final UnsafeBuffer m2sAgain = again.ring(1);
        offerM2s(m2sAgain, 8);
        assertNotEquals(0, port.claim(100));
        port.commit(100);
        leave(again);
        assertNotEquals(0, port.claim(100), "down: the frame is taken and dropped, the guest's queue flows");
        port.commit(100);
        port.flush();
        assertEquals(0, m2sAgain.getShortVolatile(RING_TAIL_OFFSET));
        assertEquals(3, counter(MemifCounter.TX_DROPS_PEER_LEFT), "the frame committed before the peer left");
        assertEquals(1, counter(MemifCounter.TX_DROPS_DOWN), "the frame claimed after");
        set.poll();
        assertEquals(0, set.retiredMappings());
    }

    @Test
    void retiredRegionsAreUnmappedAtOnceWhenNoQueuePairPollsThePort() throws Exception
    {
        // No queue pair ever polls the port: a few hundred peers come and go, and the mappings go with them.
        for (int i = 0; i < 20; i++)
        {
            connectAndLeave();
        }
        final long memfdBaseline = maps(true);
        final long baseline = maps(false);
        for (int i = 0; i < 300; i++)
        {
            connectAndLeave();
            assertEquals(0, set.retiredMappings(), "cycle " + i);
        }
        assertEquals(320, set.connects());
        assertEquals(memfdBaseline, maps(true), "no memfd stays mapped");
        assertTrue(maps(false) <= baseline + 8, "mappings " + maps(false) + ", at the baseline " + baseline);
        // A pair attaches and serves the next peer.
        final MemifTestPeer peer = connectGood();
        peer.writeS2m(0, 0, frame(60, 1));
        peer.ring(0).putShortVolatile(RING_HEAD_OFFSET, (short)1);
        assertEquals(1, set.port(0).rxAvailable());
    }

    private void connectAndLeave()
    {
        final MemifTestPeer peer = connectGood();
        peer.close();
        peers.remove(peer);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertFalse(set.isConnected());
    }

    private static long maps(final boolean memfdOnly) throws Exception
    {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream()
            .filter(line -> !memfdOnly || line.contains("/memfd:")).count();
    }

    @Test
    void aDetachedQueuePairParksThePortSoRetiredRegionsGoWithoutWaitingForItsNextBurst() throws Exception
    {
        MemifTestPeer peer = connectGood();
        final NicPort port = set.port(0);
        assertEquals(0, port.rxAvailable());
        // Detached on the thread that polled it: parked.
        port.guestFeatures(0);
        assertEquals(MemifNicPort.PARKED, set.memifPort(0).acknowledgedEpoch());
        // Parked on a live connection and attached again: it carries on where it stopped.
        peer.writeS2m(0, 0, frame(60, 4));
        peer.ring(0).putShortVolatile(RING_HEAD_OFFSET, (short)1);
        port.guestFeatures(1L << 32);
        assertEquals(1, port.rxAvailable());
        assertEquals(60, port.rxFrameLength(0));
        port.rxRelease(1);
        assertEquals(1, peer.ring(0).getShortVolatile(RING_TAIL_OFFSET));
        port.guestFeatures(0);
        peer.close();
        peers.remove(peer);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertEquals(0, set.retiredMappings(), "nobody polls the port: unmapped at once");
        assertEquals(0, port.rxAvailable(), "the next burst adopts the down state, never the unmapped rings");

        // A detach called from another thread (not the one polling) parks nothing: the mapping waits for the poller.
        peer = connectGood();
        assertEquals(0, port.rxAvailable());
        final Thread other = new Thread(() -> port.guestFeatures(0));
        other.start();
        other.join();
        peer.close();
        peers.remove(peer);
        for (int i = 0; i < 100 && set.isConnected(); i++)
        {
            set.poll();
        }
        assertEquals(1, set.retiredMappings());
        assertEquals(0, port.rxAvailable());
        set.poll();
        assertEquals(0, set.retiredMappings());
    }

    /**
     * The handshake between a port leaving the parked state and control unmapping, raced: a dataplane thread polls,
     * claims and parks the port in a loop while clients come and go on this thread. A read of an unmapped region would
     * end the test JVM (SIGSEGV); at the end every retired region is gone.
     */
    @Test
    void aDataplaneThreadParkingAndPollingWhileClientsComeAndGoNeverTouchesUnmappedMemory() throws Exception
    {
        final NicPort port = set.port(0);
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.concurrent.atomic.AtomicLong polls = new java.util.concurrent.atomic.AtomicLong();
        final Thread dataplane = new Thread(() ->
        {
            long n = 0;
            while (!stop.get())
            {
                port.rxAvailable();
                if (port.claim(100) != 0)
                {
                    port.abandon();
                }
                port.flush();
                if ((++n & 15) == 0)
                {
                    port.guestFeatures(0);
                }
            }
            port.guestFeatures(0);
            polls.set(n);
        });
        dataplane.start();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                final MemifTestPeer peer = connectGood();
                peer.close();
                peers.remove(peer);
                for (int j = 0; j < 100 && set.isConnected(); j++)
                {
                    set.poll();
                }
                assertFalse(set.isConnected());
            }
        }
        finally
        {
            stop.set(true);
            dataplane.join();
        }
        assertTrue(polls.get() > 0);
        set.poll();
        assertEquals(0, set.retiredMappings());
        assertEquals(200, set.connects());
    }

    @Test
    void clientWhoseRegionsExceedTheCapIsRefusedCountedAndTheNextIsServed()
    {
        set.close();
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif", "nic.memif.role=server",
            "nic.memif.socket=" + socket, "nic.memif.id=7", "nic.ring.size=" + (1 << LOG2),
            "nic.memif.max_region_mib=1"));
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
        set = MemifNicPortSet.open(config.nic(), 1, counters, log::add);
        // One region over the cap (2^8 slots of 2048 bytes each way: 1 MiB of buffers, plus the rings).
        MemifTestPeer peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_DISCONNECT, expect(peer));
        assertEquals("Regions too large", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertEquals(1, set.regionsOverCap());
        assertEquals(0, set.badMessages(), "counted by its own name");
        assertTrue(log.stream().anyMatch(l -> l.contains("nic.memif.max_region_mib=1 (1048576 bytes); refused")),
            log.toString());
        // Two regions each under the cap, over it together: the second is refused before it is mapped.
        peer = handshakeToSetup();
        final int first = Fds.memfdCreateSealed("first", 768 * 1024);
        final int second = Fds.memfdCreateSealed("second", 768 * 1024);
        try
        {
            peer.sendAddRegion(0, 768 * 1024, first);
            assertEquals(MSG_ACK, expect(peer));
            peer.sendAddRegion(1, 768 * 1024, second);
            assertEquals(MSG_DISCONNECT, expect(peer));
            assertEquals("Regions too large", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        }
        finally
        {
            Fds.close(first);
            Fds.close(second);
        }
        assertEquals(2, set.regionsOverCap());
        set.poll();
        assertEquals(0, set.retiredMappings(), "the region mapped before the refusal is released");
        // A client within the cap (2^7 slots: 512 KiB of buffers) is served.
        peer = handshakeToSetup();
        peer.createRegion(1, 7, BUFFER);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, peer.ringOffset(0), 7, peer.eventFds.get(0).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(false, 0, 0, peer.ringOffset(1), 7, peer.eventFds.get(1).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendConnect();
        assertEquals(MSG_CONNECTED, expect(peer));
        assertTrue(set.isConnected());
        assertEquals(1, set.connects());
    }

    @Test
    void secondClientWhileConnectedIsRefused()
    {
        connectGood();
        final MemifTestPeer second = peer();
        assertEquals(MSG_DISCONNECT, expect(second));
        assertEquals("Already connected", second.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
        assertTrue(second.closedByPagewire());
        assertTrue(set.isConnected());
        assertEquals(1, set.rejectedConnections());
    }

    @Test
    void silentClientIsDroppedAfterTheHandshakeTimeout() throws Exception
    {
        set.handshakeTimeoutNs(200_000_000L);
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        Thread.sleep(300);
        assertDropped(peer, "Handshake timeout");
        assertEquals(1, set.rejectedConnections());
        assertTrue(log.stream().anyMatch(l -> l.contains("did not complete the handshake")), log.toString());
    }

    @Test
    void wrongVersionIsRefused()
    {
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        peer.sendInit(0x0100, 7);
        assertDropped(peer, "Incompatible memif version");
        assertEquals(1, set.badMessages());
    }

    @Test
    void wrongIdIsRefused()
    {
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        peer.sendInit(VERSION, 8);
        assertDropped(peer, "ID not found");
        assertEquals(1, set.rejectedConnections());
    }

    @Test
    void messagesOfTheWrongSizeOrTypeAreRefused()
    {
        for (final int length : new int[]{64, 200})
        {
            final MemifTestPeer peer = peer();
            assertEquals(MSG_HELLO, expect(peer));
            peer.begin(MSG_INIT);
            peer.sendRaw(length, -1);
            assertDropped(peer, "Invalid message size");
        }
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        peer.begin(99);
        peer.send(-1);
        assertDropped(peer, "Unknown message type");
        final MemifTestPeer early = peer();
        assertEquals(MSG_HELLO, expect(early));
        early.sendConnect();
        assertDropped(early, "Unexpected message");
        assertEquals(4, set.badMessages());
    }

    @Test
    void regionsThatCouldFaultAreRefused()
    {
        // Not sealed against shrinking.
        MemifTestPeer peer = handshakeToSetup();
        final int unsealed = Fds.memfdCreate("unsealed", 1 << 20);
        peer.sendAddRegion(0, 1 << 20, unsealed);
        Fds.close(unsealed);
        assertDropped(peer, "Invalid region");
        assertTrue(log.stream().anyMatch(l -> l.contains("F_SEAL_SHRINK")), log.toString());
        // Announced larger than the file.
        peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendAddRegion(0, peer.region.length() + 4096, peer.regionFd);
        assertDropped(peer, "Invalid region");
        // No fd at all.
        peer = handshakeToSetup();
        peer.sendAddRegion(0, 4096, -1);
        assertDropped(peer, "Missing region fd");
        // An eventfd is not a memory file.
        peer = handshakeToSetup();
        try (EventFd eventFd = EventFd.create())
        {
            peer.sendAddRegion(0, 4096, eventFd.fd());
        }
        assertDropped(peer, "Invalid region");
        // Index out of order.
        peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendAddRegion(1, peer.region.length(), peer.regionFd);
        assertDropped(peer, "Invalid region index");
    }

    @Test
    void ringsOutsideTheirRegionOrLimitsAreRefused()
    {
        record Case(boolean s2m, int index, int region, long offset, int log2, String reason)
        {
        }
        final List<Case> cases = List.of(
            new Case(true, 1, 0, 0, LOG2, "Invalid ring index"),
            new Case(true, 0, 1, 0, LOG2, "Invalid ring region"),
            new Case(true, 0, 0, 0, LOG2 + 1, "Invalid ring size"),
            new Case(false, 0, 0, 0xFFFF_FF00L, LOG2, "Invalid ring offset"),
            new Case(false, 0, 0, 4, LOG2, "Invalid ring offset"));
        for (final Case c : cases)
        {
            final MemifTestPeer peer = handshakeToSetup();
            peer.createRegion(1, LOG2, BUFFER);
            peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
            assertEquals(MSG_ACK, expect(peer));
            peer.sendAddRing(c.s2m(), c.index(), c.region(), c.offset(), c.log2(), peer.eventFds.get(0).fd());
            assertDropped(peer, c.reason());
        }
        // Missing eventfd, and a ring added twice.
        MemifTestPeer peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, 0, LOG2, -1);
        assertDropped(peer, "Missing interrupt fd");
        peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, 0, LOG2, peer.eventFds.get(0).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, 0, LOG2, peer.eventFds.get(0).fd());
        assertDropped(peer, "Invalid ring index");
    }

    @Test
    void connectWithABadCookieOrNoRingsIsRefused()
    {
        MemifTestPeer peer = handshakeToSetup();
        peer.createRegion(1, LOG2, BUFFER);
        peer.regionBuffer().putInt(peer.ringOffset(1), 0x12345678);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(true, 0, 0, peer.ringOffset(0), LOG2, peer.eventFds.get(0).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendAddRing(false, 0, 0, peer.ringOffset(1), LOG2, peer.eventFds.get(1).fd());
        assertEquals(MSG_ACK, expect(peer));
        peer.sendConnect();
        assertDropped(peer, "Wrong ring");
        peer = handshakeToSetup();
        peer.sendConnect();
        assertDropped(peer, "No rings");
    }

    private MemifTestPeer handshakeToSetup()
    {
        final MemifTestPeer peer = peer();
        assertEquals(MSG_HELLO, expect(peer));
        peer.sendInit(VERSION, 7);
        assertEquals(MSG_ACK, expect(peer));
        return peer;
    }

    private long counter(final MemifCounter counter)
    {
        return switch (counter)
        {
            case BAD_DESCRIPTORS, TX_DROPS_DOWN, RX_DROPS_TOO_LONG, TX_DROPS_BUFFER_TOO_SMALL, RX_INCOMPLETE_CHAINS,
                 TX_WAITS_OFFER_TOO_SMALL, TX_DROPS_OFFER_TOO_SMALL, TX_DROPS_PEER_LEFT -> set.portCounter(0, counter);
            default -> throw new IllegalArgumentException(counter.name());
        };
    }

    static byte[] frame(final int length, final int tag)
    {
        final byte[] frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)(i + tag);
        }
        frame[length - 1] = (byte)tag;
        return frame;
    }
}
