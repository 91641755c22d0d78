package io.pagewire.config;

/**
 * Which NIC port the dataplane takes frames from and gives frames to. Key {@code nic.type}.
 * <p>
 * Adding a port kind (memif, af_packet, pcap) is one constant here; the config file, validation messages and the
 * printed defaults pick it up from this enum.
 */
public enum NicType implements ConfigEnum
{
    /** The embedded shared-memory ring, fed by the in-process peer or by another process. */
    SHM("shm"),

    /** A memif peer (VPP, DPDK net_memif): rings in memory shared over a Unix control socket. */
    MEMIF("memif"),

    /** A kernel network interface through AF_PACKET TPACKET_V3 rings. */
    AF_PACKET("af_packet"),

    /** Frames replayed from a pcap file; transmitted frames recorded to one. */
    PCAP("pcap");

    private final String configName;

    NicType(final String configName)
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
