package io.pagewire.config;

/**
 * Which side of the vhost-user Unix socket listens. Key {@code guest.mode}; used when {@code guest.type=vhost-user}.
 */
public enum VhostUserMode implements ConfigEnum
{
    /**
     * pagewire listens on {@code guest.socket} and the frontend connects: QEMU {@code -chardev socket,...,server=off},
     * DPDK virtio_user's default.
     */
    SERVER("server"),

    /** pagewire connects to a frontend listening on {@code guest.socket}, retrying with backoff. */
    CLIENT("client");

    private final String configName;

    VhostUserMode(final String configName)
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
