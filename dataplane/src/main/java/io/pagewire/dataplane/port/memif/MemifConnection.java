package io.pagewire.dataplane.port.memif;

/**
 * What one queue pair's dataplane needs of a live memif connection, immutable: published by the control thread to a
 * {@link MemifNicPort} with one volatile store, so the dataplane reads either the whole old or the whole new one,
 * never a mix. Addresses are host addresses inside mappings the control thread keeps mapped until the dataplane has
 * acknowledged a later connection or parked the port (see {@link MemifNicPort}).
 *
 * @param epoch            increases with every publication on the port (down states included).
 * @param up               whether rings are attached; false for the disconnected state (every other field unused).
 * @param client           pagewire's role: true = client (pagewire made the memory, head is ours on both rings).
 * @param rxRing           the ring pagewire receives on (server: the S2M ring; client: the M2S ring).
 * @param rxLog2RingSize   its log2 size.
 * @param txRing           the ring pagewire transmits on (server: M2S; client: S2M).
 * @param txLog2RingSize   its log2 size.
 * @param regionBase       server role: host address of each mapped region, by index (descriptors are checked
 *                         against these); client role: unused.
 * @param regionLength     server role: bytes of each mapped region.
 * @param rxBuffers        client role: host address of the buffer of rx slot 0 (slot i's is at + i * bufferSize).
 * @param rxBuffersOffset  client role: the same as an offset in region 0 (what descriptors carry).
 * @param txBuffers        client role: host address of the buffer of tx slot 0.
 * @param txBuffersOffset  client role: the same as an offset in region 0.
 * @param bufferSize       client role: bytes per buffer.
 */
record MemifConnection(
    long epoch,
    boolean up,
    boolean client,
    long rxRing,
    int rxLog2RingSize,
    long txRing,
    int txLog2RingSize,
    long[] regionBase,
    long[] regionLength,
    long rxBuffers,
    long rxBuffersOffset,
    long txBuffers,
    long txBuffersOffset,
    int bufferSize)
{
    /**
     * @param epoch the publication's epoch.
     * @return the disconnected state.
     */
    static MemifConnection down(final long epoch)
    {
        return new MemifConnection(epoch, false, false, 0, 0, 0, 0, new long[0], new long[0], 0, 0, 0, 0, 0);
    }
}
