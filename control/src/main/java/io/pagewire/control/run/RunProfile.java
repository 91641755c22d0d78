package io.pagewire.control.run;

import io.pagewire.control.latency.LatencySnapshot;
import io.pagewire.control.latency.SchedActivity;

/**
 * What a run measured about itself beyond the traffic: the {@code latency} and {@code jvm} sections of
 * {@link RunSummary}.
 *
 * @param latency                  percentiles of the per-frame latency, or null when not measured
 *                                 ({@code pagewire run} without {@code --latency}, or a guest in another process).
 * @param usedRingLatency          the dataplane's per-burst sample of the latency up to the used-ring publication of
 *                                 the burst's oldest frame, or null when not measured.
 * @param gcCount                  garbage collections during the run.
 * @param gcPauseMs                milliseconds of collection pauses during the run.
 * @param guestAllocBytesPerPacket bytes the peer thread (traffic source, embedded guest, sink) allocated per packet
 *                                 moved in steady state, NaN when unmeasured (or no such thread).
 * @param sched                    how much the busy threads were kept off their CPUs, or null when not read.
 */
public record RunProfile(
    LatencySnapshot latency, LatencySnapshot usedRingLatency, long gcCount, long gcPauseMs,
    double guestAllocBytesPerPacket, SchedActivity.Snapshot sched)
{
}
