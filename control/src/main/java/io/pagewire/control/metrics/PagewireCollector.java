package io.pagewire.control.metrics;

import io.pagewire.control.latency.LatencySnapshot;
import io.pagewire.dataplane.stats.CounterKey;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.stats.SystemCounter;
import io.pagewire.dataplane.virtio.QueueError;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.PrometheusNaming;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Turns the forwarder's counters file into Prometheus metrics at each scrape: the same counters, read the same way
 * (type id and key, never the label text) as {@code pagewire stat} reads them, plus the latency percentiles.
 * <ul>
 *   <li>{@link QueueCounter}s: {@code pagewire_<label>} with a {@code queue} label, e.g.
 *       {@code pagewire_rx_packets_total{queue="0"}}; the buffers-per-packet histogram gets a {@code buffers} label
 *       ("1".."64", "65+"), queue errors an {@code error} label; the ring occupancy is a gauge;</li>
 *   <li>{@link SystemCounter}s: {@code pagewire_dataplane_<label>}, e.g. {@code pagewire_dataplane_duty_cycles_total}
 *       (the longest duty cycle is a gauge);</li>
 *   <li>any other counter (NIC port counters): {@code pagewire_<label>} as a counter, with a {@code queue} label when
 *       its key names one;</li>
 *   <li>latency, when measured: a summary {@code pagewire_latency_seconds} with quantiles 0.5 .. 0.9999 and 1 (max),
 *       over the whole run so far; {@code pagewire_latency_used_ring_seconds} likewise for the dataplane's
 *       per-burst sample up to the used-ring publication.</li>
 * </ul>
 * Called on the HTTP server's thread; allocates per scrape, never touches the dataplane.
 */
public final class PagewireCollector implements MultiCollector
{
    private final CountersReader counters;
    private final Supplier<LatencySnapshot> latency;
    private final Supplier<LatencySnapshot> usedRing;

    /**
     * @param counters the forwarder's counters.
     * @param latency  the latest latency percentiles, or null when latency is not measured.
     * @param usedRing the latest used-ring publication latency percentiles, or null.
     */
    public PagewireCollector(
        final CountersReader counters, final Supplier<LatencySnapshot> latency,
        final Supplier<LatencySnapshot> usedRing)
    {
        this.counters = counters;
        this.latency = latency;
        this.usedRing = usedRing;
    }

    private static final class Family
    {
        final String name;
        final String help;
        final boolean gauge;
        final List<Labels> labels = new ArrayList<>();
        final List<Long> values = new ArrayList<>();
        final Set<Labels> seen = new HashSet<>();

        Family(final String name, final String help, final boolean gauge)
        {
            this.name = name;
            this.help = help;
            this.gauge = gauge;
        }

        void add(final Labels pointLabels, final long value)
        {
            if (seen.add(pointLabels))
            {
                labels.add(pointLabels);
                values.add(value);
            }
        }

