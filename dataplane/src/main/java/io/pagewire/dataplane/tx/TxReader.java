package io.pagewire.dataplane.tx;

import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.dataplane.virtio.ScatterList;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Collects frames from a guest's transmit virtqueue (virtio 1.2 §5.1.6.2): each available chain holds a virtio-net
 * header followed by one frame, split across any number of device-readable descriptors or an indirect table. The
 * header may itself straddle descriptors (VERSION_1 / ANY_LAYOUT allow any layout).
 * <p>
 * Frames are copied once, straight from guest memory into the sink. A chain shorter than the header breaks the
 * queue ({@link QueueError#HEADER_TRUNCATED}); a frame the device cannot send (too long, or GSO that was never
 * offered) is returned to the guest as used and counted, so the guest's buffer is not lost.
 */
public final class TxReader
{
    private final DeviceVirtqueue queue;
    private final int headerLength;
    private final ScatterList scatter;
    private final UnsafeBuffer header = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));

    private long sentFrames;
    private long sentBytes;
    private long sinkFull;
    private long droppedTooLong;
    private long droppedGso;

    /**
     * @param queue        the guest's transmit queue.
     * @param headerLength 10 or 12, from {@link VirtioNetHeader#length(long)}.
     */
    public TxReader(final DeviceVirtqueue queue, final int headerLength)
    {
        this.queue = queue;
        this.headerLength = headerLength;
        this.scatter = new ScatterList(2 * queue.size(), 1);
    }

    /**
     * Moves up to {@code burst} frames from the guest to {@code sink} and adds their used elements; the caller
     * publishes them with {@link DeviceVirtqueue#publishUsed()} once per burst.
     *
     * @return chains consumed (frames sent plus frames dropped), or 0 when there was nothing, the sink was full or
     * the queue is broken.
     */
    public int collectFromGuest(final TxSink sink, final int burst)
    {
        int available = queue.availableChains();
        if (available >= 0 && available < burst)
        {
            // The cached count may be stale: one acquire-load of avail.idx per burst picks up newer chains.
            available = queue.refreshAvailableChains();
        }
        if (available <= 0)
        {
            return 0;
        }
        final int limit = Math.min(available, burst);
        final ScatterList scatter = this.scatter;
        int consumed = 0;
        while (consumed < limit)
        {
            final int head = queue.availHead(0);
            if (head < 0)
            {
                break;
            }
            scatter.reset();
            final long chainLength = queue.readChain(head, false, scatter);
            if (chainLength < 0)
            {
                break;
            }
            if (chainLength < headerLength)
            {
                queue.markBroken(QueueError.HEADER_TRUNCATED);
                break;
            }
            final long frameLength = chainLength - headerLength;
            if (frameLength > VirtioNetHeader.MAX_FRAME_LENGTH || frameLength > sink.maxFrameLength())
            {
                droppedTooLong++;
            }
            else if (gsoType() != VirtioNetHeader.GSO_NONE)
            {
                droppedGso++;
            }
            else
            {
                final long destination = sink.claim((int)frameLength);
                if (destination == 0)
                {
                    sinkFull++;
                    break;
                }
                scatter.copyOut(headerLength, destination, (int)frameLength);
                sink.commit((int)frameLength);
                sentFrames++;
                sentBytes += frameLength;
            }
            queue.consume(1);
            queue.addUsed(head, 0);
            consumed++;
        }
        return consumed;
    }

    private int gsoType()
    {
        scatter.copyOut(0, header.addressOffset(), headerLength);
        return header.getByte(VirtioNetHeader.GSO_TYPE_OFFSET) & 0xFF;
    }

    /** Continues the totals of a reader this one replaces (the queue restarted). */
    public void continueFrom(final TxReader previous)
    {
        sentFrames = previous.sentFrames;
        sentBytes = previous.sentBytes;
        sinkFull = previous.sinkFull;
        droppedTooLong = previous.droppedTooLong;
        droppedGso = previous.droppedGso;
    }

    /** @return frames handed to the sink. */
    public long sentFrames()
    {
        return sentFrames;
    }

    /** @return bytes of frames handed to the sink (virtio-net headers excluded). */
    public long sentBytes()
    {
        return sentBytes;
    }

    /** @return times the sink was full, leaving frames in the guest's queue (a count of polls, not of frames). */
    public long sinkFull()
    {
        return sinkFull;
    }

    /** @return frames dropped because they exceeded {@link VirtioNetHeader#MAX_FRAME_LENGTH} or the sink's limit. */
    public long droppedTooLong()
    {
        return droppedTooLong;
    }

    /** @return frames dropped because the guest asked for segmentation offload, which pagewire does not offer. */
    public long droppedGso()
    {
        return droppedGso;
    }
}
