package io.pagewire.dataplane.rx;

import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.ScatterList;
import io.pagewire.dataplane.virtio.VirtioNetHeader;

/**
 * Receive without VIRTIO_NET_F_MRG_RXBUF (virtio 1.2 §5.1.6.3.1, §5.1.6.4): each frame goes into exactly one
 * available chain. This one writer serves both of Linux's non-mergeable modes, because the device cannot tell them
 * apart and need not: <em>big</em> (GUEST_TSO/UFO negotiated: a chain of ~20 descriptors per packet, 64 KiB+) and
 * <em>small</em> (a single buffer of header + 1518 bytes). The chain's shape is the driver's business.
 * <p>
 * A frame longer than the chain is dropped ({@link #BUFFER_TOO_SMALL}) and the chain is left in place for the next
 * frame, as vhost-net does (each try reads it again, within the queue's per-burst read budget); the 10- or 12-byte
 * header (by VERSION_1) carries {@code num_buffers} = 1 when present.
 */
public final class ChainRxWriter implements RxWriter
{
    private final DeviceVirtqueue queue;
    private final ScatterList scatter;
    private final RxHeader header;

    /**
     * @param queue        the guest's receive queue.
     * @param headerLength 10 or 12, from {@link VirtioNetHeader#length(long)}.
     */
    public ChainRxWriter(final DeviceVirtqueue queue, final int headerLength)
    {
        this.queue = queue;
        this.scatter = new ScatterList(2 * queue.size(), 1);
        this.header = new RxHeader(headerLength);
        header.numBuffers(1);
    }

    @Override
    public int deliverToGuest(final long frameAddress, final int frameLength, final long vnetHeader)
    {
        if (frameLength < 0 || frameLength > VirtioNetHeader.MAX_FRAME_LENGTH)
        {
            return FRAME_TOO_LONG;
        }
        final int available = queue.availableChains();
        if (available <= 0)
        {
            return available < 0 ? QUEUE_BROKEN : NO_BUFFERS;
        }
        final int head = queue.availHead(0);
        if (head < 0)
        {
            return QUEUE_BROKEN;
        }
        final ScatterList scatter = this.scatter;
        scatter.reset();
        final long capacity = queue.readChain(head, true, scatter);
        if (capacity < 0)
        {
            return capacity == DeviceVirtqueue.SCATTER_FULL ? TOO_MANY_SEGMENTS :
                capacity == DeviceVirtqueue.WORK_LIMIT ? WORK_LIMIT : QUEUE_BROKEN;
        }
        final int needed = header.length() + frameLength;
        if (capacity < needed)
        {
            return BUFFER_TOO_SMALL;
        }
        queue.consume(1);
        header.vnetHeader(vnetHeader);
        final long offset = scatter.copyIn(header.address(), header.length(), 0);
        scatter.copyIn(frameAddress, frameLength, offset);
        queue.addUsed(head, needed);
        return 1;
    }
}
