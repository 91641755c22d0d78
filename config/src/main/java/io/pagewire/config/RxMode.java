package io.pagewire.config;

/**
 * How the guest posts receive buffers on its RX virtqueue, and so which RX writer the dataplane uses
 * (virtio 1.2 §5.1.6.3, §5.1.6.4). Key {@code rx.mode}.
 */
public enum RxMode implements ConfigEnum
{
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
}
