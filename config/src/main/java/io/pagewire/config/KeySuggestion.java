package io.pagewire.config;

import java.util.Locale;
import java.util.Optional;

/**
 * Finds the registered key an unknown key was most likely meant to be.
 */
final class KeySuggestion
{
    private KeySuggestion()
    {
    }

    /**
     * @param unknown a key that is not in the registry.
     * @return {@code <key>: unknown key}, with {@code (did you mean <nearest>?)} when one is close enough.
     */
    static String unknownKeyProblem(final String unknown)
    {
        return unknown + ": unknown key" + nearest(unknown).map(key -> " (did you mean " + key + "?)").orElse("");
    }

    /**
     * @param portName the port the key was written for.
     * @param unknown  a key inside a port table that is not a {@link PortKey}.
     * @return {@code port.NAME.<key>: unknown port key}, with the nearest port key when one is close enough.
     */
    static String unknownPortKeyProblem(final String portName, final String unknown)
    {
        final String prefix = PortKey.TABLE + "." + portName + ".";
        final String wanted = unknown.toLowerCase(Locale.ROOT);
        PortKey best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (final PortKey key : PortKey.values())
        {
            final int distance = distance(wanted, key.key());
            if (distance < bestDistance)
            {
                best = key;
                bestDistance = distance;
            }
        }
        final boolean close = best != null && bestDistance <= Math.max(2, wanted.length() / 4);
        return prefix + unknown + ": unknown port key" + (close ? " (did you mean " + prefix + best.key() + "?)" : "");
    }

    /**
     * Tries, in order: a key that ends with the unknown one at a dot (the table was left out: {@code rx.size}), the
     * key at the smallest edit distance if that is small for the length (typos), then a key that starts with it
     * (a table or a truncated name: {@code virtqueue}, {@code dataplane.idle}).
     *
     * @return the suggested key, or empty when nothing is plausibly meant.
     */
    static Optional<String> nearest(final String unknown)
    {
        final String wanted = unknown.toLowerCase(Locale.ROOT);
        ConfigKey best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (final ConfigKey key : ConfigKey.values())
        {
            if (key.key().endsWith("." + wanted))
            {
                return Optional.of(key.key());
            }
            final int distance = distance(wanted, key.key());
            if (distance < bestDistance)
            {
                best = key;
                bestDistance = distance;
            }
        }
        if (best != null && bestDistance <= Math.max(2, wanted.length() / 4))
        {
            return Optional.of(best.key());
        }
        for (final ConfigKey key : ConfigKey.values())
        {
            if (!wanted.isEmpty() && key.key().startsWith(wanted))
            {
                return Optional.of(key.key());
            }
        }
        return Optional.empty();
    }

    /**
     * Optimal string alignment distance: Levenshtein plus the swap of two neighbours ({@code sise}/{@code szie}) as
     * one edit.
     */
    static int distance(final String a, final String b)
    {
        final int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++)
        {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++)
        {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++)
        {
            for (int j = 1; j <= b.length(); j++)
            {
                final int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
                {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
