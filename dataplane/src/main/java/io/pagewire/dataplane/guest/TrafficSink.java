package io.pagewire.dataplane.guest;

import io.pagewire.dataplane.port.ShmFrameRing;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The "wire" receiving what the guest transmitted: drains the NIC's transmit ring and verifies every frame
 * ({@link FrameFormat}), so the guest → NIC direction is checked as strictly as the other.
 */
public final class TrafficSink
{
    private static final int MAX_PER_CALL = 256;

    private final ShmFrameRing ring;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final VerifyStats verify = new VerifyStats();
    private long bytes;
    private long frames;
    private long foreign;

    /**
     * @param ring the NIC transmit ring (this side consumes).
     */
    public TrafficSink(final ShmFrameRing ring)
    {
        this.ring = ring;
    }

    /**
     * @return frames consumed.
     */
    public int consume()
    {
        final int available = Math.min(ring.available(), MAX_PER_CALL);
        for (int i = 0; i < available; i++)
        {
            final int length = ring.frameLength(i);
            if (length < 0)
            {
                verify.record(false, -1);
                continue;
            }
            frames++;
            bytes += length;
            view.wrap(ring.frameAddress(i), Math.max(length, 1));
            if (!FrameFormat.isOurs(view, 0, length))
            {
                // Traffic from a real peer (testpmd txonly, a guest's own packets): counted, not verifiable.
                foreign++;
                continue;
            }
            final boolean intact = FrameFormat.isIntact(view, 0, length);
            verify.record(intact, intact ? FrameFormat.sequence(view, 0) : -1);
        }
        if (available > 0)
        {
            ring.release(available);
        }
        return available;
    }

    /** @return what verification found. */
    public VerifyStats verify()
    {
        return verify;
    }

    /** @return frames received (ours and foreign). */
    public long frames()
    {
        return frames;
    }

    /** @return frames that were not pagewire test frames: counted, not verified. */
    public long foreign()
    {
        return foreign;
    }

    /** @return frame bytes received. */
    public long bytes()
    {
        return bytes;
    }

    /** @return whether the transmit ring is empty. */
    public boolean isEmpty()
    {
        return ring.available() == 0;
    }
}
