package io.pagewire.config;

/**
 * Which virtio features the device offers the driver, table {@code [features]}. Negotiation (control) offers these
 * and uses what the driver accepts.
 *
 * @param mrgRxbuf     {@code features.mrg_rxbuf}: VIRTIO_NET_F_MRG_RXBUF (bit 15).
 * @param eventIdx     {@code features.event_idx}: VIRTIO_RING_F_EVENT_IDX (bit 29).
 * @param indirectDesc {@code features.indirect_desc}: VIRTIO_RING_F_INDIRECT_DESC (bit 28).
 * @param version1     {@code features.version_1}: VIRTIO_F_VERSION_1 (bit 32).
 * @param guestTso     {@code features.guest_tso}: VIRTIO_NET_F_GUEST_CSUM, GUEST_TSO4, GUEST_TSO6 (bits 1, 7, 8),
 *                     used by the AF_PACKET port with vnet_hdr to pass GSO frames and partial checksums into the
 *                     guest; with any port, a Linux guest without mrg_rxbuf then posts big-packet chains.
 * @param hostTso      {@code features.host_tso}: VIRTIO_NET_F_CSUM, HOST_TSO4, HOST_TSO6 (bits 0, 11, 12): the guest
 *                     transmits partial checksums and TCP GSO frames, passed to an AF_PACKET port with vnet_hdr and
 *                     done in software for every other port.
 */
public record FeaturesConfig(
    boolean mrgRxbuf, boolean eventIdx, boolean indirectDesc, boolean version1, boolean guestTso,
    boolean hostTso)
{
}
