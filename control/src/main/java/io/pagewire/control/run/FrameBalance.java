package io.pagewire.control.run;

import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.port.afpacket.AfPacketCounter;
import io.pagewire.dataplane.port.memif.MemifCounter;
import io.pagewire.dataplane.port.pcap.PcapCounter;
import io.pagewire.dataplane.stats.CounterDescriptor;
import io.pagewire.dataplane.stats.FrameAccounting;
import io.pagewire.dataplane.tx.TxReader;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The run summary's {@code accounting} section: every frame pagewire took is sent, delivered or dropped by a named
 * cause, checked three ways, each in its own unit:
 * <ul>
 *   <li>{@code tx}, in the guest's frames: taken from the guest's transmit queues ({@code tx taken}) = handed to the
 *       NIC port ({@code tx packets}) + dropped by the transmit reader, by cause;</li>
 *   <li>{@code nic_tx}, in the NIC port's frames (a frame cut into segments in software is one per segment, so the
 *       two units differ only then): handed to the port ({@code tx nic_frames}) = sent by the port + dropped by the
 *       port, by cause + still held by it (a transmit ring the kernel has not emptied yet). The port's counters say
 *       which they are ({@link CounterDescriptor#accounting()}); a port that does not count what it sent is taken
 *       to have sent the rest ({@code sent_counted} false);</li>
 *   <li>{@code rx}, in the NIC port's frames: taken from the port's receive ring ({@code rx taken}) = delivered to
 *       the guest ({@code rx packets}) + dropped, by cause. Frames the port or the kernel dropped before the ring
 *       (a full ring, frames the port could not handle) are listed in {@code dropped_before_taken}, outside the
 *       balance, as the sources' {@code nic_ring_full} is.</li>
 * </ul>
 * A {@code balanced: false} means a frame went somewhere no counter says: a bug, not a traffic condition.
 */
final class FrameBalance
{
    /** Every NIC port kind's counters, to find the role of a NIC counter from its label. */
    private static final CounterDescriptor[][] NIC_COUNTERS =
        {AfPacketCounter.values(), MemifCounter.values(), PcapCounter.values()};

    private final Map<String, Object> json = new LinkedHashMap<>();
    private final String text;

    /**
     * @param pairs       the queue pairs, after the dataplane gave them back.
     * @param nicCounters the NIC port's counters by label ({@link RunResult#nicCounters()}).
     */
    FrameBalance(final List<QueuePair> pairs, final Map<String, Long> nicCounters)
    {
        long txTaken = 0;
        long txPackets = 0;
        long nicFrames = 0;
        long rxTaken = 0;
        long rxDelivered = 0;
        final Map<String, Long> txDropped = guestTxDrops(pairs);
        final Map<String, Long> rxDropped = new LinkedHashMap<>();
        for (final QueuePair.RxDrop drop : QueuePair.RxDrop.values())
        {
            rxDropped.put(drop.label(), 0L);
        }
        for (final QueuePair pair : pairs)
        {
            final TxReader reader = pair.reader();
            txTaken += reader.takenFrames();
            txPackets += reader.sentFrames();
            nicFrames += reader.nicFrames();
            rxTaken += pair.rxTaken();
            rxDelivered += pair.rxPackets();
            for (final QueuePair.RxDrop drop : QueuePair.RxDrop.values())
            {
                rxDropped.merge(drop.label(), pair.rxDrops()[drop.ordinal()], Long::sum);
            }
        }

        long nicSent = 0;
        boolean sentCounted = false;
        long nicInFlight = 0;
        final Map<String, Long> nicDropped = new LinkedHashMap<>();
        final Map<String, Long> rxDroppedBefore = new LinkedHashMap<>();
        for (final Map.Entry<String, Long> counter : nicCounters.entrySet())
        {
            switch (accountingOf(counter.getKey()))
            {
                case NIC_TX_SENT ->
                {
                    nicSent += counter.getValue();
                    sentCounted = true;
                }
                case NIC_TX_DROP -> nicDropped.merge(counter.getKey(), counter.getValue(), Long::sum);
                case NIC_TX_IN_FLIGHT -> nicInFlight += counter.getValue();
                case NIC_RX_DROP -> rxDroppedBefore.merge(counter.getKey(), counter.getValue(), Long::sum);
                case NONE ->
                {
                }
            }
        }
        final long nicDrops = sum(nicDropped);
        if (!sentCounted)
        {
            nicSent = nicFrames - nicDrops - nicInFlight;
        }

        final boolean txBalanced = txTaken == txPackets + sum(txDropped);
        final Map<String, Object> tx = new LinkedHashMap<>();
        tx.put("taken", txTaken);
        tx.put("to_nic", txPackets);
        tx.put("dropped", txDropped);
        tx.put("balanced", txBalanced);
        json.put("tx", tx);

        final boolean nicBalanced = nicFrames == nicSent + nicDrops + nicInFlight;
        final Map<String, Object> nicTx = new LinkedHashMap<>();
        nicTx.put("frames", nicFrames);
        nicTx.put("sent", nicSent);
        nicTx.put("sent_counted", sentCounted);
        nicTx.put("dropped", nicDropped);
        nicTx.put("in_flight", nicInFlight);
        nicTx.put("balanced", nicBalanced);
        json.put("nic_tx", nicTx);

        final boolean rxBalanced = rxTaken == rxDelivered + sum(rxDropped);
        final Map<String, Object> rx = new LinkedHashMap<>();
        rx.put("taken", rxTaken);
        rx.put("delivered", rxDelivered);
        rx.put("dropped", rxDropped);
        rx.put("dropped_before_taken", rxDroppedBefore);
        rx.put("balanced", rxBalanced);
        json.put("rx", rx);
        json.put("balanced", txBalanced && nicBalanced && rxBalanced);

        text = String.format(Locale.ROOT,
            "guest tx %,d taken = %,d to NIC + %,d dropped%s; " +
                "NIC tx %,d = %,d sent%s + %,d dropped%s + %,d in flight; " +
                "rx %,d taken = %,d delivered + %,d dropped%s: %s",
            txTaken, txPackets, sum(txDropped), causes(txDropped), nicFrames, nicSent,
            sentCounted ? "" : " (not counted by the port)", nicDrops, causes(nicDropped), nicInFlight,
            rxTaken, rxDelivered, sum(rxDropped), causes(rxDropped),
            txBalanced && nicBalanced && rxBalanced ? "balanced" : "NOT BALANCED" +
                (txBalanced ? "" : " (guest tx off by " + (txTaken - txPackets - sum(txDropped)) + ")") +
                (nicBalanced ? "" : " (NIC tx off by " + (nicFrames - nicSent - nicDrops - nicInFlight) + ")") +
                (rxBalanced ? "" : " (rx off by " + (rxTaken - rxDelivered - sum(rxDropped)) + ")"));
    }

    /**
     * The transmit reader's drop causes, the {@code tx drops} counters, summed over the pairs: one entry per cause
     * (0 when there is no pair), so that a frame the reader takes and does not send is in exactly one of them. The run
     * summary's {@code tx.drops} and the balance both use it: a new cause is added here and nowhere else.
     */
    static Map<String, Long> guestTxDrops(final List<QueuePair> pairs)
    {
        final Map<String, Long> drops = new LinkedHashMap<>();
        long tooLong = 0;
        long gso = 0;
        long badHeader = 0;
        long runt = 0;
        for (final QueuePair pair : pairs)
        {
            final TxReader reader = pair.reader();
            tooLong += reader.droppedTooLong();
            gso += reader.droppedGso();
            badHeader += reader.droppedBadHeader();
            runt += reader.droppedRunt();
        }
        drops.put("too_long", tooLong);
        drops.put("gso", gso);
        drops.put("bad_vnet_hdr", badHeader);
        drops.put("runt", runt);
        return drops;
    }

    /** @return the role of the NIC counter with this label ({@code "label"} or {@code "label qN"}), by its enum. */
    static FrameAccounting accountingOf(final String label)
    {
        for (final CounterDescriptor[] counters : NIC_COUNTERS)
        {
            for (final CounterDescriptor counter : counters)
            {
                final String name = counter.label();
                if (label.equals(name) || label.startsWith(name + " q"))
                {
                    return counter.accounting();
                }
            }
        }
        return FrameAccounting.NONE;
    }

    private static long sum(final Map<String, Long> values)
    {
        long sum = 0;
        for (final long value : values.values())
        {
            sum += value;
        }
        return sum;
    }

    private static String causes(final Map<String, Long> values)
    {
        final StringBuilder text = new StringBuilder();
        for (final Map.Entry<String, Long> value : values.entrySet())
        {
            if (value.getValue() != 0)
            {
                text.append(text.isEmpty() ? " (" : ", ").append(value.getKey()).append(' ').append(value.getValue());
            }
        }
        return text.isEmpty() ? "" : text.append(')').toString();
    }

    /** @return the {@code accounting} section (insertion-ordered). */
    Map<String, Object> json()
    {
        return json;
    }

    /** @return one line for the human summary. */
    String text()
    {
        return text;
    }
}
