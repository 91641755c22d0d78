package io.pagewire.control.metrics;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.latency.LatencyRecorders;
import io.pagewire.control.latency.LatencySnapshot;
import io.pagewire.control.run.EmbeddedForwarder;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.stats.CountersLookup;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.stats.SystemCounter;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code /metrics} against a running embedded forwarder: scraped over HTTP, its numbers are the counters file's and
 * the run's own (the same numbers {@code pagewire stat} and the summary show).
 */
class MetricsServerTest
{
    @TempDir
    Path temp;

    /** @return sample name with labels (as written) to value, from the Prometheus text format. */
    private static Map<String, Double> scrape(final int port) throws Exception
    {
        try (HttpClient client = HttpClient.newHttpClient())
        {
            final HttpResponse<String> response = client.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            final Map<String, Double> samples = new HashMap<>();
            for (final String line : response.body().split("\n"))
            {
                if (!line.isBlank() && !line.startsWith("#"))
                {
                    final int space = line.lastIndexOf(' ');
                    samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
                }
            }
            return samples;
        }
    }

    private static long sample(final Map<String, Double> samples, final String name)
    {
        final Double value = samples.get(name);
        assertNotNull(value, name + " in " + samples.keySet());
        return value.longValue();
    }

    @Test
    void scrapedCountersMatchTheCountersFileAndTheRun() throws Exception
    {
        final LatencyRecorders recorders = new LatencyRecorders();
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(
            PagewireConfig.load(null, List.of("traffic.rate_mbps=2000")), temp, recorders);
            LatencyRecorders.Monitors monitors = recorders.monitor(null);
            MetricsServer metrics = MetricsServer.start(0, forwarder.countersFile().reader(),
                monitors.frames()::snapshot, monitors.usedRing()::snapshot))
        {
            assertTrue(metrics.port() > 0);
            forwarder.start();
            final long end = System.nanoTime() + 1_500_000_000L;
            Map<String, Double> live = Map.of();
            while (System.nanoTime() - end < 0)
            {
                forwarder.poll();
                Thread.sleep(100);
                monitors.frames().sample();
                live = scrape(metrics.port());
            }
            assertTrue(sample(live, "pagewire_rx_packets_total{queue=\"0\"}") > 0, "live counters move");
            forwarder.stop();
            monitors.sample();

            final Map<String, Double> samples = scrape(metrics.port());
            final QueuePair pair = forwarder.finalPair();
            final CountersReader counters = forwarder.countersFile().reader();
            assertTrue(pair.rxPackets() > 1000, "traffic flowed");
            assertEquals(pair.rxPackets(), sample(samples, "pagewire_rx_packets_total{queue=\"0\"}"));
            assertEquals(CountersLookup.value(counters, QueueCounter.RX_PACKETS, 0),
                sample(samples, "pagewire_rx_packets_total{queue=\"0\"}"));
            assertEquals(pair.rxBytes(), sample(samples, "pagewire_rx_bytes_total{queue=\"0\"}"));
            assertEquals(pair.reader().sentFrames(), sample(samples, "pagewire_tx_packets_total{queue=\"0\"}"));
            assertEquals(CountersLookup.value(counters, QueueCounter.TX_BYTES, 0),
                sample(samples, "pagewire_tx_bytes_total{queue=\"0\"}"));
            assertEquals(CountersLookup.rxBuffersPerPacket(counters, 0)[0],
                sample(samples, "pagewire_rx_buffers_per_packet_total{buffers=\"1\",queue=\"0\"}"));
            assertEquals(CountersLookup.value(counters, SystemCounter.DUTY_CYCLES),
                sample(samples, "pagewire_dataplane_duty_cycles_total"));

            final LatencySnapshot snapshot = monitors.frames().snapshot();
            assertEquals(forwarder.peer().guest().verify().checked(), snapshot.count());
            assertEquals(snapshot.count(), sample(samples, "pagewire_latency_seconds_count"));
            assertEquals(snapshot.maxNs() / 1e9, samples.get("pagewire_latency_seconds{quantile=\"1.0\"}"), 1e-9);
            assertEquals(snapshot.p99Ns() / 1e9, samples.get("pagewire_latency_seconds{quantile=\"0.99\"}"), 1e-9);
            // One used-ring sample per receive burst: at least one, at most one per frame.
            final long bursts = sample(samples, "pagewire_latency_used_ring_seconds_count");
            assertTrue(bursts > 0 && bursts <= pair.rxPackets(), "bursts " + bursts);
            assertEquals(monitors.usedRing().snapshot().count(), bursts);
        }
    }
}
