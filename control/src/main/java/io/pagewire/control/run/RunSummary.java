package io.pagewire.control.run;

import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.EmbeddedGuest;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.TrafficSource;
import io.pagewire.dataplane.guest.VerifyStats;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.FeatureBit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The end-of-run summary: the stable JSON contract of {@code --summary FILE} (documented in the README) and the
 * human text printed at the end of a run, both from the same numbers.
 * <p>
 * Rates count frame bytes without the virtio-net header or Ethernet wire overhead. {@code verify.lost} counts frames
 * the device delivered into the guest's ring that the guest never saw; frames dropped on purpose (by policy, by a
 * full NIC ring) are in {@code drops}, not in {@code lost}.
 */
public final class RunSummary
{
    private final Map<String, Object> json = new LinkedHashMap<>();
    private final String text;

    /**
     * @param forwarder a forwarder that has been stopped.
     */
    public RunSummary(final EmbeddedForwarder forwarder)
    {
        final QueuePair pair = forwarder.finalPair();
        final EmbeddedGuest guest = forwarder.peer().guest();
        final TrafficSource source = forwarder.peer().source();
        final TrafficSink sink = forwarder.peer().sink();
        final TxReader reader = pair.reader();
        final double seconds = Math.max(forwarder.durationSeconds(), 1e-9);

        final Map<String, Object> features = new LinkedHashMap<>();
        features.put("offered", names(guest.offeredFeatures()));
        features.put("negotiated", names(guest.negotiatedFeatures()));
        json.put("features", features);
        json.put("config", new LinkedHashMap<>(forwarder.config().toMap()));
        json.put("duration_s", seconds);

        final Map<String, Object> rx = new LinkedHashMap<>();
        rx.put("packets", pair.rxPackets());
        rx.put("bytes", pair.rxBytes());
        rx.put("mpps", pair.rxPackets() / seconds / 1e6);
        rx.put("gbps", pair.rxBytes() * 8.0 / seconds / 1e9);
        final Map<String, Object> rxDrops = new LinkedHashMap<>();
        for (final QueuePair.RxDrop drop : QueuePair.RxDrop.values())
        {
            rxDrops.put(drop.label(), pair.rxDrops()[drop.ordinal()]);
        }
        rxDrops.put("nic_ring_full", source.droppedRingFull());
        rx.put("drops", rxDrops);
        final Map<String, Object> buffers = new LinkedHashMap<>();
        final long[] histogram = pair.buffersPerPacket();
        long buffersUsed = 0;
        for (int k = 1; k < histogram.length; k++)
        {
            if (histogram[k] != 0)
            {
                buffers.put(k <= QueuePair.MAX_EXACT_BUFFERS ? Integer.toString(k) :
                    (QueuePair.MAX_EXACT_BUFFERS + 1) + "+", histogram[k]);
                buffersUsed += k * histogram[k];
            }
        }
        rx.put("buffers_per_packet", buffers);
        rx.put("ring_size", forwarder.config().virtqueue().rxSize());
        rx.put("in_flight_capacity_packets", guest.inFlightCapacity());
        rx.put("offered_packets", source.offered());
        json.put("rx", rx);

        final Map<String, Object> tx = new LinkedHashMap<>();
        tx.put("packets", reader.sentFrames());
        tx.put("bytes", reader.sentBytes());
        tx.put("mpps", reader.sentFrames() / seconds / 1e6);
        tx.put("gbps", reader.sentBytes() * 8.0 / seconds / 1e9);
        final Map<String, Object> txDrops = new LinkedHashMap<>();
        txDrops.put("too_long", reader.droppedTooLong());
        txDrops.put("gso", reader.droppedGso());
        txDrops.put("guest_tx_queue_full", guest.echoDropped());
        tx.put("drops", txDrops);
        json.put("tx", tx);

        final VerifyStats guestVerify = guest.verify();
        final long lost = pair.rxPackets() - guestVerify.checked();
        json.put("verify", verify(guestVerify, lost));
        final VerifyStats sinkVerify = sink.verify();
        json.put("verify_tx", verify(sinkVerify, reader.sentFrames() - sinkVerify.checked()));
        json.put("alloc_bytes_per_packet", forwarder.dataplaneAllocatedBytesPerPacket());
        json.put("drained", forwarder.drained());
        if (pair.rxQueue().brokenReason() != null || pair.txQueue().brokenReason() != null)
        {
            json.put("queue_error", String.valueOf(pair.rxQueue().brokenReason() != null ?
                pair.rxQueue().brokenReason() : pair.txQueue().brokenReason()));
        }

        text = text(forwarder, rx, tx, rxDrops, buffersUsed, guestVerify, lost, sinkVerify);
    }

