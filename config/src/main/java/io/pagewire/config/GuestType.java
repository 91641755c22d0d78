package io.pagewire.config;

/**
 * Which virtio-net driver the device serves. Key {@code guest.type}.
 * <p>
 * Adding a driver is one constant here; the config file, validation messages and the printed defaults pick it up
 * from this enum.
 */
public enum GuestType implements ConfigEnum
{
    /** The in-process guest model, driven by the {@code [guest]} tuning keys; one queue pair. */
    EMBEDDED("embedded"),

    /**
     * A virtio-net driver in another process (QEMU, DPDK virtio_user) attached over the vhost-user Unix socket
     * {@code guest.socket}, as {@code guest.mode} says, with {@code guest.queue_pairs} queue pairs.
     */
    VHOST_USER("vhost-user");

    private final String configName;

    GuestType(final String configName)
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
