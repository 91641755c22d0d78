package io.pagewire.config;

/**
 * The kind of a bridge port. Key {@code port.NAME.type}; each kind has its own keys ({@link PortKey#types()}).
 */
public enum PortType implements ConfigEnum
{
    /** A virtio-net driver in another process (QEMU, DPDK virtio_user) over a vhost-user socket. */
    VHOST_USER("vhost-user"),

    /** A memif peer (VPP, DPDK net_memif). */
    MEMIF("memif"),

    /** A kernel network interface through AF_PACKET TPACKET_V3 rings. */
    AF_PACKET("af_packet"),

    /** Frames replayed from a pcap file; transmitted frames recorded to one. */
    PCAP("pcap"),

    /** The embedded shared-memory ring, fed by the embedded traffic source. */
    SHM("shm"),

    /** The in-process guest model. */
    EMBEDDED("embedded");

    private final String configName;

    PortType(final String configName)
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