    private static Map<String, Object> verify(final VerifyStats stats, final long lost)
    {
        final Map<String, Object> verify = new LinkedHashMap<>();
        verify.put("checked", stats.checked());
        verify.put("corrupt", stats.corrupt());
        verify.put("lost", lost);
        verify.put("duplicated", stats.duplicated());
        verify.put("reordered", stats.reordered());
        return verify;
    }

    private static List<String> names(final long features)
    {
        final List<String> names = new ArrayList<>();
        FeatureBit.names(features, names);
        return names;
    }

    private static String text(
        final EmbeddedForwarder forwarder,
        final Map<String, Object> rx,
        final Map<String, Object> tx,
        final Map<String, Object> rxDrops,
        final long buffersUsed,
        final VerifyStats guestVerify,
        final long lost,
        final VerifyStats sinkVerify)
    {
        final long rxPackets = (long)rx.get("packets");
        final long offered = (long)rx.get("offered_packets");
        long dropped = 0;
        final StringBuilder drops = new StringBuilder();
        for (final Map.Entry<String, Object> drop : rxDrops.entrySet())
        {
            final long n = (long)drop.getValue();
            if (n != 0)
            {
                dropped += n;
                drops.append(drops.isEmpty() ? "" : ", ").append(drop.getKey()).append(' ').append(n);
            }
        }
        return String.format(Locale.ROOT, """
            pagewire run summary (%.2f s, rx.mode=%s, %d-byte frames)
              negotiated      %s
              NIC -> guest    %,d packets  %.3f Mpps  %.3f Gb/s  (offered %,d)
              drops           %s (%.2f%% of offered)
              buffers/packet  %.2f mean; ring %d entries holds %d packets in flight
              guest -> NIC    %,d packets  %.3f Mpps  %.3f Gb/s
              verify rx       %,d checked, %d corrupt, %d lost, %d duplicated, %d reordered
              verify tx       %,d checked, %d corrupt, %d duplicated, %d reordered
              dataplane       %.2f bytes allocated per packet in steady state%s
            """,
            forwarder.durationSeconds(), forwarder.config().rx().mode().configName(),
            forwarder.config().traffic().frameSize(),
            String.join(",", names(forwarder.peer().guest().negotiatedFeatures())),
            rxPackets, (double)rx.get("mpps"), (double)rx.get("gbps"), offered,
            drops.isEmpty() ? "none" : drops, offered == 0 ? 0.0 : 100.0 * dropped / offered,
            rxPackets == 0 ? 0.0 : (double)buffersUsed / rxPackets,
            (int)rx.get("ring_size"), (int)rx.get("in_flight_capacity_packets"),
            (long)tx.get("packets"), (double)tx.get("mpps"), (double)tx.get("gbps"),
            guestVerify.checked(), guestVerify.corrupt(), lost, guestVerify.duplicated(), guestVerify.reordered(),
            sinkVerify.checked(), sinkVerify.corrupt(), sinkVerify.duplicated(), sinkVerify.reordered(),
            forwarder.dataplaneAllocatedBytesPerPacket(),
            forwarder.drained() ? "" : "\n  WARNING         not everything in flight landed before shutdown");
    }

    /** @return the JSON contract as a map (insertion-ordered). */
    public Map<String, Object> json()
    {
        return json;
    }

    /** @return the human summary. */
    public String text()
    {
        return text;
    }
}
