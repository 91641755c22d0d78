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
     * @return null when the value satisfies the rule, else {@code must be <description>}.
     */
    String violation(final String value)
    {
        return test.test(value) ? null : "must be " + description;
    }
}
