package io.pagewire.control.metrics;

import io.pagewire.control.latency.LatencySnapshot;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.util.function.Supplier;

/**
 * {@code /metrics} for Prometheus: the Prometheus Java client's HTTP server (its own daemon threads) serving one
 * {@link PagewireCollector} from a registry of its own, so nothing else of the JVM is exported by accident.
 */
public final class MetricsServer implements AutoCloseable
{
    private final HTTPServer server;

    private MetricsServer(final HTTPServer server)
    {
        this.server = server;
    }

    /**
     * Starts serving.
     *
     * @param port     the TCP port on every interface; 0 for an ephemeral one (see {@link #port()}).
     * @param counters the forwarder's counters.
     * @param latency  the latest latency percentiles, or null when latency is not measured.
     * @param usedRing the latest used-ring publication latency percentiles, or null.
     * @return the running server.
     * @throws IOException when the port cannot be bound.
     */
    public static MetricsServer start(
        final int port, final CountersReader counters, final Supplier<LatencySnapshot> latency,
        final Supplier<LatencySnapshot> usedRing) throws IOException
    {
        final PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new PagewireCollector(counters, latency, usedRing));
        return new MetricsServer(HTTPServer.builder().port(port).registry(registry).buildAndStart());
    }

    /** @return the port it listens on. */
    public int port()
    {
        return server.getPort();
    }

    /** Stops serving. */
    @Override
    public void close()
    {
        server.close();
    }
}
