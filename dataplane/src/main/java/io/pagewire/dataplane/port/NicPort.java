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
}
