package io.pagewire.config;

/**
 * How the guest posts receive buffers on its RX virtqueue, and so which RX writer the dataplane uses
 * (virtio 1.2 §5.1.6.3, §5.1.6.4). Key {@code rx.mode}.
 * <p>
 * A {@link PagewireConfig} never holds {@link #AUTO}: it is resolved by {@link #resolve(boolean, boolean)} where the
 * config is built, so every user of {@code rx().mode()} sees one of the three concrete modes.
 */
public enum RxMode implements ConfigEnum
{
    /**
     * Chosen from the offered features as a Linux guest's virtio_net chooses at probe: {@link #MERGEABLE} with
     * VIRTIO_NET_F_MRG_RXBUF, else {@link #BIG} with GUEST_TSO4/TSO6 ({@code features.guest_tso}), else
     * {@link #SMALL}.
     */
    AUTO("auto"),

    /**
     * Page-sized single-descriptor buffers; the device merges as many as a packet needs and says how many in
     * {@code num_buffers}. Needs VIRTIO_NET_F_MRG_RXBUF.
     */
    MERGEABLE("mergeable"),

    /** One descriptor chain of {@code rx.big.descriptors} buffers per packet: the legacy max-size scheme. */
    BIG("big"),

    /** One buffer of {@code rx.buffer_size} bytes per packet. */
    SMALL("small");

    private final String configName;

    RxMode(final String configName)
    {
        this.configName = configName;
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public String configName()
    {
        return configName;
    }

    /**
     * Resolves {@link #AUTO} the way Linux's virtio_net does in {@code virtnet_probe}: {@code mergeable_rx_bufs} when
     * MRG_RXBUF was negotiated; otherwise {@code big_packets} when the guest may receive any GSO packet (GUEST_TSO4,
     * GUEST_TSO6, GUEST_ECN or GUEST_UFO; pagewire offers only the first two, as {@code features.guest_tso}), since a
     * 64 KiB GSO frame must fit one chain; otherwise one small buffer per packet. The embedded guest accepts what is
     * offered, so the offer stands for the negotiated set. (Linux also goes big for an MTU above 1500, which needs
     * VIRTIO_NET_F_MTU: pagewire does not offer it.)
     *
     * @param mrgRxbuf {@code features.mrg_rxbuf}.
     * @param guestTso {@code features.guest_tso}.
     * @return this mode when it is concrete, else the mode {@link #AUTO} stands for with these features.
     */
    public RxMode resolve(final boolean mrgRxbuf, final boolean guestTso)
    {
        if (this != AUTO)
        {
            return this;
        }
        if (mrgRxbuf)
        {
            return MERGEABLE;
        }
        return guestTso ? BIG : SMALL;
    }
}
