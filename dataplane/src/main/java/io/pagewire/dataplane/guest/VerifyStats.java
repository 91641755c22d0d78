package io.pagewire.dataplane.guest;

/**
 * What a receiver of {@link FrameFormat} traffic found: every frame is checked; sequence numbers must increase
 * (gaps are frames dropped on purpose upstream and are counted elsewhere); a repeated number is a duplicate, a
 * smaller one a reordering; a bad check or header is corruption. Single writer.
 */
public final class VerifyStats
{
    private long checked;
    private long corrupt;
    private long duplicated;
    private long reordered;
    private long gaps;
    private long lastSequence = -1;
    private long foreign;

    /** Records one received frame that is not a test frame (another sender's traffic): not verifiable. */
    void recordForeign()
    {
        foreign++;
    }

    /** @return frames received that were not test frames (real traffic through a real NIC port). */
    public long foreign()
    {
        return foreign;
    }

    /** Records one received frame. */
    void record(final boolean intact, final long sequence)
    {
        checked++;
        if (!intact)
        {
            corrupt++;
            return;
        }
        if (sequence == lastSequence)
        {
            duplicated++;
        }
        else if (sequence < lastSequence)
        {
            reordered++;
        }
        else
        {
            if (sequence > lastSequence + 1)
            {
                gaps += sequence - lastSequence - 1;
            }
            lastSequence = sequence;
        }
    }

    /** @return frames examined. */
    public long checked()
    {
        return checked;
    }

    /** @return frames whose bytes did not match their check. */
    public long corrupt()
    {
        return corrupt;
    }

    /** @return frames seen twice. */
    public long duplicated()
    {
        return duplicated;
    }

    /** @return frames that arrived after a later one. */
    public long reordered()
    {
        return reordered;
    }

    /** @return sequence numbers skipped (frames dropped upstream, by policy or by a full ring). */
    public long gaps()
    {
        return gaps;
    }

    /** @return the highest sequence number seen, or -1. */
    public long lastSequence()
    {
        return lastSequence;
    }
}
