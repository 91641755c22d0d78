package io.pagewire.dataplane.tx;

/**
 * Where frames collected from the guest's transmit queue go (a NIC port's tx ring). Two-phase so the frame is
 * copied straight from guest memory into the destination slot, once.
 */
public interface TxSink
{
    /**
     * Reserves room for one frame.
     *
     * @param frameLength bytes the frame needs.
     * @return the host address to copy the frame to, or 0 when the sink is full (the frame stays in the guest's
     * queue and is tried again next cycle, as a NIC whose ring is full would leave it).
     */
    long claim(int frameLength);

    /** Publishes the frame last claimed, now fully written. */
    void commit(int frameLength);

    /**
     * Ends a burst: called once per duty cycle after the frames of a burst were committed (also when none were, so a
     * sink that must retry a doorbell can). A kernel ring (AF_PACKET) kicks the kernel here, once per burst rather
     * than once per frame. By default nothing. Must not block.
     */
    default void flush()
    {
    }

    /**
     * @return the longest frame the sink can ever take (a NIC slot's size); longer frames are dropped and counted
     * rather than waited for, or they would block the guest's queue for good.
     */
    default int maxFrameLength()
    {
        return io.pagewire.dataplane.virtio.VirtioNetHeader.MAX_FRAME_LENGTH;
    }
}
