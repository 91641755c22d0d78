package io.pagewire.config;

import java.util.function.LongPredicate;

/**
 * The rule for one integer key on its own. The same wording appears in the default file ({@code rule: in 1..1024})
 * and, after "must be", in error messages ({@code dataplane.burst=0: must be in 1..1024}).
 *
 * @param description the rule as a noun phrase, e.g. {@code a power of two in 2..32768}.
 * @param test        true when a value satisfies the rule.
 */
record IntRule(String description, LongPredicate test)
{
    /**
     * @return the rule {@code min <= v <= max}.
     */
    static IntRule range(final int min, final int max)
    {
        return new IntRule("in " + min + ".." + max, v -> v >= min && v <= max);
    }

    /**
     * @return the rule {@code min <= v <= max} and v a power of two (virtio 1.2 §2.7: queue sizes).
     */
    static IntRule powerOfTwo(final int min, final int max)
    {
        return new IntRule("a power of two in " + min + ".." + max,
            v -> v >= min && v <= max && (v & (v - 1)) == 0);
    }

    /**
     * Checks a value. Takes a {@code long} so that a file value beyond the int range is reported with the key's rule
     * rather than as a truncated int.
     *
     * @return null when the value satisfies the rule, else {@code must be <description>}.
     */
    String violation(final long value)
    {
        return test.test(value) ? null : "must be " + description;
    }
}
