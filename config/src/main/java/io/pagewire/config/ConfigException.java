package io.pagewire.config;

import java.util.List;

/**
 * Everything wrong with a configuration, found in one pass and reported at once.
 * <p>
 * Each problem is one line that names what is wrong, for example
 * {@code virtqueue.rx.size=300: must be a power of two in 2..32768} or
 * {@code pagewire.toml:7: unterminated string}. The message is the problems joined by newlines.
 */
public final class ConfigException extends RuntimeException
{
    private final List<String> problems;

    /**
     * @param problems one line per problem, at least one.
     */
    public ConfigException(final List<String> problems)
    {
        super(String.join("\n", problems));
        if (problems.isEmpty())
        {
            throw new IllegalArgumentException("a ConfigException needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    /**
     * @param problem the single problem.
     */
    public ConfigException(final String problem)
    {
        this(List.of(problem));
    }

    /**
     * @return the problems in the order they were found: the file (syntax, then unknown keys), the overrides
     * (malformed or unknown keys), values of the wrong type, port tables' types, keys and required keys, values
     * breaking their key's rule, then cross-key rules, then the port tables' rules ({@code PortRules}), each group in
     * registry order; never empty, unmodifiable.
     */
    public List<String> problems()
    {
        return problems;
    }
}
