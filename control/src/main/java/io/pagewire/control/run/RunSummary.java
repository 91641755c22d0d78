package io.pagewire.control.run;

import io.pagewire.config.NicType;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.TrafficSink;
import io.pagewire.dataplane.guest.VerifyStats;
import io.pagewire.dataplane.virtio.FeatureBit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The end-of-run summary: the stable JSON contract of {@code --summary FILE} (documented in the README) and the
 * human text printed at the end of a run, both from the same numbers, summed over queue pairs.
 * <p>
 * Rates count frame bytes without the virtio-net header or Ethernet wire overhead. {@code verify.lost} counts frames
 * the device delivered into the guest's ring that the guest never saw; frames dropped on purpose (by policy, by a
 * full NIC ring) are in {@code drops}, not in {@code lost}. With a guest in another process (vhost-user) what it
 * received cannot be verified here: {@code verify.checked} is 0 and {@code verify.lost} null. Through a real NIC port
 * frames that are not pagewire test frames are counted in {@code unverifiable}, not checked. {@code accounting}
 * balances every frame taken from the guest and from the NIC against what was sent, delivered and dropped by cause
 * ({@link FrameBalance}).
 */
public final class RunSummary
{
    private final Map<String, Object> json = new LinkedHashMap<>();
    private final String text;

    /**
     * @param result a finished run.
     */
    public RunSummary(final RunResult result)
    {
        this(result, null);
    }

