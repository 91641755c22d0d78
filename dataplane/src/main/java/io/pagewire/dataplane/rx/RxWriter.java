package io.pagewire.dataplane.rx;

/**
 * Delivers frames into a guest's receive virtqueue. One implementation is chosen per queue when features are
 * negotiated ({@link MergeableRxWriter} with VIRTIO_NET_F_MRG_RXBUF, else {@link ChainRxWriter}) and never changes
 * while the queue runs, so each queue's call site stays monomorphic.
 * <p>
 * {@link #deliverToGuest} writes used elements but does not publish them: the caller publishes once per burst with
 * {@link io.pagewire.dataplane.virtio.DeviceVirtqueue#publishUsed()}.
 */
public interface RxWriter
{
    /** The guest has not posted enough buffers for this frame; nothing was consumed. Wait or drop: caller's policy. */
    int NO_BUFFERS = -1;
    /** The frame is longer than {@link io.pagewire.dataplane.virtio.VirtioNetHeader#MAX_FRAME_LENGTH}; drop it. */
    int FRAME_TOO_LONG = -2;
    /** The guest's chain (non-mergeable) is shorter than header + frame; nothing was consumed; drop the frame. */
    int BUFFER_TOO_SMALL = -3;
    /** The queue is broken or not running (see its broken reason); nothing more is delivered. */
    int QUEUE_BROKEN = -4;
    /** The guest's buffers are split into more segments than the device tracks per packet; drop the frame. */
    int TOO_MANY_SEGMENTS = -5;
    /**
     * The queue's descriptor read budget for this burst is spent ({@link
     * io.pagewire.dataplane.virtio.DeviceVirtqueue#WORK_LIMIT}); nothing was consumed. Not a drop: the caller keeps
     * the frame for the next duty cycle, whatever its policy, so a guest's hostile rings cost bounded work per cycle.
     */
    int WORK_LIMIT = -6;

    /**
     * Copies one frame, prefixed by a virtio-net header, into buffers the guest posted, and adds the used elements.
     *
     * @param frameAddress host address of the frame's first byte (Ethernet destination MAC).
     * @param frameLength  frame length in bytes, without the virtio-net header.
     * @param vnetHeader   host address of the 10 bytes flags .. csum_offset the header carries (an offload the
     *                     guest negotiated, validated by the NIC port: {@link
     *                     io.pagewire.dataplane.port.NicPort#rxFrameVnetHeader}), or 0 for zeros (no offload).
     * @return the number of buffers used (≥ 1, the header's num_buffers), or a negative result code above.
     */
    int deliverToGuest(long frameAddress, int frameLength, long vnetHeader);

    /**
     * Delivers a plain frame: {@link #deliverToGuest(long, int, long)} with no offload.
     */
    default int deliverToGuest(final long frameAddress, final int frameLength)
    {
        return deliverToGuest(frameAddress, frameLength, 0);
    }

    /**
     * @param result a value returned by {@link #deliverToGuest}.
     * @return a short name of a negative result, for counters and messages.
     */
    static String describe(final int result)
    {
        return switch (result)
        {
            case NO_BUFFERS -> "no_buffers";
            case FRAME_TOO_LONG -> "frame_too_long";
            case BUFFER_TOO_SMALL -> "buffer_too_small";
            case QUEUE_BROKEN -> "queue_broken";
            case TOO_MANY_SEGMENTS -> "too_many_segments";
            case WORK_LIMIT -> "work_limit";
            default -> result > 0 ? "delivered" : "unknown(" + result + ")";
        };
    }
}
