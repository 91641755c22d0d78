package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.stats.CounterDescriptor;
import io.pagewire.dataplane.stats.FrameAccounting;

/**
 * Counters of the AF_PACKET NIC port ({@code nic.type=af_packet}), type ids 320..339 (the af_packet range of the
 * counters file; memif has 300..319, pcap 340..359). Ids are part of the counters file format: never renumber or reuse
 * one.
 */
public enum AfPacketCounter implements CounterDescriptor
{
    /** Frames the kernel dropped because the receive ring was full ({@code PACKET_STATISTICS tp_drops}). */
    KERNEL_DROPS(320, "nic.af_packet.kernel_drops", FrameAccounting.NIC_RX_DROP),
    /** Times the kernel found the receive ring full and froze its queue ({@code tp_freeze_q_cnt}). */
    KERNEL_FREEZE_QUEUE(321, "nic.af_packet.kernel_freeze_queue"),
    /** Frames the kernel passed to the socket ({@code tp_packets}). */
    KERNEL_PACKETS(322, "nic.af_packet.kernel_packets"),
    /** Received frames cut short by the kernel ({@code tp_len > tp_snaplen}), dropped. */
    RX_TRUNCATED(323, "nic.af_packet.rx_truncated"),
    /** Received frames longer than nic.slot_size - 8, dropped. */
    RX_TOO_LONG(324, "nic.af_packet.rx_too_long"),
    /** Received packets a block announced that lay outside it, skipped (transmit refusals: {@link #TX_REFUSED}). */
    BAD_FRAMES(325, "nic.af_packet.bad_frames"),
    /** Transmit claims refused because the kernel had not sent the next slot yet (the guest's frame waits). */
    TX_RING_FULL(326, "nic.af_packet.tx_ring_full"),
    /** Transmit kicks ({@code sendto}) that failed, e.g. ENOBUFS or the interface down; the frames wait. */
    TX_KICK_ERRORS(327, "nic.af_packet.tx_kick_errors"),
    /** Transmit kicks. */
    TX_KICKS(328, "nic.af_packet.tx_kicks"),
    /** Received frames with a virtio_net_hdr asking for a checksum, completed in software (vnet_hdr). */
    RX_CSUM_COMPLETED(329, "nic.af_packet.rx_csum_completed"),
    /** Received GSO frames segmented in software (vnet_hdr). */
    RX_GSO_SEGMENTED(330, "nic.af_packet.rx_gso_segmented"),
    /** Received frames whose virtio_net_hdr failed validation or could not be handled, dropped (vnet_hdr). */
    RX_VNET_DROPS(331, "nic.af_packet.rx_vnet_drops"),
    /** Received frames passed to the guest with NEEDS_CSUM, no GSO: it negotiated GUEST_CSUM (vnet_hdr). */
    RX_CSUM_PASSED(332, "nic.af_packet.rx_csum_passed"),
    /** Received TCP GSO frames passed to the guest whole: it negotiated GUEST_TSO4/6 (vnet_hdr). */
    RX_GSO_PASSED(333, "nic.af_packet.rx_gso_passed"),
    /** Received frames passed to the guest with DATA_VALID: it negotiated GUEST_CSUM (vnet_hdr). */
    RX_DATA_VALID_PASSED(334, "nic.af_packet.rx_data_valid_passed"),
    /**
     * Transmit frames the kernel refused ({@code TP_STATUS_WRONG_FORMAT}: longer than the interface's MTU, a
     * virtio_net_hdr it rejects, shorter than the Ethernet header), dropped: counted in tx packets, never sent.
     */
    TX_REFUSED(335, "nic.af_packet.tx_refused", FrameAccounting.NIC_TX_DROP),
    /** Transmit frames the kernel took off the ring for sending (to the interface's qdisc). */
    TX_SENT(336, "nic.af_packet.tx_sent", FrameAccounting.NIC_TX_SENT),
    /** Gauge: transmit frames on the ring the kernel has not taken yet (it stopped at a full send buffer). */
    TX_ON_RING(337, "nic.af_packet.tx_on_ring", FrameAccounting.NIC_TX_IN_FLIGHT);

    private final int id;
    private final String label;
    private final FrameAccounting accounting;

    AfPacketCounter(final int id, final String label)
    {
        this(id, label, FrameAccounting.NONE);
    }

    AfPacketCounter(final int id, final String label, final FrameAccounting accounting)
    {
        this.id = id;
        this.label = label;
        this.accounting = accounting;
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String label()
    {
        return label;
    }

    @Override
    public FrameAccounting accounting()
    {
        return accounting;
    }
}
