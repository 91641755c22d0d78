package io.pagewire.config;

/**
 * How the guest sizes the RX buffers it posts. Key {@code guest.rx.buffer_sizing}.
 */
public enum BufferSizing implements ConfigEnum
{
    /** Every RX buffer is {@code rx.buffer_size} bytes. */
    FIXED("fixed"),

    /**
     * Buffers sized by a running average (EWMA) of received packet lengths, as Linux's virtio_net does for mergeable
     * buffers. Needs {@code rx.mode=mergeable}.
     */
    EWMA("ewma");

    private final String configName;

    BufferSizing(final String configName)
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