        MetricSnapshot snapshot()
        {
            if (gauge)
            {
                final GaugeSnapshot.Builder builder = GaugeSnapshot.builder().name(name).help(help);
                for (int i = 0; i < labels.size(); i++)
                {
                    builder.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                        .labels(labels.get(i)).value(values.get(i)).build());
                }
                return builder.build();
            }
            final CounterSnapshot.Builder builder = CounterSnapshot.builder().name(name).help(help);
            for (int i = 0; i < labels.size(); i++)
            {
                builder.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                    .labels(labels.get(i)).value(values.get(i)).build());
            }
            return builder.build();
        }
    }

    @Override
    public MetricSnapshots collect()
    {
        final Map<String, Family> families = new LinkedHashMap<>();
        counters.forEach((final int counterId, final int typeId, final DirectBuffer key, final String label) ->
        {
            final long value = counters.getCounterValue(counterId);
            final QueueCounter queueCounter = QueueCounter.get(typeId);
            final SystemCounter systemCounter = queueCounter == null ? SystemCounter.get(typeId) : null;
            if (queueCounter != null)
            {
                final String queue = Integer.toString(CounterKey.queue(key));
                final Family family = family(families, "pagewire_" + name(queueCounter.label()),
                    "pagewire queue counter '" + queueCounter.label() + "' (type " + typeId + ")",
                    queueCounter.kind() == QueueCounter.Kind.GAUGE);
                switch (queueCounter.kind())
                {
                    case HISTOGRAM -> family.add(Labels.of("queue", queue, "buffers",
                        QueueCounter.bufferBucketLabel(CounterKey.member(key))), value);
                    case PER_QUEUE_ERROR ->
                    {
                        final QueueError error = QueueCounter.queueErrorOf(CounterKey.member(key));
                        family.add(Labels.of("queue", queue, "error", error == null ?
                            Integer.toString(CounterKey.member(key)) : error.name().toLowerCase(java.util.Locale.ROOT)), value);
                    }
                    default -> family.add(Labels.of("queue", queue), value);
                }
            }
            else if (systemCounter != null)
            {
                family(families, "pagewire_dataplane_" + name(systemCounter.label()),
                    "pagewire dataplane counter '" + systemCounter.label() + "' (type " + typeId + ")",
                    systemCounter == SystemCounter.MAX_CYCLE_TIME_NS).add(Labels.EMPTY, value);
            }
            else
            {
                final int queue = key.capacity() >= CounterKey.LENGTH ? CounterKey.queue(key) : CounterKey.NO_QUEUE;
                family(families, "pagewire_" + name(label.replaceAll("^q\\d+ | q\\d+$", "")),
                    "pagewire counter (type " + typeId + ")", false)
                    .add(queue == CounterKey.NO_QUEUE || typeId == 0 ? Labels.EMPTY :
                        Labels.of("queue", Integer.toString(queue)), value);
            }
        });
        final List<MetricSnapshot> snapshots = new ArrayList<>();
        for (final Family family : families.values())
        {
            snapshots.add(family.snapshot());
        }
        addSummary(snapshots, latency, "pagewire_latency_seconds",
            "Time from a frame's intended send time to its consumption by the embedded guest, whole run");
        addSummary(snapshots, usedRing, "pagewire_latency_used_ring_seconds",
            "Time from the intended send time of a receive burst's oldest frame to the used-ring publication, " +
            "one sample per burst, whole run");
        return new MetricSnapshots(snapshots);
    }

    private static void addSummary(
        final List<MetricSnapshot> snapshots, final Supplier<LatencySnapshot> source, final String name,
        final String help)
    {
        final LatencySnapshot snapshot = source == null ? null : source.get();
        if (snapshot != null)
        {
            final Quantiles.Builder quantiles = Quantiles.builder();
            final long[] values = snapshot.percentileValuesNs();
            for (int i = 0; i < values.length; i++)
            {
                quantiles.quantile(new Quantile(LatencySnapshot.QUANTILES[i], values[i] / 1e9));
            }
            snapshots.add(SummarySnapshot.builder().name(name).help(help)
                .dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder()
                    .count(snapshot.count()).sum(snapshot.meanNs() * snapshot.count() / 1e9)
                    .quantiles(quantiles.build()).build())
                .build());
        }
    }

    private static Family family(
        final Map<String, Family> families, final String name, final String help, final boolean gauge)
    {
        return families.computeIfAbsent(name, n -> new Family(n, help, gauge));
    }

    /**
     * @param label a counter label such as {@code "rx drops no_buffers"} or {@code "nic.memif.disconnects"}.
     * @return a valid Prometheus name part: {@code rx_drops_no_buffers}, {@code nic_memif_disconnects}.
     */
    static String name(final String label)
    {
        final String name = PrometheusNaming.sanitizeMetricName(label.trim().toLowerCase(java.util.Locale.ROOT)
            .replaceAll("[^a-z0-9_]+", "_").replaceAll("_+", "_").replaceAll("^_|_$", ""));
        return name.endsWith("_total") ? name.substring(0, name.length() - "_total".length()) : name;
    }
}
