package io.pagewire.config;

/**
 * Which side of the memif control socket pagewire takes. Key {@code nic.memif.role}; used when {@code nic.type=memif}.
 * In memif the client (formerly "slave") creates the shared memory and the rings and the server ("master") maps them.
 */
public enum MemifRole implements ConfigEnum
{
    /** pagewire listens on {@code nic.memif.socket}; the peer (DPDK {@code net_memif,role=client}) connects. */
    SERVER("server"),

    /** pagewire connects to a peer listening on {@code nic.memif.socket}, retrying with backoff. */
    CLIENT("client");

    private final String configName;

    MemifRole(final String configName)
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
