package io.pagewire.control.metrics;

import io.pagewire.dataplane.stats.CounterKey;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.stats.SystemCounter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/** Counter kinds to Prometheus names and labels, without a forwarder. */
class PagewireCollectorTest
{
    @Test
    void everyKindOfCounterGetsANameAndItsLabels() throws Exception
    {
        final CountersManager manager = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 16)), new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 14)));
        final QueueCounters queue = new QueueCounters(manager, 1);
        queue.rxPackets().set(42);
        final AtomicCounter duty = manager.newCounter(SystemCounter.DUTY_CYCLES.label(), SystemCounter.DUTY_CYCLES.id(),
            key -> CounterKey.write(key, CounterKey.NO_QUEUE, 0));
        duty.set(7);
        final AtomicCounter port = manager.newCounter("nic.memif.rx_packets q1", 301, key -> CounterKey.write(key, 1, 0));
        port.set(5);
        final AtomicCounter portWide = manager.newCounter("nic.memif.disconnects", 302,
            key -> CounterKey.write(key, CounterKey.NO_QUEUE, 0));
        portWide.set(2);

        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, new PagewireCollector(manager, null, null).collect());
        final String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("pagewire_rx_packets_total{queue=\"1\"} 42"), text);
        assertTrue(text.contains("# TYPE pagewire_rx_ring_occupancy gauge"), text);
        assertTrue(text.contains("pagewire_rx_buffers_per_packet_total{buffers=\"65+\",queue=\"1\"} 0"), text);
        assertTrue(text.contains("pagewire_queue_error_total{error=\"head_out_of_range\",queue=\"1\"} 0"), text);
        assertTrue(text.contains("pagewire_dataplane_duty_cycles_total 7"), text);
        assertTrue(text.contains("pagewire_nic_memif_rx_packets_total{queue=\"1\"} 5"), text);
        assertTrue(text.contains("pagewire_nic_memif_disconnects_total 2"), text);
        assertFalse(text.contains("latency"), "no latency without --latency");
    }
}