    /**
     * @param result  a finished run.
     * @param profile what the run measured about itself ({@code latency} and {@code jvm} sections), or null to leave
     *                both sections out.
     */
    public RunSummary(final RunResult result, final RunProfile profile)
    {
        final double seconds = Math.max(result.durationSeconds(), 1e-9);
        long rxPackets = 0;
        long rxBytes = 0;
        long txPackets = 0;
        long txBytes = 0;
        long txCsumCompleted = 0;
        long txGsoSegmented = 0;
        long txOffloadsPassed = 0;
        final long[] rxDrops = new long[QueuePair.RxDrop.values().length];
        final long[] histogram = new long[QueuePair.MAX_EXACT_BUFFERS + 2];
        String queueError = null;
        for (final QueuePair pair : result.pairs())
        {
            rxPackets += pair.rxPackets();
            rxBytes += pair.rxBytes();
            txPackets += pair.reader().sentFrames();
            txBytes += pair.reader().sentBytes();
            txCsumCompleted += pair.reader().checksumsCompleted();
            txGsoSegmented += pair.reader().segmented();
            txOffloadsPassed += pair.reader().offloadsPassed();
            for (int i = 0; i < rxDrops.length; i++)
            {
                rxDrops[i] += pair.rxDrops()[i];
            }
            for (int k = 0; k < histogram.length; k++)
            {
                histogram[k] += pair.buffersPerPacket()[k];
            }
            if (queueError == null && (pair.rxQueue().brokenReason() != null || pair.txQueue().brokenReason() != null))
            {
                queueError = "pair " + pair.index() + ": " + (pair.rxQueue().brokenReason() != null ?
                    "rx " + pair.rxQueue().brokenReason() : "tx " + pair.txQueue().brokenReason());
            }
        }

        final Map<String, Object> features = new LinkedHashMap<>();
        features.put("offered", names(result.offeredFeatures()));
        features.put("negotiated", names(result.negotiatedFeatures()));
        json.put("features", features);
        json.put("config", new LinkedHashMap<>(result.config().toMap()));
        json.put("duration_s", seconds);

        final Map<String, Object> rx = traffic(rxPackets, rxBytes, seconds);
        final Map<String, Object> drops = new LinkedHashMap<>();
        for (final QueuePair.RxDrop drop : QueuePair.RxDrop.values())
        {
            drops.put(drop.label(), rxDrops[drop.ordinal()]);
        }
        drops.put("nic_ring_full", result.nicRingFullDrops());
        rx.put("drops", drops);
        final Map<String, Object> buffers = new LinkedHashMap<>();
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
        rx.put("ring_size", result.pairs().isEmpty() ? result.config().virtqueue().rxSize() :
            result.pairs().getFirst().rxQueue().size());
        rx.put("in_flight_capacity_packets", result.inFlightCapacity() < 0 ? null : result.inFlightCapacity());
        rx.put("offered_packets", result.offeredPackets());
        json.put("rx", rx);

        final Map<String, Object> tx = traffic(txPackets, txBytes, seconds);
        final Map<String, Object> txDrops = new LinkedHashMap<>(FrameBalance.guestTxDrops(result.pairs()));
        txDrops.put("guest_tx_queue_full", result.guestTxQueueFull());
        tx.put("drops", txDrops);
        final Map<String, Object> txOffloads = new LinkedHashMap<>();
        txOffloads.put("csum_completed", txCsumCompleted);
        txOffloads.put("gso_segmented", txGsoSegmented);
        txOffloads.put("passed", txOffloadsPassed);
        tx.put("offloads", txOffloads);
        json.put("tx", tx);

        final VerifyStats rxVerify = result.rxVerify();
        final Map<String, Object> verify = rxVerify == null ? verify(0, 0, null, 0, 0) :
            verify(rxVerify.checked(), rxVerify.corrupt(), result.rxLost(),
                rxVerify.duplicated(), rxVerify.reordered());
        verify.put("unverifiable", rxVerify == null ? null : rxVerify.foreign());
        json.put("verify", verify);
        long sinkChecked = 0;
        long sinkCorrupt = 0;
        long sinkDuplicated = 0;
        long sinkReordered = 0;
        long sinkFrames = 0;
        long foreign = 0;
        for (final TrafficSink sink : result.sinks())
        {
            sinkChecked += sink.verify().checked();
            sinkCorrupt += sink.verify().corrupt();
            sinkDuplicated += sink.verify().duplicated();
            sinkReordered += sink.verify().reordered();
            sinkFrames += sink.frames();
            foreign += sink.foreign();
        }
        final Map<String, Object> verifyTx = verify(sinkChecked, sinkCorrupt, txPackets - sinkFrames, sinkDuplicated,
            sinkReordered);
        verifyTx.put("unverifiable", foreign);
        json.put("verify_tx", verifyTx);
        final Map<String, Object> nic = new LinkedHashMap<>();
        nic.put("type", result.config().nic().type().configName());
        nic.put("counters", new LinkedHashMap<>(result.nicCounters()));
        json.put("nic", nic);
        final FrameBalance balance = new FrameBalance(result.pairs(), result.nicCounters());
        json.put("accounting", balance.json());
        json.put("alloc_bytes_per_packet", result.allocBytesPerPacket());
        json.put("drained", result.drained());
        if (profile != null)
        {
            final Map<String, Object> latency = profile.latency() == null ? null : profile.latency().json();
            if (latency != null)
            {
                latency.put("used_ring", profile.usedRingLatency() == null ? null :
                    profile.usedRingLatency().json());
            }
            json.put("latency", latency);
            final Map<String, Object> jvm = new LinkedHashMap<>();
            jvm.put("gc_count", profile.gcCount());
            jvm.put("gc_pause_ms", profile.gcPauseMs());
            final Map<String, Object> alloc = new LinkedHashMap<>();
            alloc.put("dataplane", result.allocBytesPerPacket());
            alloc.put("guest", profile.guestAllocBytesPerPacket());
            jvm.put("alloc_bytes_per_packet", alloc);
            json.put("jvm", jvm);
            json.put("sched", profile.sched() == null ? null : profile.sched().json());
        }
        if (queueError != null)
        {
            json.put("queue_error", queueError);
        }

        long dropped = 0;
        final StringBuilder dropText = new StringBuilder();
        for (final Map.Entry<String, Object> drop : drops.entrySet())
        {
            final long n = (long)drop.getValue();
            if (n != 0)
            {
                dropped += n;
                dropText.append(dropText.isEmpty() ? "" : ", ").append(drop.getKey()).append(' ').append(n);
            }
        }
        final long offered = result.offeredPackets();
        final String profileText = profile == null ? "" : String.format(Locale.ROOT,
            "  latency         %s%n%s  jvm             %d GCs, %d ms paused; guest thread %.2f bytes allocated per " +
            "packet in steady state%n%s",
            profile.latency() == null ? "not measured (pagewire run --latency measures it)" :
                profile.latency().text() + " (consumed by the guest)" +
                    (result.config().traffic().rateLimited() ? "" : System.lineSeparator() +
                        "  NOTE            traffic.rate_mbps=0: the source waits for ring space, so that wait is " +
                        "not counted; set a fixed rate"),
            profile.usedRingLatency() == null ? "" : "  to used ring    " +
                profile.usedRingLatency().text("bursts") + " (oldest frame of each burst)" + System.lineSeparator(),
            profile.gcCount(), profile.gcPauseMs(), profile.guestAllocBytesPerPacket(),
            profile.sched() == null ? "" : "  sched           " + profile.sched().text() + System.lineSeparator());
        text = String.format(Locale.ROOT, """
            pagewire run summary (%.2f s, guest.type=%s, rx.mode=%s, %s, %d queue pair(s))
              negotiated      %s
              NIC -> guest    %,d packets  %.3f Mpps  %.3f Gb/s  (offered %,d)
              drops           %s (%.2f%% of offered)
              buffers/packet  %.2f mean; ring %s entries holds %s packets in flight
              guest -> NIC    %,d packets  %.3f Mpps  %.3f Gb/s
              accounting      %s
              verify rx       %s
              verify tx       %,d checked, %d corrupt, %d duplicated, %d reordered, %,d not pagewire frames
              dataplane       %.2f bytes allocated per packet in steady state%s%s
            """,
            seconds, result.config().guest().type().configName(), result.config().rx().mode().configName(),
            result.config().nic().type() == NicType.SHM ? result.config().traffic().frameSize() + "-byte frames" :
                "nic.type=" + result.config().nic().type().configName(), result.pairs().size(),
            String.join(",", names(result.negotiatedFeatures())),
            rxPackets, (double)rx.get("mpps"), (double)rx.get("gbps"), offered,
            dropText.isEmpty() ? "none" : dropText, offered == 0 ? 0.0 : 100.0 * dropped / offered,
            rxPackets == 0 ? 0.0 : (double)buffersUsed / rxPackets, rx.get("ring_size"),
            result.inFlightCapacity() < 0 ? "?" : Integer.toString(result.inFlightCapacity()),
            txPackets, (double)tx.get("mpps"), (double)tx.get("gbps"), balance.text(),
            rxVerify == null ? "not verifiable here (the guest is another process)" :
                String.format(Locale.ROOT,
                    "%,d checked, %d corrupt, %d lost, %d duplicated, %d reordered, %,d not pagewire frames",
                    rxVerify.checked(), rxVerify.corrupt(), (long)verify.get("lost"), rxVerify.duplicated(),
                    rxVerify.reordered(), rxVerify.foreign()),
            sinkChecked, sinkCorrupt, sinkDuplicated, sinkReordered, foreign,
            result.allocBytesPerPacket(),
            result.drained() ? "" : "\n  WARNING         not everything in flight landed before shutdown",
            queueError == null ? "" : "\n  QUEUE ERROR     " + queueError) + profileText;
    }

    /** @return the start of the {@code rx} or {@code tx} section: the totals and their rates; more is added. */
    private static Map<String, Object> traffic(final long packets, final long bytes, final double seconds)
    {
        final Map<String, Object> traffic = new LinkedHashMap<>();
        traffic.put("packets", packets);
        traffic.put("bytes", bytes);
        traffic.put("mpps", packets / seconds / 1e6);
        traffic.put("gbps", bytes * 8.0 / seconds / 1e9);
        return traffic;
    }

    private static Map<String, Object> verify(
        final long checked, final long corrupt, final Long lost, final long duplicated, final long reordered)
    {
        final Map<String, Object> verify = new LinkedHashMap<>();
        verify.put("checked", checked);
        verify.put("corrupt", corrupt);
        verify.put("lost", lost);
        verify.put("duplicated", duplicated);
        verify.put("reordered", reordered);
        return verify;
    }

    private static List<String> names(final long features)
    {
        final List<String> names = new ArrayList<>();
        FeatureBit.names(features, names);
        return names;
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
