package io.pagewire.config;

/**
 * How the bridge moves frames between its ports. Key {@code bridge.mode}.
 */
public enum BridgeMode implements ConfigEnum
{
    /**
     * A learning bridge: (source MAC, VLAN) → ingress port learned from every frame, known unicast to its port only,
     * broadcast, multicast and unknown unicast flooded to every other port of the VLAN.
     */
    LEARNING("learning"),

    /** Ports cross-connected in pairs ({@code port.A.patch=B}), every frame to the peer, no lookup. */
    PATCH("patch");

    private final String configName;

    BridgeMode(final String configName)
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
