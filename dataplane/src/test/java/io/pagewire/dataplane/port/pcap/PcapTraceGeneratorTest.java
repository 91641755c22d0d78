package io.pagewire.dataplane.port.pcap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The synthetic trace: reproducible from its seed (the shipped trace is exactly what its documented command makes),
 * a valid capture of valid IPv4/UDP frames of mixed sizes, in time order.
 */
class PcapTraceGeneratorTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    @TempDir
    Path dir;

    @Test
    void theShippedTraceIsWhatPcapGenMakes() throws Exception
    {
        // perf/traces/README.md: pagewire pcap-gen perf/traces/imix-500.pcap (500 frames, 1000 us, seed 1).
        final Path shipped = Path.of("..", "perf", "traces", "imix-500.pcap");
        assertArrayEquals(PcapTraceGenerator.generate(500, 1_000_000, 1), Files.readAllBytes(shipped));
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes()
    {
        assertArrayEquals(PcapTraceGenerator.generate(50, 10_000, 7), PcapTraceGenerator.generate(50, 10_000, 7));
        assertTrue(!java.util.Arrays.equals(
            PcapTraceGenerator.generate(50, 10_000, 7), PcapTraceGenerator.generate(50, 10_000, 8)));
    }

    @Test
    void framesAreValidIpv4UdpOfMixedSizesInTimeOrder() throws Exception
    {
        final Path path = Files.write(dir.resolve("t.pcap"), PcapTraceGenerator.generate(400, 100_000, 3));
        try (PcapFile file = PcapFile.open(path))
        {
            assertEquals(400, file.records());
            assertEquals(400, file.deliverableRecords());
            assertTrue(file.nanoseconds());
            final Set<Integer> sizes = new HashSet<>();
            long offset = file.firstRecordOffset();
            long previous = 0;
            for (int i = 0; i < 400; i++)
            {
                final int caplen = file.caplen(offset);
                assertTrue(caplen >= 60 && caplen <= 1514, "length " + caplen);
                sizes.add(caplen);
                final long time = file.timestampNs(offset);
                assertTrue(time > previous, "strictly increasing time at frame " + i);
                previous = time;
                final ByteBuffer frame = ByteBuffer.wrap(
                    ALL.asSlice(file.frameAddress(offset), caplen).toArray(ValueLayout.JAVA_BYTE))
                    .order(ByteOrder.BIG_ENDIAN);
                assertEquals(0x0800, frame.getShort(12) & 0xFFFF);
                assertEquals(0x45, frame.get(14) & 0xFF);
                assertEquals(caplen - 14, frame.getShort(16) & 0xFFFF);
                assertEquals(17, frame.get(23));
                int sum = 0;
                for (int b = 14; b < 34; b += 2)
                {
                    sum += frame.getShort(b) & 0xFFFF;
                }
                sum = (sum & 0xFFFF) + (sum >>> 16);
                sum = (sum & 0xFFFF) + (sum >>> 16);
                assertEquals(0xFFFF, sum, "IPv4 header checksum of frame " + i);
                assertEquals(caplen - 34, frame.getShort(38) & 0xFFFF);
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
            assertTrue(sizes.contains(60) && sizes.contains(590) && sizes.contains(1514) && sizes.size() > 20,
                "mixed sizes: " + sizes.size());
        }
    }
}
