package io.pagewire.config;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A rule that relates a key to other keys. It is reported against its subject, and checked only when the subject
 * and every key it reads are valid on their own, so that one bad value yields one message, not a cascade.
 *
 * @param subject       the key named in the message.
 * @param reads         the other keys the check reads.
 * @param description   the rule as shown in the default file next to the subject.
 * @param check         given all values, null when satisfied, else the text after {@code key=value: }.
 * @param shorthandOnly true when the rule measures the single-guest shorthand's guest or NIC, so it is not checked
 *                      when {@code [port.NAME]} tables are given (their ports are measured by {@link PortRules}).
 */
record CrossKeyRule(
    ConfigKey subject,
    List<ConfigKey> reads,
    String description,
    Function<Map<ConfigKey, Object>, String> check,
    boolean shorthandOnly)
{
    /**
     * A rule checked whether or not ports are given as tables.
     */
    CrossKeyRule(
        final ConfigKey subject,
        final List<ConfigKey> reads,
        final String description,
        final Function<Map<ConfigKey, Object>, String> check)
    {
        this(subject, reads, description, check, false);
    }

    /**
     * @return this rule, checked only for the single-guest shorthand.
     */
    CrossKeyRule onlyForShorthand()
    {
        return new CrossKeyRule(subject, reads, description, check, true);
    }

    /**
     * @return null when the values satisfy the rule, else what is wrong with the subject's value.
     */
    String violation(final Map<ConfigKey, Object> values)
    {
        return check.apply(values);
    }
}
