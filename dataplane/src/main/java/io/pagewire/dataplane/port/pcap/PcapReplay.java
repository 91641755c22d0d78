package io.pagewire.dataplane.port.pcap;

import io.pagewire.config.PcapPace;
import io.pagewire.config.TrafficConfig;

/**
 * The receive side of the pcap port: replays a {@link PcapFile}'s frames in file order, each becoming available when
 * its time has come. Dataplane thread only; it never blocks, never sleeps and allocates nothing: the dataplane
 * busy-polls {@link #available(long)} with the time of its duty cycle, and frames whose time has come are put in a
 * window of up to {@link #WINDOW} frames (addresses into the file's mapping), from which the dataplane delivers and
 * {@linkplain #release releases} them in order.
 * <p>
 * Pacing ({@code nic.pcap.pace}):
 * <ul>
 *   <li>{@code recorded}: a frame is due {@code timestamp - first timestamp} after the replay started (the first
 *       call to {@link #available}). A timestamp earlier than the first frame's is due at once. A guest that falls
 *       behind receives the late frames as fast as it takes them; the schedule does not slip.</li>
 *   <li>{@code rate}: frames follow each other at {@code rateMbps} as on an Ethernet wire, each costing its bytes
 *       plus 24 (preamble and start delimiter, inter-frame gap, FCS), as the embedded traffic source counts them;
 *       rate 0 means {@code max}.</li>
 *   <li>{@code max}: every frame is due at once; the guest's pace sets the rate.</li>
 * </ul>
 * With {@code loop}, the file starts again after its last record; at recorded pace the next pass starts one mean
 * inter-frame gap after the previous pass's latest timestamp, as if the capture went on (a capture of one frame, or
 * of frames sharing one timestamp, has no gap and so loops as fast as the guest takes it). A file without a single
 * deliverable record is replayed once (there is nothing to loop).
 */
public final class PcapReplay
{
    /** Most frames due and not yet released; the dataplane's largest burst (dataplane.burst) fits. */
    public static final int WINDOW = 1024;
    /** Records looked at per call at most, so a long run of bad records cannot stall one duty cycle. */
    private static final int MAX_RECORDS_PER_CALL = 4 * WINDOW;

    private static final int MASK = WINDOW - 1;

    private final PcapFile file;
    private final PcapPace pace;
    private final boolean loop;
    private final int rateMbps;
    private final long passSpanNs;

    private final long[] windowAddresses = new long[WINDOW];
    private final int[] windowLengths = new int[WINDOW];
    private long head;
    private long tail;

    private long nextRecordOffset;
    private boolean started;
    private boolean finished;
    private long passStartNs;
    private long startNs;
    private long wirePs;

    private long framesReplayed;
    private long loops;
    private long badRecords;

    /**
     * @param file     the validated capture; stays open while this replays it.
     * @param pace     how fast to replay.
     * @param loop     replay again from the start at the end.
     * @param rateMbps the rate for {@link PcapPace#RATE}, in Mb/s as on an Ethernet wire; 0 means as fast as
     *                 possible.
     */
    public PcapReplay(final PcapFile file, final PcapPace pace, final boolean loop, final int rateMbps)
    {
        if (rateMbps < 0)
        {
            throw new IllegalArgumentException("rate=" + rateMbps + " Mb/s: must be >= 0");
        }
        this.file = file;
        this.pace = pace == PcapPace.RATE && rateMbps == 0 ? PcapPace.MAX : pace;
        this.loop = loop && file.deliverableRecords() > 0;
        this.rateMbps = rateMbps;
        final long spanNs = file.lastTimestampNs() - file.firstTimestampNs();
        final long frames = file.deliverableRecords();
        this.passSpanNs = frames > 1 ? spanNs + spanNs / (frames - 1) : spanNs;
        this.nextRecordOffset = file.firstRecordOffset();
    }

    /**
     * Makes the frames due at {@code nowNs} available (up to {@link #WINDOW} unreleased).
     *
     * @param nowNs {@link System#nanoTime()} of the dataplane's duty cycle.
     * @return frames available: due and not yet released.
     */
    public int available(final long nowNs)
    {
        if (!started)
        {
            started = true;
            startNs = nowNs;
            passStartNs = nowNs;
        }
        final PcapFile file = this.file;
        int looked = 0;
        while (tail - head < WINDOW && !finished && looked < MAX_RECORDS_PER_CALL)
        {
            final long offset = nextRecordOffset;
            if (offset >= file.length())
            {
                if (!loop)
                {
                    finished = true;
                    break;
                }
                loops++;
                nextRecordOffset = file.firstRecordOffset();
                passStartNs += passSpanNs;
                continue;
            }
            looked++;
            final int caplen = file.caplen(offset);
            if (!file.isDeliverable(caplen))
            {
                badRecords++;
                nextRecordOffset = PcapFile.nextRecordOffset(offset, caplen);
                continue;
            }
            if (dueNs(offset) - nowNs > 0)
            {
                break;
            }
            final int slot = (int)(tail & MASK);
            windowAddresses[slot] = file.frameAddress(offset);
            windowLengths[slot] = caplen;
            tail++;
            if (rateMbps != 0)
            {
                // Wire time of this frame in ps, exact per frame as the traffic source counts it: 8 bits per byte,
                // 10^6 ps per us, the Ethernet overhead beyond the frame included.
                wirePs += (caplen + TrafficConfig.WIRE_OVERHEAD_BYTES) * 8L * 1_000_000L / rateMbps;
            }
            nextRecordOffset = PcapFile.nextRecordOffset(offset, caplen);
        }
        return (int)(tail - head);
    }

    private long dueNs(final long offset)
    {
        return switch (pace)
        {
            case RECORDED -> passStartNs + Math.max(0, file.timestampNs(offset) - file.firstTimestampNs());
            case RATE -> startNs + wirePs / 1000;
            case MAX -> startNs;
        };
    }

    /** @return whether {@link #available(long)} needs the time: every pace but {@link PcapPace#MAX}. */
    public boolean needsClock()
    {
        return pace != PcapPace.MAX;
    }

    /** @return frames made available and not yet released, without making more available. */
    public int pending()
    {
        return (int)(tail - head);
    }

    /** @return host address of the {@code i}-th available frame, in the file's read-only mapping. */
    public long frameAddress(final int i)
    {
        return windowAddresses[(int)((head + i) & MASK)];
    }

    /** @return length of the {@code i}-th available frame (its caplen, 1..snaplen). */
    public int frameLength(final int i)
    {
        return windowLengths[(int)((head + i) & MASK)];
    }

    /** Drops the first {@code count} available frames from the window: they have been replayed. */
    public void release(final int count)
    {
        head += count;
        framesReplayed += count;
    }

    /** @return frames released to the dataplane so far (delivered to the guest or dropped by it). */
    public long framesReplayed()
    {
        return framesReplayed;
    }

    /** @return times the replay started again from the beginning of the file. */
    public long loops()
    {
        return loops;
    }

    /** @return records skipped as bad (caplen 0 or above the file's snaplen), counted on every pass. */
    public long badRecords()
    {
        return badRecords;
    }

    /** @return whether the last record was replayed and released, and no loop follows. */
    public boolean finished()
    {
        return finished && head == tail;
    }

    /** @return the file replayed. */
    public PcapFile file()
    {
        return file;
    }
}
