package io.pagewire.config;

/**
 * What the dataplane does with a frame from the NIC when the guest has posted too few RX buffers for it. Key
 * {@code dataplane.rx_policy}.
 */
public enum RxPolicyKind implements ConfigEnum
{
    /** Leave the frame in the NIC ring until buffers are posted: lossless, like a NIC whose ring fills. */
    WAIT("wait"),

    /** Drop the frame and count it ({@code no_buffers}), as a NIC at line rate must. */
    DROP("drop");

    private final String configName;

    RxPolicyKind(final String configName)
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
