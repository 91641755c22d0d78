package io.pagewire.control.run;

import io.pagewire.dataplane.stats.CountersLookup;
import io.pagewire.dataplane.stats.QueueCounter;
import io.pagewire.dataplane.stats.SystemCounter;
import org.agrona.concurrent.status.CountersReader;

import java.util.Locale;
import java.util.function.IntUnaryOperator;

/**
 * The once-a-second line of a running forwarder, computed from the counters file (the same numbers
 * {@code pagewire stat} shows): rates over the last interval, drops by cause, mean buffers per packet, receive ring
 * occupancy and the dataplane's idle share.
 * <p>
 * The ring occupancy is summed over the attached queue pairs and shown against their summed RX ring sizes, so that
 * with several pairs (each of its own size, for vhost-user the frontend's) the two numbers measure the same rings.
 */
final class StatusLine
{
    private static final QueueCounter[] DROPS = {
        QueueCounter.RX_DROPS_NO_BUFFERS, QueueCounter.RX_DROPS_FRAME_TOO_LONG, QueueCounter.RX_DROPS_BUFFER_TOO_SMALL,
        QueueCounter.RX_DROPS_TOO_MANY_SEGMENTS, QueueCounter.RX_DROPS_QUEUE_BROKEN};

    private final CountersReader reader;
    private final IntUnaryOperator rxRingSize;
    private long lastNs;
    private long rxPackets;
    private long rxBytes;
    private long txPackets;
    private long txBytes;
    private long buffers;
    private long dutyCycles;
    private long busyCycles;

    /**
     * @param rxRingSize queue pair index → its RX ring size while attached, else 0 ({@link Forwarder#rxRingSize}).
     */
    StatusLine(final CountersReader reader, final IntUnaryOperator rxRingSize, final long nowNs)
    {
        this.reader = reader;
        this.rxRingSize = rxRingSize;
        this.lastNs = nowNs;
    }

    /** @return the line for the interval since the previous call. */
    String next(final long nowNs, final double elapsedSeconds, final long nicRingFullDrops)
    {
        final double seconds = Math.max((nowNs - lastNs) / 1e9, 1e-9);
        lastNs = nowNs;
        final long rxP = value(QueueCounter.RX_PACKETS);
        final long rxB = value(QueueCounter.RX_BYTES);
        final long txP = value(QueueCounter.TX_PACKETS);
        final long txB = value(QueueCounter.TX_BYTES);
        long buffersTotal = 0;
        long ringOccupancy = 0;
        long ringCapacity = 0;
        for (final int queue : CountersLookup.queues(reader))
        {
            final long[] histogram = CountersLookup.rxBuffersPerPacket(reader, queue);
            for (int k = 0; k < histogram.length; k++)
            {
                buffersTotal += (k + 1L) * histogram[k];
            }
            final int size = rxRingSize.applyAsInt(queue);
            if (size > 0)
            {
                ringOccupancy += queueValue(QueueCounter.RX_RING_OCCUPANCY, queue);
                ringCapacity += size;
            }
        }
        final long cycles = systemValue(SystemCounter.DUTY_CYCLES);
        final long busy = systemValue(SystemCounter.BUSY_CYCLES);

        final StringBuilder drops = new StringBuilder();
        for (final QueueCounter drop : DROPS)
        {
            final long n = value(drop);
            if (n != 0)
            {
                drops.append(' ').append(drop.label().substring("rx drops ".length())).append('=').append(n);
            }
        }
        if (nicRingFullDrops != 0)
        {
            drops.append(" nic_ring_full=").append(nicRingFullDrops);
        }
        final long deltaRx = rxP - rxPackets;
        final long deltaCycles = cycles - dutyCycles;
        final String line = String.format(Locale.ROOT,
            "[%5.1fs] rx %7.3f Mpps %6.2f Gb/s | tx %7.3f Mpps %6.2f Gb/s | drops%s | buf/pkt %.2f | " +
            "ring %s | idle %.0f%%",
            elapsedSeconds,
            deltaRx / seconds / 1e6, (rxB - rxBytes) * 8.0 / seconds / 1e9,
            (txP - txPackets) / seconds / 1e6, (txB - txBytes) * 8.0 / seconds / 1e9,
            drops.isEmpty() ? " none" : drops.toString(),
            deltaRx == 0 ? 0.0 : (double)(buffersTotal - buffers) / deltaRx,
            ringCapacity == 0 ? "none" : ringOccupancy + "/" + ringCapacity,
            deltaCycles == 0 ? 0.0 : 100.0 * (deltaCycles - (busy - busyCycles)) / deltaCycles);
        rxPackets = rxP;
        rxBytes = rxB;
        txPackets = txP;
        txBytes = txB;
        buffers = buffersTotal;
        dutyCycles = cycles;
        busyCycles = busy;
        return line;
    }

    private long systemValue(final SystemCounter counter)
    {
        final int id = CountersLookup.findCounterId(reader, counter);
        return id == CountersReader.NULL_COUNTER_ID ? 0 : reader.getCounterValue(id);
    }

    /** @return the counter summed over the queue pairs that exist now (none before a guest attaches). */
    private long value(final QueueCounter counter)
    {
        long sum = 0;
        for (final int queue : CountersLookup.queues(reader))
        {
            sum += queueValue(counter, queue);
        }
        return sum;
    }

    private long queueValue(final QueueCounter counter, final int queue)
    {
        final int id = CountersLookup.findCounterId(reader, counter, queue);
        return id == CountersReader.NULL_COUNTER_ID ? 0 : reader.getCounterValue(id);
    }
}
