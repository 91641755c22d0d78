package io.pagewire.config;

/**
 * Which virtio-net driver the device serves. Key {@code guest.type}.
 * <p>
 * Adding a driver (vhost-user) is one constant here, e.g. {@code VHOST_USER("vhost-user")}; the config file,
 * validation messages and the printed defaults pick it up from this enum.
 */
public enum GuestType implements ConfigEnum
{
    /** The in-process guest model, driven by the {@code [guest]} keys. */
    EMBEDDED("embedded");

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
