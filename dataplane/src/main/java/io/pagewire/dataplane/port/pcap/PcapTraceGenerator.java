package io.pagewire.dataplane.port.pcap;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Makes a synthetic but realistic Ethernet capture, deterministically from a seed, for replay through
 * {@code nic.type=pcap} (latency profiling, demos, tests): IPv4/UDP frames between a few hosts and flows, sizes from
 * a simple IMIX (7 : 4 : 1 of 60, 590 and 1514 bytes without FCS) mixed with uniformly random sizes, and bursty
 * timing: exponentially distributed gaps around a mean, with short back-to-back bursts at wire speed.
 * <p>
 * The same seed and parameters give the same bytes (timestamps start at a fixed epoch time), so a trace shipped in
 * the repository can be regenerated and checked: {@code pagewire pcap-gen}.
 */
public final class PcapTraceGenerator
{
    /** 2026-01-01T00:00:00Z in ns: where every generated trace's clock starts. */
    public static final long EPOCH_START_NS = 1_767_225_600_000_000_000L;
    private static final int ETHERNET_HEADER = 14;
    private static final int IPV4_HEADER = 20;
    private static final int UDP_HEADER = 8;
    private static final int MIN_FRAME = 60;
    private static final int MAX_FRAME = 1514;
    /** Wire time of one byte at 10 Gb/s is 0.8 ns; bursts are sent back to back at that speed. */
    private static final double BURST_NS_PER_BYTE = 0.8;

    private PcapTraceGenerator()
    {
    }

    /**
     * @param frames    frames in the trace, at least 1.
     * @param meanGapNs mean of the exponentially distributed gaps between frames outside bursts, at least 1000.
     * @param seed      the random seed.
     * @return the capture file's bytes: classic pcap, little-endian, nanosecond timestamps, link type Ethernet.
     */
    public static byte[] generate(final int frames, final long meanGapNs, final long seed)
    {
        if (frames < 1)
        {
            throw new IllegalArgumentException("frames=" + frames + ": must be at least 1");
        }
        if (meanGapNs < 1000)
        {
            throw new IllegalArgumentException("mean gap=" + meanGapNs + " ns: must be at least 1000");
        }
        final SplittableRandom random = new SplittableRandom(seed);
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final UnsafeBuffer header = new UnsafeBuffer(new byte[PcapFormat.FILE_HEADER_LENGTH]);
        PcapWriter.writeFileHeader(header, 0, true, PcapFormat.WRITE_SNAPLEN);
        out.writeBytes(header.byteArray());

        final UnsafeBuffer record = new UnsafeBuffer(new byte[PcapFormat.RECORD_HEADER_LENGTH + MAX_FRAME]);
        long timeNs = EPOCH_START_NS;
        int burstLeft = 0;
        int previousLength = 0;
        for (int i = 0; i < frames; i++)
        {
            if (i > 0)
            {
                if (burstLeft > 0)
                {
                    burstLeft--;
                    timeNs += (long)Math.ceil((previousLength + 24) * BURST_NS_PER_BYTE);
                }
                else
                {
                    // Exponential gap (Poisson arrivals); one gap in ten starts a burst of 2..16 frames.
                    timeNs += 1 + (long)(-Math.log(1.0 - random.nextDouble()) * meanGapNs);
                    if (random.nextInt(10) == 0)
                    {
                        burstLeft = 1 + random.nextInt(15);
                    }
                }
            }
            final int length = frameLength(random);
            final int flow = random.nextInt(8);
            writeFrame(record, PcapFormat.RECORD_HEADER_LENGTH, length, flow, i);
            PcapWriter.writeRecordHeader(record, 0, timeNs, true, length, length);
            out.write(record.byteArray(), 0, PcapFormat.RECORD_HEADER_LENGTH + length);
            previousLength = length;
        }
        return out.toByteArray();
    }

    private static int frameLength(final SplittableRandom random)
    {
        final int pick = random.nextInt(16);
        if (pick < 7)
        {
            return MIN_FRAME;
        }
        if (pick < 11)
        {
            return 590;
        }
        if (pick < 12)
        {
            return MAX_FRAME;
        }
        return MIN_FRAME + random.nextInt(MAX_FRAME - MIN_FRAME + 1);
    }

    /**
     * Writes an IPv4/UDP frame from host 10.0.0.(1 + flow % 4) port 4000 + flow to 10.0.1.(1 + flow / 4) port 9 (discard),
     * with a valid IP header checksum, UDP checksum 0 (none, allowed over IPv4), and a payload counting bytes from
     * the frame's sequence number. Frames shorter than the headers' 42 bytes cannot happen (at least 60).
     */
    private static void writeFrame(
        final UnsafeBuffer buffer, final int offset, final int length, final int flow, final int sequence)
    {
        final ByteOrder be = ByteOrder.BIG_ENDIAN;
        // Ethernet: locally administered unicast MACs derived from the hosts.
        buffer.putInt(offset, 0x0200_0a00, be);
        buffer.putShort(offset + 4, (short)(0x0100 | (1 + flow / 4)), be);
        buffer.putInt(offset + 6, 0x0200_0a00, be);
        buffer.putShort(offset + 10, (short)(1 + flow % 4), be);
        buffer.putShort(offset + 12, (short)0x0800, be);

        final int ip = offset + ETHERNET_HEADER;
        final int ipLength = length - ETHERNET_HEADER;
        buffer.putByte(ip, (byte)0x45);
        buffer.putByte(ip + 1, (byte)0);
        buffer.putShort(ip + 2, (short)ipLength, be);
        buffer.putShort(ip + 4, (short)sequence, be);
        buffer.putShort(ip + 6, (short)0x4000, be);
        buffer.putByte(ip + 8, (byte)64);
        buffer.putByte(ip + 9, (byte)17);
        buffer.putShort(ip + 10, (short)0, be);
        buffer.putInt(ip + 12, 0x0a00_0000 | (1 + flow % 4), be);
        buffer.putInt(ip + 16, 0x0a00_0100 | (1 + flow / 4), be);
        int sum = 0;
        for (int i = 0; i < IPV4_HEADER; i += 2)
        {
            sum += buffer.getShort(ip + i, be) & 0xFFFF;
        }
        while ((sum >>> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        buffer.putShort(ip + 10, (short)~sum, be);

        final int udp = ip + IPV4_HEADER;
        buffer.putShort(udp, (short)(4000 + flow), be);
        buffer.putShort(udp + 2, (short)9, be);
        buffer.putShort(udp + 4, (short)(ipLength - IPV4_HEADER), be);
        buffer.putShort(udp + 6, (short)0, be);
        for (int i = udp + UDP_HEADER; i < offset + length; i++)
        {
            buffer.putByte(i, (byte)(sequence + i));
        }
    }
}
