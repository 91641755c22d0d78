package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.VerifyStats;

import io.pagewire.dataplane.port.NicPortSet;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
 * @param nicCounters         the NIC port's own counters by label (empty for the shm ring).
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
    int inFlightCapacity,
    Map<String, Long> nicCounters)
{
    /**
     * @return frames the device delivered into the guest's receive ring that the embedded guest never saw: delivered
     * minus verified minus those it could not verify (not pagewire test frames); 0 when the guest is another process.
     */
    long rxLost()
    {
        if (rxVerify == null)
        {
            return 0;
        }
        long delivered = 0;
        for (final QueuePair pair : pairs)
        {
            delivered += pair.rxPackets();
        }
        return delivered - rxVerify.checked() - rxVerify.foreign();
    }

    /**
     * @return the NIC port's own counters (type ids {@link NicPortSet#FIRST_COUNTER_TYPE_ID} ..
     * {@link NicPortSet#LAST_COUNTER_TYPE_ID}) by label, in registration order.
     */
    static Map<String, Long> nicCountersOf(final CountersReader reader)
    {
        final Map<String, Long> counters = new LinkedHashMap<>();
        reader.forEach((final int counterId, final int typeId, final DirectBuffer key, final String label) ->
        {
            if (typeId >= NicPortSet.FIRST_COUNTER_TYPE_ID && typeId <= NicPortSet.LAST_COUNTER_TYPE_ID)
            {
                counters.merge(label, reader.getCounterValue(counterId), Long::sum);
            }
        });
        return counters;
    }
}
