package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.VerifyStats;

import java.util.List;

/**
 * What a finished run produced, whichever guest it served: the input of {@link RunSummary}.
 *
 * @param config              the effective configuration.
 * @param durationSeconds     from start of traffic to the stop request.
 * @param drained             whether everything in flight landed before the threads stopped.
 * @param allocBytesPerPacket dataplane bytes allocated per packet in steady state (NaN when unmeasured).
 * @param offeredFeatures     features the device offered.
 * @param negotiatedFeatures  features the driver accepted.
 * @param pairs               the queue pairs, after the dataplane gave them back (totals are final).
 * @param offeredPackets      frames the traffic sources offered.
 * @param nicRingFullDrops    frames the sources dropped at a full NIC ring.
 * @param rxVerify            what the guest found of received frames, or null when the guest is another process.
 * @param guestTxQueueFull    frames the embedded guest could not echo (its TX queue was full).
 * @param sinks               the NIC-side sinks of guest → NIC traffic.
 * @param inFlightCapacity    frames of the configured size the guest's receive ring holds, or -1 when unknown.
 */
public record RunResult(
    PagewireConfig config,
    double durationSeconds,
    boolean drained,
    double allocBytesPerPacket,
    long offeredFeatures,
    long negotiatedFeatures,
    List<QueuePair> pairs,
    long offeredPackets,
    long nicRingFullDrops,
    VerifyStats rxVerify,
    long guestTxQueueFull,
    List<TrafficSink> sinks,
    int inFlightCapacity)
{
}
