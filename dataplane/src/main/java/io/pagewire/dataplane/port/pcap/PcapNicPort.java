package io.pagewire.dataplane.port.pcap;

import io.pagewire.dataplane.port.NicPort;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * A NIC made of files ({@code nic.type=pcap}): its receive side replays a capture ({@link PcapReplay} over a
 * {@link PcapFile}), its transmit side records to one ({@link PcapWriter}). Either may be absent: no replay receives
 * nothing; no writer discards transmitted frames (the queue counters still count them).
 * <p>
 * Dataplane thread only (except construction and the final {@link #publishCounters()} after it stopped). The duty
 * cycle's clock is read once in {@link #rxAvailable()}, which the dataplane calls first in every cycle: it paces the
 * replay and stamps the frames transmitted in the same cycle. Counters are published with release stores where they
 * change (frames replayed once per burst at release, the rest once per cycle), so they are exact whenever the
 * dataplane is between cycles, including after it stopped.
 */
public final class PcapNicPort implements NicPort
{
    private final PcapReplay replay;
    private final PcapWriter writer;
    private final UnsafeBuffer discard;
    private final AtomicCounter framesReplayed;
    private final AtomicCounter loops;
    private final AtomicCounter badRecords;
    private final AtomicCounter writeDrops;
    private volatile boolean receiveStopped;
    private long cycleNs;
    private long publishedReplayed = -1;
    private long publishedLoops = -1;
    private long publishedBad = -1;
    private long publishedWriteDrops = -1;

    /**
     * @param replay         the receive side, or null for none.
     * @param writer         the transmit side, or null to discard transmitted frames.
     * @param framesReplayed {@link PcapCounter#FRAMES_REPLAYED}, or null.
     * @param loops          {@link PcapCounter#LOOPS}, or null.
     * @param badRecords     {@link PcapCounter#BAD_RECORDS}, or null.
     * @param writeDrops     {@link PcapCounter#WRITE_DROPS}, or null.
     */
    public PcapNicPort(
        final PcapReplay replay,
        final PcapWriter writer,
        final AtomicCounter framesReplayed,
        final AtomicCounter loops,
        final AtomicCounter badRecords,
        final AtomicCounter writeDrops)
    {
        this.replay = replay;
        this.writer = writer;
        this.discard = writer != null ? null :
            new UnsafeBuffer(BufferUtil.allocateDirectAligned(PcapFormat.WRITE_SNAPLEN + 1, 64));
        this.framesReplayed = framesReplayed;
        this.loops = loops;
        this.badRecords = badRecords;
        this.writeDrops = writeDrops;
    }

    /**
     * Publishes counters that changed and makes the frames now due available. The clock is read only when the replay's
     * pace needs it (a clock read is not free on every machine: see {@code DataplaneAgent}); a cycle that transmits
     * without one reads it once, at its first claim.
     */
    @Override
    public int rxAvailable()
    {
        cycleNs = 0;
        publishCounters();
        if (replay == null)
        {
            return 0;
        }
        if (replay.needsClock())
        {
            cycleNs = System.nanoTime();
        }
        // A plain load on x86: the flag is set once by control at the end of a run.
        return receiveStopped ? replay.pending() : replay.available(cycleNs);
    }

    /**
     * Stops the replay (any thread): frames already available stay available until released, no new one comes.
     */
    public void stopReceiving()
    {
        receiveStopped = true;
    }

    @Override
    public long rxFrameAddress(final int i)
    {
        return replay.frameAddress(i);
    }

    @Override
    public int rxFrameLength(final int i)
    {
        return replay.frameLength(i);
    }

    @Override
    public void rxRelease(final int count)
    {
        replay.release(count);
        publishedReplayed = publish(framesReplayed, replay.framesReplayed(), publishedReplayed);
    }

    /**
     * Room for a transmitted frame: in the writer's ring (or its scratch buffer when the ring is full, a counted
     * write drop), or a discard buffer without a writer. Never 0: the file never holds the guest's queue back.
     */
    @Override
    public long claim(final int frameLength)
    {
        if (writer == null)
        {
            return discard.addressOffset();
        }
        if (cycleNs == 0)
        {
            cycleNs = System.nanoTime();
        }
        return writer.claim(frameLength, cycleNs);
    }

    @Override
    public void abandon()
    {
        if (writer != null)
        {
            writer.abandon();
        }
    }

    @Override
    public void commit(final int frameLength)
    {
        if (writer != null)
        {
            writer.commit(frameLength);
            if (writer.writeDrops() != publishedWriteDrops)
            {
                publishedWriteDrops = publish(writeDrops, writer.writeDrops(), publishedWriteDrops);
            }
        }
    }

    @Override
    public int maxFrameLength()
    {
        return PcapFormat.WRITE_SNAPLEN;
    }

    /**
     * Publishes the dataplane-side counters that changed (release stores). Called every cycle by
     * {@link #rxAvailable()}; call it once more after the dataplane stopped for the final values.
     */
    public void publishCounters()
    {
        if (replay != null)
        {
            publishedReplayed = publish(framesReplayed, replay.framesReplayed(), publishedReplayed);
            publishedLoops = publish(loops, replay.loops(), publishedLoops);
            publishedBad = publish(badRecords, replay.badRecords(), publishedBad);
        }
        if (writer != null)
        {
            publishedWriteDrops = publish(writeDrops, writer.writeDrops(), publishedWriteDrops);
        }
    }

    private static long publish(final AtomicCounter counter, final long value, final long published)
    {
        if (counter != null && value != published)
        {
            counter.setRelease(value);
        }
        return value;
    }

    /** @return the receive side, or null. */
    public PcapReplay replay()
    {
        return replay;
    }

    /** @return the transmit side, or null. */
    public PcapWriter writer()
    {
        return writer;
    }
}
