package io.pagewire.dataplane.guest;

import io.pagewire.config.TrafficConfig;
import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.port.ShmFrameRing;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The embedded traffic source: the "wire" side of the shared-memory NIC. It writes {@link FrameFormat} frames into
 * the NIC's receive ring, each stamped with a sequence number and its <em>intended</em> send time (the schedule of
 * a fixed offered rate, so latency measured from it is free of coordinated omission).
 * <p>
 * At a fixed rate, a frame whose time has come while the NIC ring is full is dropped and counted, as a real NIC
 * drops at a full ring ({@code nic_ring_full}); its sequence number is used up, so receivers see the gap. At rate 0
 * ("as fast as possible") a full ring is back-pressure: nothing is dropped, the source simply waits.
 */
public final class TrafficSource
{
    private static final int TEMPLATES = 64;
    private static final int MAX_PER_CALL = 256;
    /** Ethernet preamble + start delimiter (8), inter-frame gap (12) and FCS (4): the wire cost beyond the frame. */

    private final ShmFrameRing ring;
    private final int frameLength;
    private final long intervalPs;
    private final UnsafeBuffer templates;
    private final long[] payloadHash = new long[TEMPLATES];
    private final UnsafeBuffer slotView = new UnsafeBuffer(0, 0);

    private long startNs;
    private long sequence;
    private long sent;
    private long droppedRingFull;
    private boolean stopped;

    /**
     * @param ring        the NIC receive ring (this side produces).
     * @param frameLength bytes per frame, at least {@link FrameFormat#MIN_FRAME_LENGTH}.
     * @param rateMbps    offered rate in Mb/s as on an Ethernet wire, 0 for as fast as possible.
     */
    public TrafficSource(final ShmFrameRing ring, final int frameLength, final int rateMbps)
    {
        if (frameLength < FrameFormat.MIN_FRAME_LENGTH || frameLength > ring.maxFrameLength())
        {
            throw new IllegalArgumentException("frame length=" + frameLength + ": must be in " +
                FrameFormat.MIN_FRAME_LENGTH + ".." + ring.maxFrameLength());
        }
        this.ring = ring;
        this.frameLength = frameLength;
        // Picoseconds per frame keeps sub-nanosecond precision at high rates: 8 bits per byte, 10^6 ps per us.
        this.intervalPs = rateMbps == 0 ? 0 : (frameLength + TrafficConfig.WIRE_OVERHEAD_BYTES) * 8L * 1_000_000L / rateMbps;
        this.templates = new UnsafeBuffer(BufferUtil.allocateDirectAligned(TEMPLATES * align(frameLength), 64));
        for (int i = 0; i < TEMPLATES; i++)
        {
            final UnsafeBuffer template = new UnsafeBuffer(templates, i * align(frameLength), frameLength);
            payloadHash[i] = FrameFormat.writeTemplate(template, frameLength, i + 1);
        }
    }

    private static int align(final int length)
    {
        return (length + 63) & ~63;
    }

    /**
     * Sends the frames due at {@code nowNs}.
     *
     * @return frames written or dropped.
     */
    public int produce(final long nowNs)
    {
        if (stopped)
        {
            return 0;
        }
        if (startNs == 0)
        {
            startNs = nowNs;
        }
        int work = 0;
        while (work < MAX_PER_CALL)
        {
            final long dueNs = intervalPs == 0 ? nowNs : startNs + sequence * intervalPs / 1000;
            if (dueNs - nowNs > 0)
            {
                break;
            }
            final long slot = ring.claim(frameLength);
            if (slot == 0)
            {
                if (intervalPs == 0)
                {
                    break;
                }
                droppedRingFull++;
            }
            else
            {
                final int template = (int)(sequence & (TEMPLATES - 1));
                MemoryCopy.copy(templates.addressOffset() + (long)template * align(frameLength), slot, frameLength);
                slotView.wrap(slot, frameLength);
                FrameFormat.stamp(slotView, 0, payloadHash[template], sequence, dueNs);
                ring.commit(frameLength);
                sent++;
            }
            sequence++;
            work++;
        }
        return work;
    }

    /** Stops sending (end of run). */
    public void stop()
    {
        stopped = true;
    }

    /** @return frames written into the NIC ring. */
    public long sent()
    {
        return sent;
    }

    /** @return frames dropped because the NIC ring was full when they were due (fixed rate only). */
    public long droppedRingFull()
    {
        return droppedRingFull;
    }

    /** @return sequence numbers used (sent + dropped). */
    public long offered()
    {
        return sequence;
    }

    /** @return the frame length. */
    public int frameLength()
    {
        return frameLength;
    }
}
