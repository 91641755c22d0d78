package io.pagewire.dataplane.port;

import io.pagewire.dataplane.tx.TxSink;

/**
 * A NIC as the dataplane sees it: a receive ring it polls in bursts without copying (frames stay in the ring until
 * released, which is how the "wait" policy leaves them there) and a transmit side it copies frames into
 * ({@link TxSink}). Every port type (the embedded shared-memory ring, later memif, AF_PACKET, pcap) implements this
 * one burst API; the dataplane never blocks on it.
 */
public interface NicPort extends TxSink
{
    /** @return frames received and not yet released; reads the producer's index only when needed. */
    int rxAvailable();

    /** @return host address of the {@code i}-th unreleased frame ({@code i < rxAvailable()}). */
    long rxFrameAddress(int i);

    /** @return length of the {@code i}-th unreleased frame, or -1 when the producer wrote an impossible length. */
    int rxFrameLength(int i);

    /** Gives the first {@code count} unreleased frames' slots back to the producer. */
    void rxRelease(int count);

    /**
     * The offload a frame carries into the guest, for ports whose producer hands frames over with a virtio-net header
     * (AF_PACKET with {@code PACKET_VNET_HDR}): only offloads the guest negotiated ({@link #guestFeatures}), with a
     * header the port validated.
     *
     * @return host address of the 10-byte virtio_net_hdr (flags .. csum_offset, virtio 1.2 §5.1.6) the guest must
     * receive before the {@code i}-th unreleased frame, or 0 for a plain frame (flags 0, GSO_NONE): by default.
     */
    default long rxFrameVnetHeader(final int i)
    {
        return 0;
    }

    /**
     * Tells the port what the guest's driver negotiated: on the dataplane thread when the queue pair attaches, and 0
     * when it detaches. A port that can pass offloads into the guest ({@link #rxFrameVnetHeader}) passes only these;
     * before the first call it passes none. By default nothing.
     *
     * @param negotiatedFeatures the virtio feature bits the driver accepted.
     */
    default void guestFeatures(final long negotiatedFeatures)
    {
    }
}
