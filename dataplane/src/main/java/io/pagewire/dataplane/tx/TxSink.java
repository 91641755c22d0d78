package io.pagewire.dataplane.tx;

/**
 * Where frames collected from the guest's transmit queue go (a NIC port's tx ring). Two-phase so the frame is
 * copied straight from guest memory into the destination slot, once.
 * <p>
 * Every claim that returned an address ends in exactly one of {@link #commit}, {@link #commitOffload} or
 * {@link #abandon}, before the next claim. The caller may read back what it wrote into the claimed room before it
 * decides (the transmit reader validates a guest's headers there, in the only copy, so that what it checked is what
 * is sent).
 */
public interface TxSink
{
    /**
     * Reserves room for one frame.
     *
     * @param frameLength bytes the frame needs: at most {@link #maxFrameLength()}, or {@link #maxOffloadFrameLength()}
     *                    for a frame committed with {@link #commitOffload}.
     * @return the host address to copy the frame to, or 0 when the sink is full (the frame stays in the guest's
     * queue and is tried again next cycle, as a NIC whose ring is full would leave it).
     */
    long claim(int frameLength);

    /** Publishes the frame last claimed, now fully written. */
    void commit(int frameLength);

    /**
     * Gives back the room the last claim reserved, unsent and uncounted (the frame in it did not validate): nothing of
     * it reaches the consumer or holds up the frames after it, and a ring's next claim gets the same slot again. By
     * default nothing, which is right for a sink whose claim reserves nothing until commit; a sink that reserves at
     * claim (a record in a ring another thread reads) or remembers the claim for commit undoes that here. Must not
     * block.
     */
    default void abandon()
    {
    }

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

    /**
     * Whether the sink takes frames with a virtio-net header and lets its consumer do the offload (the kernel behind
     * an AF_PACKET socket with {@code PACKET_VNET_HDR} checksums and segments them): the capability flag of
     * {@link #commitOffload}. A sink that does not (the default) gets such frames checksummed and segmented in
     * software, as plain frames.
     *
     * @return the longest frame {@link #commitOffload} takes (up to 64 KiB for a GSO frame), 0 for none.
     */
    default int maxOffloadFrameLength()
    {
        return 0;
    }

    /**
     * Publishes the frame last claimed, now fully written, with its offload: only when
     * {@link #maxOffloadFrameLength()} is not 0.
     *
     * @param frameLength bytes of the frame.
     * @param vnetHeader  host address of the 10-byte {@code virtio_net_hdr} (virtio 1.2 §5.1.6) the caller validated:
     *                    flags NEEDS_CSUM with csum_start/csum_offset inside the frame, gso_type NONE or TCPV4/TCPV6
     *                    with gso_size and the exact hdr_len of the frame's TCP/IP headers.
     */
    default void commitOffload(final int frameLength, final long vnetHeader)
    {
        throw new UnsupportedOperationException("this sink takes no virtio-net header");
    }
}
