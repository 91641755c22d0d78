package io.pagewire.config;

/**
 * How a pcap file is replayed as the NIC's receive side. Key {@code nic.pcap.pace}.
 */
public enum PcapPace implements ConfigEnum
{
    /** At the timing recorded in the file, relative to the first frame. */
    RECORDED("recorded"),

    /** At {@code traffic.rate_mbps}, counted as on an Ethernet wire. */
    RATE("rate"),

    /** As fast as the guest takes frames. */
    MAX("max");

    private final String configName;

    PcapPace(final String configName)
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
