package io.pagewire.config;

import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * The rule for one string key on its own. As with {@link IntRule}, the same wording appears in the default file
 * ({@code rule: a non-empty path of at most 107 bytes}) and, after "must be", in error messages
 * ({@code guest.socket="": must be a non-empty path of at most 107 bytes}).
 *
 * @param description the rule as a noun phrase, e.g. {@code a non-empty path of at most 107 bytes}.
 * @param test        true when a value satisfies the rule.
 */
record StringRule(String description, Predicate<String> test)
{
    /**
     * The rule for a Unix socket path: not empty, no NUL character (a NUL ends a C path early, and
     * {@link java.nio.file.Path#of} rejects it), and at most {@code maxBytes} bytes in UTF-8, the encoding the path
     * is passed to the kernel in.
     *
     * @param maxBytes the longest path in bytes, e.g. 107: {@code sun_path} is 108 bytes on Linux, one of them the
     *                 terminating NUL.
     * @return the rule {@code a non-empty path of at most <maxBytes> bytes}.
     */
    static StringRule nonEmptyPath(final int maxBytes)
    {
        return new StringRule("a non-empty path of at most " + maxBytes + " bytes",
            v -> !v.isEmpty() && v.indexOf('\0') < 0 && v.getBytes(StandardCharsets.UTF_8).length <= maxBytes);
    }

    /**
     * The rule for an optional file path: empty (not used) or a path without a NUL character.
     */
    static StringRule pathOrEmpty()
    {
        return new StringRule("empty or a path without NUL characters", v -> v.indexOf('\0') < 0);
    }

    /**
     * The rule for an optional Linux interface name: empty, or 1..15 bytes ({@code IFNAMSIZ} is 16 with the NUL)
     * without '/', ':', whitespace or NUL, which the kernel refuses in a name.
     */
    static StringRule interfaceNameOrEmpty()
    {
        return new StringRule("empty or an interface name of 1..15 bytes without '/', ':' or whitespace",
            v -> v.isEmpty() || v.getBytes(StandardCharsets.UTF_8).length <= 15 &&
                v.chars().noneMatch(c -> c == '/' || c == ':' || c == 0 || Character.isWhitespace(c)));
    }

    /**
     * The rule for a required Linux interface name: {@link #interfaceNameOrEmpty()} without the empty name.
     */
    static StringRule interfaceName()
    {
        final StringRule orEmpty = interfaceNameOrEmpty();
        return new StringRule("an interface name of 1..15 bytes without '/', ':' or whitespace",
            v -> !v.isEmpty() && orEmpty.test().test(v));
    }

    /**
     * The rule for a bridge port's name, as short as a Linux interface name so that a port can be named after its
     * tap or veth, and spelled so that it is a TOML bare key ({@code [port.vm1]}), a Prometheus label value and a
     * word on the command line without quoting.
     */
    static StringRule portName()
    {
        return new StringRule(PORT_NAME_RULE, v -> v.matches(PORT_NAME_PATTERN));
    }

    /** The pattern of {@link #portName()}. */
    static final String PORT_NAME_PATTERN = "[a-z0-9][a-z0-9_-]{0,14}";

    /** The description of {@link #portName()}. */
    static final String PORT_NAME_RULE = "a port name of 1..15 characters a-z, 0-9, '_' or '-', starting with a " +
        "letter or digit";

    /**
     * The rule for a unicast Ethernet address written as six pairs of hex digits separated by ':': the group bit
     * (the least significant bit of the first byte, IEEE 802 §8.2) is clear, and it is not all zeros.
     */
    static StringRule unicastMac()
    {
        return new StringRule("a unicast MAC address such as 52:54:00:12:34:56",
            v -> v.matches("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}") &&
                (Integer.parseInt(v.substring(0, 2), 16) & 1) == 0 && !v.equals("00:00:00:00:00:00"));
    }

    /**
     * @return null when the value satisfies the rule, else {@code must be <description>}.
     */
    String violation(final String value)
    {
        return test.test(value) ? null : "must be " + description;
    }
}
