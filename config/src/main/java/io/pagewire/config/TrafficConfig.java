package io.pagewire.config;

/**
 * The embedded traffic source that feeds the shm NIC, table {@code [traffic]}.
 *
 * @param frameSize {@code traffic.frame_size}: bytes of each frame it sends, in 60..65535 and at most
 *                  {@code nic.slot_size - 8}.
 * @param rateMbps  {@code traffic.rate_mbps}: offered rate in Mb/s counted as on an Ethernet wire (frame, 4 bytes FCS,
 *                  20 bytes preamble and inter-frame gap), in 0..400000; {@link #AS_FAST_AS_POSSIBLE} for no limit.
 */
public record TrafficConfig(int frameSize, int rateMbps)
{
    /** The {@code traffic.rate_mbps} value that sends as fast as possible. */
    public static final int AS_FAST_AS_POSSIBLE = 0;

    /**
     * Bytes each frame takes on an Ethernet wire beyond the frame itself, counted in {@link #rateMbps()}: 4 FCS, then
     * 20 of preamble, start delimiter and inter-frame gap.
     */
    public static final int WIRE_OVERHEAD_BYTES = 24;

    /**
     * @return true when the source is paced to {@link #rateMbps()}.
     */
    public boolean rateLimited()
    {
        return rateMbps != AS_FAST_AS_POSSIBLE;
    }
}
