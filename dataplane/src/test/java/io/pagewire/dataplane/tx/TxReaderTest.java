package io.pagewire.dataplane.tx;

import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TcpFrames;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

import static io.pagewire.dataplane.virtio.VirtioNetHeader.F_NEEDS_CSUM;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_ECN;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_NONE;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV4;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV6;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_UDP;
import static org.junit.jupiter.api.Assertions.*;

class TxReaderTest
{
    private static final int QUEUE_SIZE = 256;
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;

    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(64L << 20);
    private final TestVirtqueue queue = TestVirtqueue.of(guest, QUEUE_SIZE);
    private final TxReader reader = new TxReader(queue.device(), HDR);
    private final RecordingSink sink = new RecordingSink(8);

    /** A sink with a fixed number of slots, recording every frame it was given. */
    static class RecordingSink implements TxSink
    {
        final Arena arena = Arena.ofConfined();
        private final MemorySegment slot = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH, 64);
        private final List<byte[]> frames = new ArrayList<>();
        private final List<byte[]> offloadHeaders = new ArrayList<>();
        private int capacity;
        private int claimed = -1;
        private int abandoned;
        private int maxFrameLength = VirtioNetHeader.MAX_FRAME_LENGTH;
        private int maxOffloadFrameLength;

        RecordingSink(final int capacity)
        {
            this.capacity = capacity;
        }

        final void setMaxOffloadFrameLength(final int maxOffloadFrameLength)
        {
            this.maxOffloadFrameLength = maxOffloadFrameLength;
        }

        @Override
        public long claim(final int frameLength)
        {
            if (frames.size() == capacity)
            {
                return 0;
            }
            if (claimed != -1)
            {
                throw new AssertionError("claim(" + frameLength + ") while claim(" + claimed + ") has not ended");
            }
            claimed = frameLength;
            return slot.address();
        }

        @Override
        public void abandon()
        {
            assertTrue(claimed >= 0, "abandon a claim");
            claimed = -1;
            abandoned++;
        }

        @Override
        public int maxFrameLength()
        {
            return maxFrameLength;
        }

        /** A commit ends the claim it belongs to (no allocation: the allocation tests' sinks call it too). */
        void ended(final int frameLength)
        {
            if (claimed != frameLength)
            {
                throw new AssertionError("commit(" + frameLength + ") after claim(" + claimed + ")");
            }
            claimed = -1;
        }

        @Override
        public void commit(final int frameLength)
        {
            ended(frameLength);
            frames.add(slot.asSlice(0, frameLength).toArray(ValueLayout.JAVA_BYTE));
            offloadHeaders.add(null);
        }

        @Override
        public int maxOffloadFrameLength()
        {
            return maxOffloadFrameLength;
        }

