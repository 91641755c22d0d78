package io.pagewire.config;

/**
 * What the guest sends on its TX virtqueue. Key {@code guest.tx}.
 */
public enum GuestTx implements ConfigEnum
{
    /** The guest sends every frame it receives back out on its TX queue. */
    ECHO("echo"),

    /** The guest sends nothing. */
    OFF("off");

    private final String configName;

    GuestTx(final String configName)
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
