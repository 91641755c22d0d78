package io.pagewire.dataplane.rx;

import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.ScatterList;
import io.pagewire.dataplane.virtio.VirtioNetHeader;

/**
 * Receive with VIRTIO_NET_F_MRG_RXBUF (virtio 1.2 §5.1.6.4, §5.1.6.3.2): a frame spreads over as many of the
 * driver's buffers as it needs, whatever their sizes (pages, 1500, 2048 or Linux's running-average sizes). Each
 * buffer is one available chain, normally a single descriptor.
 * <p>
 * Buffers are reserved before anything is written: the writer walks chains past the device's position, without
 * consuming them, until their capacity covers header + frame. If the ring runs out first, nothing is consumed and
 * nothing is written ({@link #NO_BUFFERS}), so no partial packet is ever visible. Otherwise it writes the 12-byte
 * header with {@code num_buffers} = k in the first buffer, the frame across the k buffers in order (each filled
 * before the next), and one used element per buffer carrying the bytes written into it. A GSO frame the NIC port
 * passes whole (up to 64 KiB, with its offload in the header) is the case merged buffers were made for: it takes
 * as many buffers as it needs, like any frame.
 * <p>
 * <b>Work</b>: the reservation reads each chain once, and stops at the ring's end, at a chain the queue refuses
 * (an empty one breaks it), or when the queue's per-burst descriptor read budget is spent ({@link #WORK_LIMIT}, the
 * frame waits for the next burst). So one frame costs at most {@code DeviceVirtqueue.burstReadBudget(size) + 2 × size}
 * descriptor reads, however the guest repeats heads or pads chains with empty descriptors; before this bound, one head
 * of 32768 mostly-empty descriptors repeated over the ring cost a 64 KiB frame a billion reads per try.
 */
public final class MergeableRxWriter implements RxWriter
{
    private final DeviceVirtqueue queue;
    private final ScatterList scatter;
    private final RxHeader header = new RxHeader(VirtioNetHeader.MRG_RXBUF_LENGTH);

    /**
     * @param queue the guest's receive queue.
     */
    public MergeableRxWriter(final DeviceVirtqueue queue)
    {
        this.queue = queue;
        this.scatter = new ScatterList(2 * queue.size(), queue.size());
    }

    @Override
    public int deliverToGuest(final long frameAddress, final int frameLength, final long vnetHeader)
    {
        if (frameLength < 0 || frameLength > VirtioNetHeader.MAX_FRAME_LENGTH)
        {
            return FRAME_TOO_LONG;
        }
        int available = queue.availableChains();
        if (available < 0)
        {
            return QUEUE_BROKEN;
        }
        final int needed = VirtioNetHeader.MRG_RXBUF_LENGTH + frameLength;
        final ScatterList scatter = this.scatter;
        scatter.reset();
        long capacity = 0;
        int buffers = 0;
        while (capacity < needed)
        {
            if (buffers == available)
            {
                available = queue.refreshAvailableChains();
                if (available < 0)
                {
                    return QUEUE_BROKEN;
                }
                if (buffers == available)
                {
                    return NO_BUFFERS;
                }
            }
            final int head = queue.availHead(buffers);
            if (head < 0)
            {
                return QUEUE_BROKEN;
            }
            final long length = queue.readChain(head, true, scatter);
            if (length < 0)
            {
                return length == DeviceVirtqueue.SCATTER_FULL ? TOO_MANY_SEGMENTS :
                    length == DeviceVirtqueue.WORK_LIMIT ? WORK_LIMIT : QUEUE_BROKEN;
            }
            capacity += length;
            buffers++;
        }

        queue.consume(buffers);
        header.vnetHeader(vnetHeader);
        header.numBuffers(buffers);
        final long offset = scatter.copyIn(header.address(), VirtioNetHeader.MRG_RXBUF_LENGTH, 0);
        scatter.copyIn(frameAddress, frameLength, offset);

        long remaining = needed;
        for (int i = 0; i < buffers; i++)
        {
            final int written = (int)Math.min(remaining, scatter.chainLength(i));
            queue.addUsed(scatter.chainHead(i), written);
            remaining -= written;
        }
        return buffers;
    }
}