        @Override
        public void commitOffload(final int frameLength, final long vnetHeader)
        {
            assertTrue(maxOffloadFrameLength > 0, "commitOffload only on a sink that takes offloads");
            ended(frameLength);
            frames.add(slot.asSlice(0, frameLength).toArray(ValueLayout.JAVA_BYTE));
            offloadHeaders.add(MemorySegment.ofAddress(vnetHeader).reinterpret(VirtioNetHeader.LEGACY_LENGTH)
                .toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @AfterEach
    void tearDown()
    {
        assertTrue(guest.guardsIntact());
        sink.arena.close();
        guest.close();
    }

    private static byte[] random(final int length, final long seed)
    {
        final byte[] bytes = new byte[length];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    /** Writes header + frame into guest memory split at the given cut points and returns address/length arrays. */
    private long[][] split(final byte[] header, final byte[] frame, final int... cuts)
    {
        final byte[] whole = new byte[header.length + frame.length];
        System.arraycopy(header, 0, whole, 0, header.length);
        System.arraycopy(frame, 0, whole, header.length, frame.length);
        final long[] addresses = new long[cuts.length + 1];
        final long[] lengths = new long[cuts.length + 1];
        int start = 0;
        for (int i = 0; i <= cuts.length; i++)
        {
            final int end = i < cuts.length ? cuts[i] : whole.length;
            addresses[i] = guest.allocate(Math.max(1, end - start), 8);
            lengths[i] = end - start;
            guest.put(addresses[i], java.util.Arrays.copyOfRange(whole, start, end));
            start = end;
        }
        return new long[][] {addresses, lengths};
    }

    private static int[] ints(final long[] values)
    {
        final int[] result = new int[values.length];
        for (int i = 0; i < values.length; i++)
        {
            result[i] = (int)values[i];
        }
        return result;
    }

    @Test
    void headerAndFrameSplitAnywhereArriveAsOneFrame()
    {
        final byte[] frame = random(1514, 1);
        final long[][] parts = split(new byte[HDR], frame, 3, 12, 100, 1000);
        queue.driver().addChain(parts[0], ints(parts[1]), parts[0].length, false);
        queue.driver().publishAvail();

        assertEquals(1, reader.collectFromGuest(sink, 32));
        queue.device().publishUsed();
        assertEquals(1, sink.frames.size());
        assertArrayEquals(frame, sink.frames.get(0));
        assertEquals(1, queue.driver().usedAvailable());
        assertEquals(0, queue.driver().usedLength(0), "the device writes nothing into a TX chain");
    }

    @Test
    void indirectChainsAndMaximumSizeFrames()
    {
        final byte[] frame = random(VirtioNetHeader.MAX_FRAME_LENGTH, 2);
        final long[][] parts = split(new byte[HDR], frame, HDR, 30000, 60000);
        final long table = guest.allocate(16L * parts[0].length, 16);
        queue.driver().addIndirectChain(table, parts[0], ints(parts[1]), parts[0].length, false);
        queue.driver().publishAvail();

        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertArrayEquals(frame, sink.frames.get(0));
    }

    @Test
    void legacyTenByteHeader()
    {
        final TxReader legacy = new TxReader(queue.device(), VirtioNetHeader.LEGACY_LENGTH);
        final byte[] frame = random(64, 3);
        final long[][] parts = split(new byte[VirtioNetHeader.LEGACY_LENGTH], frame, 10);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, legacy.collectFromGuest(sink, 32));
        assertArrayEquals(frame, sink.frames.get(0));
    }

    @Test
    void fullSinkLeavesFramesInTheGuestQueueInOrder()
    {
        final byte[][] frames = new byte[12][];
        for (int i = 0; i < frames.length; i++)
        {
            frames[i] = random(60 + i, 10 + i);
            final long[][] parts = split(new byte[HDR], frames[i], HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();

        assertEquals(8, reader.collectFromGuest(sink, 32), "the sink holds 8");
        assertEquals(8, queue.device().lastAvailIdx());
        assertEquals(0, reader.collectFromGuest(sink, 32), "still full: nothing consumed");
        sink.capacity = 100;
        assertEquals(4, reader.collectFromGuest(sink, 32));
        for (int i = 0; i < frames.length; i++)
        {
            assertArrayEquals(frames[i], sink.frames.get(i), "frame " + i + " in order");
        }
    }

    @Test
    void burstLimitsFramesPerCall()
    {
        for (int i = 0; i < 10; i++)
        {
            final long[][] parts = split(new byte[HDR], random(64, i), HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();
        sink.capacity = 100;
        assertEquals(4, reader.collectFromGuest(sink, 4));
        assertEquals(4, reader.collectFromGuest(sink, 4));
        assertEquals(2, reader.collectFromGuest(sink, 4));
    }

    @Test
    void gsoFramesAreReturnedAndCountedSinceGsoWasNeverOffered()
    {
        final byte[] header = new byte[HDR];
        header[VirtioNetHeader.GSO_TYPE_OFFSET] = (byte)VirtioNetHeader.GSO_TCPV4;
        final long[][] parts = split(header, random(3000, 5), HDR);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertEquals(0, sink.frames.size());
        assertEquals(1, reader.droppedGso());
        queue.device().publishUsed();
        assertEquals(1, queue.driver().usedAvailable(), "the guest gets its buffer back");
    }

    @Test
    void framesLongerThanTheSinkTakesAreDroppedNotWaitedFor()
    {
        // A NIC slot holds 2040 bytes: a 3000-byte frame can never fit; waiting would block the queue for good.
        sink.maxFrameLength = 2040;
        final byte[] small = random(100, 8);
        for (final byte[] frame : new byte[][] {random(3000, 7), small})
        {
            final long[][] parts = split(new byte[HDR], frame, HDR);
            queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        }
        queue.driver().publishAvail();
        assertEquals(2, reader.collectFromGuest(sink, 32));
        assertEquals(1, reader.droppedTooLong());
        assertEquals(1, sink.frames.size());
        assertArrayEquals(small, sink.frames.get(0), "the frame behind the long one went through");
    }

    @Test
    void framesLongerThan65535AreReturnedAndCounted()
    {
        final long[][] parts = split(new byte[HDR], random(VirtioNetHeader.MAX_FRAME_LENGTH + 1, 6), HDR);
        queue.driver().addChain(parts[0], ints(parts[1]), 2, false);
        queue.driver().publishAvail();
        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertEquals(1, reader.droppedTooLong());
        assertEquals(0, sink.frames.size());
    }

    private static final long HOST_TSO = FeatureBit.VERSION_1.mask() | FeatureBit.CSUM.mask() |
        FeatureBit.HOST_TSO4.mask() | FeatureBit.HOST_TSO6.mask();

    /** @return a 12-byte virtio_net_hdr as a driver writes it (little-endian). */
    private static byte[] vnetHeader(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset)
    {
        final ByteBuffer b = ByteBuffer.allocate(HDR).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte)flags).put((byte)gsoType).putShort((short)hdrLen).putShort((short)gsoSize)
            .putShort((short)csumStart).putShort((short)csumOffset).putShort((short)0);
        return b.array();
    }

    /**
     * Adds a chain of header + frame in four buffers.
     *
     * @return addresses and lengths of the buffers: the frame's bytes 0..19 are in buffer 1, 20..2999 in buffer 2.
     */
    private long[][] post(final byte[] header, final byte[] frame)
    {
        // Split inside the headers too, as a guest's skb may be (linear part, then pages).
        final long[][] parts = split(header, frame, HDR, HDR + 20, HDR + Math.min(frame.length - 1, 3000));
        queue.driver().addChain(parts[0], ints(parts[1]), parts[0].length, false);
        return parts;
    }

    @Test
    void hostileOffloadHeadersAreDroppedAndCountedWithoutBreakingTheQueue()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tcp = TcpFrames.ipv4Tcp(3000, 0x18, true);
        final byte[][] hostile = {
            vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, tcp.length, 0),                 // csum_start beyond the frame
            vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, tcp.length - 34 - 1),       // csum field past the end
            vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 4, 16),                         // csum_start inside Ethernet
            vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 0, 34, 16),                      // gso_size 0
            vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 0xFFFF, 34, 16),                 // GSO_BY_FRAGS
            vnetHeader(F_NEEDS_CSUM, 2, 54, 1448, 34, 16),                           // unknown gso_type
            vnetHeader(F_NEEDS_CSUM, GSO_UDP, 54, 1448, 34, 16),                     // UFO, not offered
            vnetHeader(F_NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 54, 1448, 34, 16),         // ECN, HOST_ECN not offered
            vnetHeader(0, GSO_TCPV4, 54, 1448, 34, 16),                              // GSO without NEEDS_CSUM
            vnetHeader(F_NEEDS_CSUM, GSO_TCPV6, 54, 1448, 34, 16),                   // TCPV6 on an IPv4 frame
            vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 6),                    // not the TCP checksum
        };
        for (final byte[] header : hostile)
        {
            post(header, tcp);
        }
        // Segments of gso_size 9000 would not fit the port's MTU frames: too long, whoever would cut them.
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 9000, 34, 16), tcp);
        // Behind them valid ones: 10 payload bytes with gso_size 8 make two segments; hdr_len beyond the frame is
        // only a hint the device must not rely on (§5.1.6.2.2): 3000 bytes with gso_size 1448 make three.
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 0, 8, 34, 16), TcpFrames.ipv4Tcp(10, 0x18, true));
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, tcp.length + 1, 1448, 34, 16), tcp);
        queue.driver().publishAvail();
        sink.capacity = 1000;
        sink.maxFrameLength = 1514;

        assertEquals(hostile.length + 3, offloads.collectFromGuest(sink, 64));
        queue.device().publishUsed();
        assertEquals(hostile.length, offloads.droppedBadHeader(), "every hostile header counted once");
        assertEquals(1, offloads.droppedTooLong(), "segments larger than the port's frames");
        assertEquals(5, sink.frames.size(), "only the valid frames went out, in two and three segments");
        assertEquals(2, offloads.segmented());
        assertNull(queue.device().brokenReason(), "a bad header is the frame's problem, not the queue's");
        assertEquals(hostile.length + 3, queue.driver().usedAvailable(), "the guest gets every buffer back");
        assertEquals(hostile.length + 3, offloads.takenFrames(), "every chain taken is counted as taken");
        assertEquals(offloads.takenFrames(), offloads.sentFrames() + offloads.droppedBadHeader() +
            offloads.droppedTooLong() + offloads.droppedGso(), "taken = sent + dropped by cause");
        assertEquals(5, offloads.nicFrames(), "the port got the segments");
    }

    @Test
    void aGuestTsoFrameIsSegmentedIntoValidMtuFramesForAPlainSink()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final int payload = VirtioNetHeader.MAX_FRAME_LENGTH - 54;  // the longest frame a guest may send
        final byte[] tso = TcpFrames.ipv4Tcp(payload, 0x19, true);  // FIN|PSH|ACK: FIN and PSH go to the last only
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1460, 34, 16), tso);
        queue.driver().publishAvail();
        sink.capacity = 1000;
        sink.maxFrameLength = 1514;

        assertEquals(1, offloads.collectFromGuest(sink, 32));
        final int count = (payload + 1459) / 1460;
        assertEquals(count, sink.frames.size());
        assertEquals(1, offloads.segmented());
        assertEquals(1, offloads.sentFrames());
        assertEquals(1, offloads.takenFrames());
        assertEquals(count, offloads.nicFrames(), "one NIC frame per segment");
        assertEquals(tso.length, offloads.sentBytes(), "bytes the guest sent");
        final ByteBuffer joined = ByteBuffer.allocate(payload);
        for (int i = 0; i < count; i++)
        {
            final byte[] seg = sink.frames.get(i);
            assertTrue(seg.length <= 1514, "segment " + i + " fits the MTU: " + seg.length);
            assertEquals(0xFFFF, TcpFrames.sum16(seg, 14, 34, 0), "IPv4 header checksum of segment " + i);
            assertTrue(TcpFrames.l4ChecksumValid(seg, false, 6), "TCP checksum of segment " + i);
            assertEquals(seg.length - 14, ByteBuffer.wrap(seg, 16, 2).getShort() & 0xFFFF, "IPv4 total length");
            assertEquals((0x1234 + i) & 0xFFFF, ByteBuffer.wrap(seg, 18, 2).getShort() & 0xFFFF, "IPv4 id");
            assertEquals((int)(0xFFFFF000L + 1460L * i), ByteBuffer.wrap(seg, 38, 4).getInt(), "sequence number");
            assertEquals(i == count - 1 ? 0x19 : 0x10, seg[47] & 0xFF, "flags of segment " + i);
            joined.put(seg, 54, seg.length - 54);
        }
        assertArrayEquals(Arrays.copyOfRange(tso, 54, tso.length), joined.array(), "the payload, in order, whole");
    }

    @Test
    void anIpv6TsoFrameIsSegmentedWithValidChecksums()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv6Tcp(20000);
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV6, 86, 1428, 54, 16), tso);
        queue.driver().publishAvail();
        sink.capacity = 1000;
        sink.maxFrameLength = 1514;

        assertEquals(1, offloads.collectFromGuest(sink, 32));
        assertEquals((20000 + 1427) / 1428, sink.frames.size());
        for (final byte[] seg : sink.frames)
        {
            assertEquals(seg.length - 54, ByteBuffer.wrap(seg, 18, 2).getShort() & 0xFFFF, "IPv6 payload length");
            assertTrue(TcpFrames.l4ChecksumValid(seg, true, 6), "TCP checksum");
        }
    }

    @Test
    void aPartialChecksumIsCompletedForAPlainSink()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tcp = TcpFrames.ipv4Tcp(1001, 0x18, true);
        assertFalse(TcpFrames.l4ChecksumValid(tcp, false, 6), "partial before");
        post(vnetHeader(F_NEEDS_CSUM | 0x40, GSO_NONE, 0, 0, 34, 16), tcp);   // an unknown flag bit is ignored
        queue.driver().publishAvail();

        assertEquals(1, offloads.collectFromGuest(sink, 32));
        assertEquals(1, offloads.checksumsCompleted());
        assertTrue(TcpFrames.l4ChecksumValid(sink.frames.get(0), false, 6), "valid after");
    }

    @Test
    void aSinkThatTakesOffloadsGetsTheFrameWholeWithARebuiltHeader()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        sink.maxOffloadFrameLength = 65478;
        final byte[] tso = TcpFrames.ipv4Tcp(60000, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 128, 1448, 34, 16), tso);   // hdr_len is only a hint
        final byte[] partial = TcpFrames.ipv4Tcp(500, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), partial);
        queue.driver().publishAvail();

        assertEquals(2, offloads.collectFromGuest(sink, 32));
        assertEquals(2, offloads.offloadsPassed());
        assertArrayEquals(tso, sink.frames.get(0), "the frame as the guest sent it");
        assertArrayEquals(Arrays.copyOf(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), 10),
            sink.offloadHeaders.get(0), "hdr_len exact");
        assertArrayEquals(partial, sink.frames.get(1));
        assertArrayEquals(Arrays.copyOf(vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), 10),
            sink.offloadHeaders.get(1));
    }

    @Test
    void aSinkFillingBetweenSegmentsResumesAtTheSegmentThatDidNotFit()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(30000, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1000, 34, 16), tso);
        final byte[] next = random(100, 77);
        post(new byte[HDR], next);
        queue.driver().publishAvail();
        sink.capacity = 7;

        assertEquals(0, offloads.collectFromGuest(sink, 32), "the frame stays in the guest's queue");
        assertEquals(7, sink.frames.size());
        assertEquals(0, offloads.collectFromGuest(sink, 32));
        sink.capacity = 1000;
        assertEquals(2, offloads.collectFromGuest(sink, 32));
        assertEquals(31, sink.frames.size(), "30 segments, none twice, then the next frame");
        for (int i = 0; i < 30; i++)
        {
            assertEquals((int)(0xFFFFF000L + 1000L * i), ByteBuffer.wrap(sink.frames.get(i), 38, 4).getInt());
        }
        assertArrayEquals(next, sink.frames.get(30));
    }

    /**
     * A guest racing the device: it rewrites a GSO frame's IPv4 header (IHL 4) just after the device looked at it, at
     * the moment the sink's claim stands for. The headers checked must be those of the copy that goes to the sink:
     * nothing is committed (the claim is given back), the frame counts as a bad header and the guest gets its buffer
     * back; the frame behind it goes out in the same room.
     */
    @Test
    void aGsoFrameRewrittenWhileTheDeviceChecksItIsNotPassedOn()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(20000, 0x18, true);
        final long[][] parts = post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), tso);
        final byte[] next = TcpFrames.ipv4Tcp(9000, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), next);
        queue.driver().publishAvail();
        final long versionIhl = parts[0][1] + 14;
        final RecordingSink racing = new RecordingSink(8)
        {
            private boolean raced;

            @Override
            public long claim(final int frameLength)
            {
                if (!raced)
                {
                    raced = true;
                    guest.put(versionIhl, new byte[] {0x44});
                }
                return super.claim(frameLength);
            }
        };
        racing.setMaxOffloadFrameLength(65478);
        racing.maxFrameLength = 1514;

        assertEquals(2, offloads.collectFromGuest(racing, 32));
        queue.device().publishUsed();
        assertEquals(1, offloads.droppedBadHeader(), "judged by the copy it would have sent");
        assertEquals(1, racing.abandoned);
        assertEquals(1, racing.frames.size(), "only the frame behind it");
        assertArrayEquals(next, racing.frames.get(0));
        assertEquals(1, offloads.offloadsPassed());
        assertEquals(2, queue.driver().usedAvailable(), "the guest gets both buffers back");
        assertNull(queue.device().brokenReason());
        racing.arena.close();
    }

    /**
     * While the sink is full between segments the frame stays in the guest's queue, but it is not read from there
     * again: the guest rewriting its payload meanwhile (a buffer it made available is not its own until used) changes
     * none of the later segments, which are cut from the copy the first ones came from.
     */
    @Test
    void aFrameCutShortGoesOnFromTheCopyItWasCheckedIn()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(30000, 0x18, true);
        final long[][] parts = post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1000, 34, 16), tso);
        queue.driver().publishAvail();
        sink.capacity = 7;
        sink.maxFrameLength = 1514;

        assertEquals(0, offloads.collectFromGuest(sink, 32));
        assertEquals(7, sink.frames.size());
        guest.put(parts[0][3], random((int)parts[1][3], 99));
        assertEquals(0, offloads.collectFromGuest(sink, 32), "still full");
        sink.capacity = 1000;
        assertEquals(1, offloads.collectFromGuest(sink, 32));

        assertEquals(30, sink.frames.size());
        final ByteBuffer joined = ByteBuffer.allocate(30000);
        for (int i = 0; i < 30; i++)
        {
            final byte[] seg = sink.frames.get(i);
            assertTrue(TcpFrames.l4ChecksumValid(seg, false, 6), "TCP checksum of segment " + i);
            joined.put(seg, 54, seg.length - 54);
        }
        assertArrayEquals(Arrays.copyOfRange(tso, 54, tso.length), joined.array(), "the payload as first copied");
        assertEquals(1, offloads.segmented());
        assertEquals(2, offloads.sinkFull());
    }

    /** A reader that replaces another (the queue restarted) takes its totals, not its copy of a frame cut short. */
    @Test
    void aReplacingReaderReadsAFrameCutShortAfresh()
    {
        final TxReader first = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(30000, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1000, 34, 16), tso);
        queue.driver().publishAvail();
        sink.capacity = 7;
        sink.maxFrameLength = 1514;
        assertEquals(0, first.collectFromGuest(sink, 32));

        final TxReader second = new TxReader(queue.device(), HDR, HOST_TSO);
        second.continueFrom(first);
        sink.capacity = 1000;
        assertEquals(1, second.collectFromGuest(sink, 32));
        assertEquals(7 + 30, sink.frames.size(), "every segment from the first, cut from a new copy");
        for (int i = 0; i < 30; i++)
        {
            assertEquals((int)(0xFFFFF000L + 1000L * i), ByteBuffer.wrap(sink.frames.get(7 + i), 38, 4).getInt());
        }
        assertEquals(1, second.sinkFull(), "the totals go on");
        assertEquals(1, second.segmented());
    }

    /** Resuming a frame cut short, poll after poll while the sink takes a few segments at a time, allocates nothing. */
    @Test
    void resumingAFrameCutShortAllocatesNothing()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(30000, 0x18, true);
        final long[][] chain = split(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1000, 34, 16), tso, HDR, HDR + 100);
        final int[] lengths = ints(chain[1]);
        final RationedSink rationed = new RationedSink();
        final LongSupplier frames = () ->
        {
            long polls = 0;
            for (int f = 0; f < 50; f++)
            {
                queue.driver().addChain(chain[0], lengths, 3, false);
                queue.driver().publishAvail();
                int consumed = 0;
                while (consumed == 0)
                {
                    rationed.budget = 7;
                    consumed = offloads.collectFromGuest(rationed, 32);
                    polls++;
                }
                queue.device().publishUsed();
                queue.driver().releaseUsed(queue.driver().usedAvailable());
            }
            return polls;
        };
        for (int i = 0; i < 100; i++)
        {
            frames.getAsLong();
        }
        final long before = offloads.sinkFull();
        AllocationMeter.assertSomeWindowAllocatesNothing("TX resuming segments", 3, frames);
        assertTrue(offloads.sinkFull() - before >= 4 * 50, "every frame took five polls");
        assertEquals(0, offloads.droppedBadHeader());
        rationed.arena.close();
    }

    /** Takes {@link #budget} frames, then is full until the budget is raised again. */
    private static final class RationedSink extends RecordingSink
    {
        int budget;

        RationedSink()
        {
            super(Integer.MAX_VALUE);
        }

        @Override
        public long claim(final int frameLength)
        {
            if (budget == 0)
            {
                return 0;
            }
            budget--;
            return super.claim(frameLength);
        }

        @Override
        public void commit(final int frameLength)
        {
            ended(frameLength);
        }
    }

    @Test
    void withoutCsumNegotiatedTheHeaderIsNotTrusted()
    {
        final byte[] tcp = TcpFrames.ipv4Tcp(100, 0x18, true);
        post(vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), tcp);
        queue.driver().publishAvail();
        assertEquals(1, reader.collectFromGuest(sink, 32));
        assertArrayEquals(tcp, sink.frames.get(0), "sent as it is: flags must be 0 without CSUM (§5.1.6.2.1)");
        assertEquals(0, reader.checksumsCompleted());
    }

    @Test
    void offloadPathsAllocateNothing()
    {
        final TxReader offloads = new TxReader(queue.device(), HDR, HOST_TSO);
        final byte[] tso = TcpFrames.ipv4Tcp(8000, 0x18, true);
        final byte[] partial = TcpFrames.ipv4Tcp(1000, 0x18, true);
        final long[][] tsoChain = split(vnetHeader(F_NEEDS_CSUM, GSO_TCPV4, 54, 1460, 34, 16), tso, HDR, HDR + 100);
        final long[][] partialChain = split(vnetHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), partial, HDR);
        final int[] tsoLengths = ints(tsoChain[1]);
        final int[] partialLengths = ints(partialChain[1]);
        final RecordingSink[] sinks = {new CountingSink(0), new CountingSink(65478)};
        final Runnable round = () ->
        {
            for (final RecordingSink target : sinks)
            {
                for (int i = 0; i < 8; i++)
                {
                    queue.driver().addChain(tsoChain[0], tsoLengths, 3, false);
                    queue.driver().addChain(partialChain[0], partialLengths, 2, false);
                }
                queue.driver().publishAvail();
                assertEquals(16, offloads.collectFromGuest(target, 32));
                queue.device().publishUsed();
                queue.driver().releaseUsed(queue.driver().usedAvailable());
            }
        };
        for (int i = 0; i < 200; i++)
        {
            round.run();
        }
        AllocationMeter.assertSomeWindowAllocatesNothing("TX offloads: segmented, checksummed, passed", 3, () ->
        {
            for (int i = 0; i < 200; i++)
            {
                round.run();
            }
            return 200L * 32;
        });
        assertEquals(0, offloads.droppedBadHeader());
        assertTrue(offloads.segmented() > 0 && offloads.checksumsCompleted() > 0 && offloads.offloadsPassed() > 0);
        for (final RecordingSink target : sinks)
        {
            target.arena.close();
        }
    }

    /** A recording sink that keeps nothing, for the allocation test. */
    private static final class CountingSink extends RecordingSink
    {
        CountingSink(final int maxOffloadFrameLength)
        {
            super(Integer.MAX_VALUE);
            setMaxOffloadFrameLength(maxOffloadFrameLength);
        }

        @Override
        public void commit(final int frameLength)
        {
            ended(frameLength);
        }

        @Override
        public void commitOffload(final int frameLength, final long vnetHeader)
        {
            ended(frameLength);
        }
    }
}
