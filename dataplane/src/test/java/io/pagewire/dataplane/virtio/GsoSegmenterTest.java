package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.TcpFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.pagewire.dataplane.virtio.GsoSegmenter.TCP_OFFLOAD_INVALID;
import static io.pagewire.dataplane.virtio.GsoSegmenter.TCP_OFFLOAD_SEGMENT_ONLY;
import static io.pagewire.dataplane.virtio.GsoSegmenter.TCP_OFFLOAD_VALID;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_ECN;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV4;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV6;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The offload header rules both directions share ({@link GsoSegmenter#checksumFieldsValid},
 * {@link GsoSegmenter#checkTcpOffload}), one rule per case, each at its edge.
 */
class GsoSegmenterTest
{
    private final Arena arena = Arena.ofConfined();
    private final GsoSegmenter segmenter = new GsoSegmenter();

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private long offHeap(final byte[] frame)
    {
        final MemorySegment segment = arena.allocate(frame.length, 64);
        segment.copyFrom(MemorySegment.ofArray(frame));
        return segment.address();
    }

    @Test
    void checksumFieldsLieAfterTheEthernetHeaderAndInsideTheFrame()
    {
        assertTrue(GsoSegmenter.checksumFieldsValid(false, 0, 60000, 60), "without NEEDS_CSUM they mean nothing");
        assertTrue(GsoSegmenter.checksumFieldsValid(true, 14, 44, 60), "the field's last byte is the frame's");
        assertFalse(GsoSegmenter.checksumFieldsValid(true, 14, 45, 60), "one byte past the end");
        assertFalse(GsoSegmenter.checksumFieldsValid(true, 13, 16, 60), "inside the Ethernet header");
        assertFalse(GsoSegmenter.checksumFieldsValid(true, 0xFFFF, 0xFFFF, 60), "no int overflow");
    }

    @Test
    void tcpGsoVerdicts()
    {
        final long v4 = offHeap(TcpFrames.ipv4Tcp(3000, 0x18, true));
        final int length = 54 + 3000;
        assertEquals(TCP_OFFLOAD_VALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 1448, true, 34, 16));
        assertEquals(54, segmenter.headersLength());
        assertEquals(TCP_OFFLOAD_VALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV4 | GSO_ECN, 1448, true, 34, 16),
            "ECN is the caller's to negotiate");
        assertEquals(TCP_OFFLOAD_VALID, segmenter.checkTcpOffload(v4, GsoSegmenter.MAX_HEADERS_LENGTH, GSO_TCPV4,
            GsoSegmenter.MIN_GSO_SIZE, true, 34, 16), "the headers' prefix is enough");
        assertEquals(TCP_OFFLOAD_VALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, GsoSegmenter.MAX_GSO_SIZE,
            true, 34, 16));

        assertEquals(TCP_OFFLOAD_SEGMENT_ONLY, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 1448, false, 34, 16),
            "no NEEDS_CSUM");
        assertEquals(TCP_OFFLOAD_SEGMENT_ONLY, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 1448, true, 14, 36),
            "csum_start not at TCP");
        assertEquals(TCP_OFFLOAD_SEGMENT_ONLY, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 1448, true, 34, 6),
            "not the TCP checksum field");

        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 7, true, 34, 16),
            "gso_size below the minimum");
        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV4, 0xFFFF, true, 34, 16),
            "GSO_BY_FRAGS");
        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, length, GSO_UDP, 1448, true, 34, 16), "UFO");
        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, length, 2, 1448, true, 34, 16), "unknown");
        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, length, GSO_TCPV6, 1448, true, 34, 16),
            "TCPV6 on an IPv4 frame");
        assertEquals(TCP_OFFLOAD_INVALID, segmenter.checkTcpOffload(v4, 53, GSO_TCPV4, 1448, true, 34, 16),
            "the TCP header cut short");

        final long v6 = offHeap(TcpFrames.ipv6Tcp(3000));
        assertEquals(TCP_OFFLOAD_VALID, segmenter.checkTcpOffload(v6, 86 + 3000, GSO_TCPV6, 1428, true, 54, 16));
        assertEquals(86, segmenter.headersLength(), "TCP options counted");
    }
}
