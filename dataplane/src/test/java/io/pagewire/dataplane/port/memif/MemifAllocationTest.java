package io.pagewire.dataplane.port.memif;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.port.NicPort;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The memif hot path allocates nothing: bursts received and released, frames claimed and committed, with an
 * in-process client on the same thread playing the other side of both rings; and connect/disconnect cycles leak no fd
 * and no mapping.
 */
class MemifAllocationTest
{
    private static final int LOG2 = 8;
    private static final int RING = 1 << LOG2;
    private static final int BUFFER = 2048;
    /** The descriptor lengths of a chained 5000-byte frame. */
    private static final int[] CHAIN = {BUFFER, BUFFER, 5000 - 2 * BUFFER};

    @Test
    void hotPathAllocatesNothingAndCyclesLeakNothing() throws Exception
    {
        final Path dir = Files.createTempDirectory(Path.of("/tmp"), "pw-memif-alloc");
        final Path socket = dir.resolve("a.sock");
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif", "nic.memif.socket=" + socket,
            "nic.ring.size=" + RING));
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
        try (MemifNicPortSet set = MemifNicPortSet.open(config.nic(), 1, counters, (line) -> { }))
        {
            final int fdsBefore = Fds.openFdCount();
            for (int cycle = 0; cycle < 3; cycle++)
            {
                final MemifTestPeer peer = connect(set, socket);
                if (cycle == 1)
                {
                    stallBothWays(set, peer);
                }
                if (cycle == 2)
                {
                    final UnsafeBuffer s2m = peer.ring(0);
                    final UnsafeBuffer m2s = peer.ring(1);
                    final long[] sent = new long[2];
                    run(set.port(0), s2m, m2s, 300_000, sent);
                    final long frames = AllocationMeter.assertSomeWindowAllocatesNothing(
                        "memif receive and transmit", 3, () ->
                        {
                            sent[0] = 0;
                            sent[1] = 0;
                            return run(set.port(0), s2m, m2s, 1_000_000, sent);
                        });
                    assertTrue(sent[0] > frames * 6 / 10, "frames went out too: " + sent[0]);
                    assertTrue(sent[1] >= frames / 5 * 5000L, "chained frames arrived whole: " + sent[1]);
                    assertEquals(0, set.portCounter(0, MemifCounter.BAD_DESCRIPTORS) +
                        set.portCounter(0, MemifCounter.RX_DROPS_TOO_LONG) +
                        set.portCounter(0, MemifCounter.TX_DROPS_BUFFER_TOO_SMALL));
                }
                peer.close();
                for (int i = 0; i < 1000 && set.isConnected(); i++)
                {
                    set.poll();
                }
                set.port(0).rxAvailable();
                set.poll();
                assertEquals(0, set.retiredMappings());
            }
            assertEquals(fdsBefore, Fds.openFdCount(), "connect/disconnect cycles leak no fd");
        }
        Files.deleteIfExists(socket);
        Files.delete(dir);
    }

    /**
     * The peer holds both rings up (a chain it never finishes; two free buffers offered where a frame needs three):
     * the polls that find them stalled, clock samples included, allocate nothing either. The clock stands still, so
     * the deadline never passes mid-measurement.
     */
    private static void stallBothWays(final MemifNicPortSet set, final MemifTestPeer peer)
    {
        final StepClock clock = new StepClock();
        set.memifPort(0).clock(clock);
        final NicPort port = set.port(0);
        port.rxAvailable();
        final UnsafeBuffer s2m = peer.ring(0);
        MemifTestPeer.writeChain(peer.regionBuffer(), peer.ringOffset(0), LOG2, 0, new byte[5000], BUFFER);
        s2m.putShortVolatile(RING_HEAD_OFFSET, (short)2);
        peer.ring(1).putShortVolatile(RING_HEAD_OFFSET, (short)2);
        AllocationMeter.assertSomeWindowAllocatesNothing("memif polls stalled by the peer", 3, () ->
        {
            long found = 0;
            for (int i = 0; i < 100_000; i++)
            {
                found += port.rxAvailable() + port.claim(5000);
            }
            assertEquals(0, found, "nothing received, nothing claimed");
            return 100_000;
        });
        assertTrue(clock.reads >= 100_000 / StallWatch.SAMPLE_POLLS, "the stalled paths ran: " + clock.reads);
        assertEquals(1, set.portCounter(0, MemifCounter.TX_WAITS_OFFER_TOO_SMALL));
        assertEquals(0, set.portCounter(0, MemifCounter.RX_INCOMPLETE_CHAINS) +
            set.portCounter(0, MemifCounter.TX_DROPS_OFFER_TOO_SMALL));
    }

    private static MemifTestPeer connect(final MemifNicPortSet set, final Path socket)
    {
        final MemifTestPeer peer = MemifTestPeer.connect(socket);
        await(set, peer, MSG_HELLO);
        peer.createRegion(1, LOG2, BUFFER);
        peer.sendInit(VERSION, 0);
        await(set, peer, MSG_ACK);
        peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
        await(set, peer, MSG_ACK);
        peer.sendAddRing(true, 0, 0, peer.ringOffset(0), LOG2, peer.eventFds.get(0).fd());
        await(set, peer, MSG_ACK);
        peer.sendAddRing(false, 0, 0, peer.ringOffset(1), LOG2, peer.eventFds.get(1).fd());
        await(set, peer, MSG_ACK);
        peer.sendConnect();
        await(set, peer, MSG_CONNECTED);
        return peer;
    }

    private static void await(final MemifNicPortSet set, final MemifTestPeer peer, final int type)
    {
        for (int i = 0; i < 1000; i++)
        {
            set.poll();
            final int got = peer.receive();
            if (got != -1)
            {
                assertEquals(type, got);
                return;
            }
        }
        fail("no " + messageName(type));
    }

    /** Client fills S2M and offers M2S buffers; pagewire receives bursts and transmits one frame per frame received. */
    private static long run(
        final NicPort port, final UnsafeBuffer s2m, final UnsafeBuffer m2s, final int frames, final long[] sentOut)
    {
        int s2mHead = s2m.getShortVolatile(RING_HEAD_OFFSET) & 0xFFFF;
        int m2sHead = m2s.getShortVolatile(RING_HEAD_OFFSET) & 0xFFFF;
        long received = 0;
        long sent = 0;
        long chainedBytes = 0;
        long produced = 0;
        while (received < frames)
        {
            // Client side: produce up to 32 frames, every fourth a 5000-byte one chained over three buffers (both
            // ways: pagewire assembles it on receive and chains it again on transmit); offer every buffer the server
            // handed back, at full size.
            final int s2mTail = s2m.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF;
            for (int i = 0; i < 32 && ((s2mHead - s2mTail) & 0xFFFF) <= RING - CHAIN.length; i++)
            {
                final boolean chained = (produced++ & 3) == 0;
                final int descriptors = chained ? CHAIN.length : 1;
                for (int d = 0; d < descriptors; d++)
                {
                    final int desc = RING_HEADER_LENGTH + ((s2mHead + d) & (RING - 1)) * DESC_LENGTH;
                    s2m.putInt(desc + DESC_LENGTH_OFFSET, chained ? CHAIN[d] : 64);
                    s2m.putShort(desc + DESC_FLAGS_OFFSET, (short)(d < descriptors - 1 ? DESC_FLAG_NEXT : 0));
                }
                s2mHead = (s2mHead + descriptors) & 0xFFFF;
            }
            s2m.putShortVolatile(RING_HEAD_OFFSET, (short)s2mHead);
            final int m2sTail = m2s.getShortVolatile(RING_TAIL_OFFSET) & 0xFFFF;
            for (int slot = m2sHead; slot != ((m2sTail + RING) & 0xFFFF); slot = (slot + 1) & 0xFFFF)
            {
                m2s.putInt(RING_HEADER_LENGTH + (slot & (RING - 1)) * DESC_LENGTH + DESC_LENGTH_OFFSET, BUFFER);
            }
            m2sHead = (m2sTail + RING) & 0xFFFF;
            m2s.putShortVolatile(RING_HEAD_OFFSET, (short)m2sHead);

            // pagewire side: one burst in, the same frames out.
            final int available = port.rxAvailable();
            for (int i = 0; i < available; i++)
            {
                final int length = port.rxFrameLength(i);
                if (length == 5000)
                {
                    chainedBytes += length;
                }
                final long destination = port.claim(length);
                if (destination != 0)
                {
                    MemoryCopy.copy(port.rxFrameAddress(i), destination, length);
                    port.commit(length);
                    sent++;
                }
            }
            port.flush();
            port.rxRelease(available);
            received += available;
        }
        sentOut[0] += sent;
        sentOut[1] += chainedBytes;
        return received;
    }
}
