package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.TcpFrames;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest's TSO frame leaving through a real kernel: the test's driver posts a 60 000-byte TCP frame with a
 * GSO_TCPV4 header (and a frame with only a partial checksum) on a transmit queue in fake guest memory; a
 * {@link TxReader} that negotiated CSUM/HOST_TSO4 hands them to an AF_PACKET port on a veth whose offloads are off.
 * <ul>
 *   <li>With vnet_hdr the frame leaves whole with its virtio_net_hdr and the kernel segments and checksums it on the
 *       way to the veth ({@code tpacket_snd} → {@code virtio_net_hdr_to_skb} → software GSO);</li>
 *   <li>without, pagewire segments and checksums it itself ({@code GsoSegmenter}).</li>
 * </ul>
 * Either way a packet socket on the namespace's end must see MTU-sized TCP segments with valid IPv4 and TCP checksums
 * whose payloads, in sequence order, are the guest's payload.
 */
@Tag("interop")
class AfPacketTxGsoInteropTest
{
    private static final int HDR = VirtioNetHeader.MRG_RXBUF_LENGTH;
    private static final int PAYLOAD = 60000;
    private static final int MSS = 1448;
    private static final int PARTIAL_PAYLOAD = 500;
    private static final int FIN_ACK = 0x11;

    @ParameterizedTest(name = "vnet_hdr={0}")
    @ValueSource(booleans = {true, false})
    void aGuestTsoFrameArrivesAsValidTcpSegments(final boolean vnetHdr) throws Exception
    {
        try (VethPair veth = VethPair.create(true, false);
            AfPacketNicPort port = AfPacketNicPort.open(
                AfPacketNicPortTest.config(veth.hostEnd(), 1 << 16, 8, 2048, vnetHdr), null);
            AfPacketNicPort capture = NetworkNamespace.call(veth.namespace(), () -> AfPacketNicPort.open(
                AfPacketNicPortTest.config(veth.peerEnd(), 1 << 16, 64, 2048, false), null));
            FakeGuestMemory guest = FakeGuestMemory.ofSize(8L << 20))
        {
            if (vnetHdr)
            {
                assertTrue(port.maxOffloadFrameLength() >= PAYLOAD + 54, "64 KiB transmit slots: " + port.describe());
            }
            final TestVirtqueue tx = TestVirtqueue.of(guest, 64);
            final long features = FeatureBit.VERSION_1.mask() | FeatureBit.CSUM.mask() | FeatureBit.HOST_TSO4.mask();
            final TxReader reader = new TxReader(tx.device(), HDR, features);
            final byte[] tso = TcpFrames.ipv4Tcp(PAYLOAD, 0x18, true);
            final byte[] partial = TcpFrames.ipv4Tcp(PARTIAL_PAYLOAD, FIN_ACK, true);
            // A guest computes the IPv4 header checksum itself (only the TCP checksum is offloaded).
            final int ipSum = ~TcpFrames.sum16(partial, 14, 34, 0) & 0xFFFF;
            partial[24] = (byte)(ipSum >> 8);
            partial[25] = (byte)ipSum;
            post(guest, tx, header(VirtioNetHeader.GSO_TCPV4, 54, MSS), tso);
            post(guest, tx, header(VirtioNetHeader.GSO_NONE, 0, 0), partial);
            tx.driver().publishAvail();

            assertEquals(2, reader.collectFromGuest(port, 32));
            tx.device().publishUsed();
            port.flush();
            assertEquals(0, reader.droppedBadHeader() + reader.droppedTooLong());
            assertEquals(vnetHdr ? 2 : 0, reader.offloadsPassed(), "handed to the kernel with their header");
            assertEquals(vnetHdr ? 0 : 1, reader.segmented(), "segmented here");

            final int expectedSegments = (PAYLOAD + MSS - 1) / MSS;
            final byte[] payload = new byte[PAYLOAD];
            int segments = 0;
            int payloadBytes = 0;
            boolean partialSeen = false;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while ((segments < expectedSegments || !partialSeen) && System.nanoTime() - deadline < 0)
            {
                final int n = capture.rxAvailable();
                for (int i = 0; i < n; i++)
                {
                    final int length = capture.rxFrameLength(i);
                    final byte[] f = MemorySegment.ofAddress(capture.rxFrameAddress(i)).reinterpret(length)
                        .toArray(ValueLayout.JAVA_BYTE);
                    if (length < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6 ||
                        ByteBuffer.wrap(f, 34, 2).getShort() != (short)40000)
                    {
                        continue;
                    }
                    assertTrue(length <= 1514, "a " + length + "-byte frame on a 1500-byte MTU veth");
                    assertEquals(0xFFFF, TcpFrames.sum16(f, 14, 34, 0), "IPv4 header checksum");
                    assertTrue(TcpFrames.l4ChecksumValid(f, false, 6), "TCP checksum of a " + length + "-byte frame");
                    if ((f[47] & 0xFF) == FIN_ACK)
                    {
                        assertArrayEquals(Arrays.copyOfRange(partial, 54, partial.length),
                            Arrays.copyOfRange(f, 54, length), "the partial-checksum frame's payload");
                        partialSeen = true;
                        continue;
                    }
                    // The frame's sequence number starts at 0xFFFFF000 and wraps past 2^32 on the way.
                    final int offset = (int)((ByteBuffer.wrap(f, 38, 4).getInt() - 0xFFFFF000L) & 0xFFFFFFFFL);
                    assertTrue(offset % MSS == 0 && offset + length - 54 <= PAYLOAD, "segment at offset " + offset);
                    System.arraycopy(f, 54, payload, offset, length - 54);
                    payloadBytes += length - 54;
                    segments++;
                }
                capture.rxRelease(n);
            }
            System.out.printf("af_packet TX GSO interop (vnet_hdr=%s): %d segments, %d payload bytes, partial " +
                "checksum frame %s%n", vnetHdr, segments, payloadBytes, partialSeen ? "valid" : "missing");
            assertEquals(expectedSegments, segments, "the 60 000-byte frame as MSS-sized segments");
            assertEquals(PAYLOAD, payloadBytes);
            assertArrayEquals(Arrays.copyOfRange(tso, 54, tso.length), payload, "the guest's payload, whole");
            assertTrue(partialSeen, "the partial-checksum frame arrived with a valid checksum");
        }
    }

    private static byte[] header(final int gsoType, final int hdrLen, final int gsoSize)
    {
        return ByteBuffer.allocate(HDR).order(ByteOrder.LITTLE_ENDIAN)
            .put((byte)VirtioNetHeader.F_NEEDS_CSUM).put((byte)gsoType).putShort((short)hdrLen)
            .putShort((short)gsoSize).putShort((short)34).putShort((short)16).putShort((short)0).array();
    }

    /** Posts header and frame as a Linux guest does: the header plus linear headers, then the payload in pages. */
    private static void post(final FakeGuestMemory guest, final TestVirtqueue tx, final byte[] header,
        final byte[] frame)
    {
        final long first = guest.allocate(HDR + 54, 64);
        guest.put(first, header);
        guest.put(first + HDR, Arrays.copyOf(frame, 54));
        final long rest = guest.allocate(frame.length - 54, 4096);
        guest.put(rest, Arrays.copyOfRange(frame, 54, frame.length));
        tx.driver().addChain(new long[] {first, rest}, new int[] {HDR + 54, frame.length - 54}, 2, false);
    }
}
