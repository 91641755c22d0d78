package io.pagewire.dataplane.port.memif;

import io.pagewire.dataplane.stats.CounterDescriptor;
import io.pagewire.dataplane.stats.CounterKey;
import io.pagewire.dataplane.stats.FrameAccounting;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * Counters of the memif NIC port, type ids 300..319 in the counters file (stable: never renumber). Connection events
 * are counted by the control thread (key queue {@link CounterKey#NO_QUEUE}); per-frame events by the dataplane thread
 * of each queue pair (key queue = pair index). Each counter has one writer. Retired ids are not reused: 305 was
 * {@code nic.memif.rx_drops_chained} (received chains were dropped until frames over several buffers were assembled).
 */
public enum MemifCounter implements CounterDescriptor
{
    /** Connections that reached CONNECTED. Control thread. */
    CONNECTS(300, "nic.memif.connects", false),
    /** Connections that ended (peer went, peer sent DISCONNECT, or pagewire dropped a hostile peer). */
    DISCONNECTS(301, "nic.memif.disconnects", false),
    /** Control messages refused: wrong size, unknown or unexpected type, bad version, out-of-range values. */
    BAD_MESSAGES(302, "nic.memif.bad_messages", false),
    /** Descriptors or ring indices that pointed outside the peer's regions or ring (per queue pair). */
    BAD_DESCRIPTORS(303, "nic.memif.bad_descriptors", true),
    /**
     * Frames the guest transmitted while the peer was not connected, or while its transmit ring was broken and the
     * disconnect pending, dropped (per queue pair).
     */
    TX_DROPS_DOWN(304, "nic.memif.tx_drops_down", true, FrameAccounting.NIC_TX_DROP),
    /**
     * Frames the guest transmitted that are longer than all of the transmit ring's buffers together (ring size times
     * the buffer size; as server, the lengths the client offered), dropped (per queue pair). Longer than one buffer
     * is not enough: those are chained.
     */
    TX_DROPS_BUFFER_TOO_SMALL(306, "nic.memif.tx_drops_buffer_too_small", true, FrameAccounting.NIC_TX_DROP),
    /** Connections refused: a second client while one is connected, or the wrong interface id. Control thread. */
    REJECTED(307, "nic.memif.rejected", false),
    /** Client role: connect attempts that failed (no listener yet); retried with backoff. Control thread. */
    CONNECT_FAILURES(308, "nic.memif.connect_failures", false),
    /**
     * Received frames longer than {@link MemifNicPort#MAX_FRAME_LENGTH} (one descriptor or a chain of them), dropped
     * whole (per queue pair).
     */
    RX_DROPS_TOO_LONG(309, "nic.memif.rx_drops_too_long", true, FrameAccounting.NIC_RX_DROP),
    /**
     * Received chains the peer left unfinished (NEXT on the last descriptor it published) for
     * {@link StallWatch#DEADLINE_NS}: each stalled the receive ring behind it, so the peer is reported and disconnected
     * as for a bad descriptor (per queue pair).
     */
    RX_INCOMPLETE_CHAINS(310, "nic.memif.rx_incomplete_chains", true),
    /**
     * Server role: frames the guest transmitted that had to wait because the free buffers the client offered were too
     * few to hold them and the client had never offered more at once; each frame is counted once however long it waits
     * (per queue pair). A frame waiting for a client that offered more before is not counted: that is a full ring.
     */
    TX_WAITS_OFFER_TOO_SMALL(311, "nic.memif.tx_waits_offer_too_small", true),
    /**
     * Frames counted in {@link #TX_WAITS_OFFER_TOO_SMALL} that were still waiting after {@link StallWatch#DEADLINE_NS}
     * with the client offering no more, dropped so the guest's queue moves on (per queue pair).
     */
    TX_DROPS_OFFER_TOO_SMALL(312, "nic.memif.tx_drops_offer_too_small", true, FrameAccounting.NIC_TX_DROP),
    /**
     * Frames the guest transmitted (counted as sent by the transmit reader) that never reached the peer because it
     * left: committed to its ring but not yet published when control ended the connection, and, as client, published
     * but not yet consumed by the server when pagewire saw it go (its {@code tail} short of pagewire's {@code head}).
     * As server the client's consumption is not visible, so frames published to a client that then left count as
     * sent, as on a NIC whose link goes down (per queue pair).
     */
    TX_DROPS_PEER_LEFT(313, "nic.memif.tx_drops_peer_left", true, FrameAccounting.NIC_TX_DROP),
    /**
     * Server role: clients refused because the regions they added would have made pagewire map more than
     * {@code nic.memif.max_region_mib} of their memory in all. Control thread.
     */
    REGIONS_OVER_CAP(314, "nic.memif.regions_over_cap", false);

    private final int id;
    private final String label;
    private final boolean perQueue;
    private final FrameAccounting accounting;

    MemifCounter(final int id, final String label, final boolean perQueue)
    {
        this(id, label, perQueue, FrameAccounting.NONE);
    }

    MemifCounter(final int id, final String label, final boolean perQueue, final FrameAccounting accounting)
    {
        this.id = id;
        this.label = label;
        this.perQueue = perQueue;
        this.accounting = accounting;
    }

    /**
     * @return the counter's role in the run summary's frame balance: the transmit drops are frames the transmit
     *         reader handed to the port (counted as sent by it) that never reached the peer.
     */
    @Override
    public FrameAccounting accounting()
    {
        return accounting;
    }

    /** @return the counter type id (300..319). */
    @Override
    public int id()
    {
        return id;
    }

    /** @return the label written in the counters file, before the queue pair of a per-queue counter. */
    @Override
    public String label()
    {
        return label;
    }

    /** @return whether there is one per queue pair (written by that pair's dataplane thread). */
    public boolean perQueue()
    {
        return perQueue;
    }

    /**
     * Allocates this counter.
     *
     * @param manager where.
     * @param queue   the queue pair, or {@link CounterKey#NO_QUEUE}.
     * @return the counter, labelled with the queue pair after the label ({@code nic.memif.tx_drops_down q1}).
     */
    @Override
    public AtomicCounter allocate(final CountersManager manager, final int queue)
    {
        return allocate(manager, queue == CounterKey.NO_QUEUE ? label : label + " q" + queue, queue, 0);
    }
}
