package io.pagewire.config;

/**
 * An enum whose constants are spelled in config files and on the command line by a lower-case name
 * ({@code busy-spin}) rather than by their Java name ({@code BUSY_SPIN}).
 */
public interface ConfigEnum
{
    /**
     * @return the name used in config files, {@code --set} overrides and printed configs.
     */
    String configName();
}
