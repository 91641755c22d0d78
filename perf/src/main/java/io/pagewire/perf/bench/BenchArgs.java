package io.pagewire.perf.bench;

import io.pagewire.control.run.RunCommand;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The command line of a {@code pagewire bench} subcommand, read option by option: every option is followed by its
 * value ({@code --reps 5}), except {@code --help} and {@code -h} which stand alone ({@link #help()}), and the typed
 * readers put the option and the value in their one-line messages ({@code --reps 0: must be a number in 1..100}),
 * which the bench command prints above its usage. A subcommand that does not offer help anywhere on its line treats
 * a help option like any other it does not know.
 * <pre>{@code
 * final BenchArgs args = new BenchArgs(argv);
 * while (args.next())
 * {
 *     switch (args.option())
 *     {
 *         case "--reps" -> reps = args.integer(1, 100);
 *         default -> throw args.unknown();
 *     }
 * }
 * }</pre>
 * One instance per parse.
 */
final class BenchArgs
{
    private final String[] args;
    private int index;
    private String option;
    private String value;

    BenchArgs(final String[] args)
    {
        this.args = args;
    }

    /**
     * Moves to the next option and its value (none for a help option).
     *
     * @return false when there is none left.
     * @throws IllegalArgumentException {@code --x: missing value} when the last option has no value.
     */
    boolean next()
    {
        if (index >= args.length)
        {
            return false;
        }
        option = args[index];
        if (help())
        {
            value = null;
            index++;
            return true;
        }
        if (index + 1 >= args.length)
        {
            throw new IllegalArgumentException(option + ": missing value");
        }
        value = args[index + 1];
        index += 2;
        return true;
    }

    /** @return the current option, as written ({@code --reps}). */
    String option()
    {
        return option;
    }

    /** @return the current option's value, as written; null for a help option. */
    String value()
    {
        return value;
    }

    /** @return whether the current option asks for the usage: {@code --help} or {@code -h}, which take no value. */
    boolean help()
    {
        return "--help".equals(option) || "-h".equals(option);
    }

    /** @return the error for an option the command does not know. */
    IllegalArgumentException unknown()
    {
        return new IllegalArgumentException("unknown option " + option);
    }

    /**
     * @return the value as one integer in {@code min..max}.
     * @throws IllegalArgumentException {@code --x v: must be a number in min..max}.
     */
    int integer(final int min, final int max)
    {
        return parse(value, min, max).orElseThrow(() ->
            new IllegalArgumentException(option + " " + value + ": must be a number in " + min + ".." + max));
    }

    /**
     * @return the value as a comma-separated list of integers, each in {@code min..max}.
     * @throws IllegalArgumentException {@code --x v: must be numbers in min..max}.
     */
    List<Integer> ints(final int min, final int max)
    {
        final List<Integer> result = new ArrayList<>();
        for (final String part : value.split(","))
        {
            result.add(parse(part, min, max).orElseThrow(() ->
                new IllegalArgumentException(option + " " + value + ": must be numbers in " + min + ".." + max)));
        }
        return List.copyOf(result);
    }

    /**
     * @param each what one percentage is, named in the message ({@code load}).
     * @return the value as a comma-separated list of percentages, each in 1..100.
     * @throws IllegalArgumentException {@code --x p: each load must be a percentage in 1..100}, naming the first
     *                                  member {@code p} that is not one.
     */
    List<Integer> percentages(final String each)
    {
        final List<Integer> result = new ArrayList<>();
        for (final String part : value.split(","))
        {
            result.add(parse(part, 1, 100).orElseThrow(() -> new IllegalArgumentException(
                option + " " + part + ": each " + each + " must be a percentage in 1..100")));
        }
        return List.copyOf(result);
    }

    /**
     * @return the value as a duration in nanoseconds ({@code 10s}, {@code 500ms}, {@code 2m}; see
     * {@link RunCommand#parseDuration(String, String)}).
     * @throws IllegalArgumentException {@code --x v: must be a positive duration such as 10s, 500ms or 2m}.
     */
    long duration()
    {
        return RunCommand.parseDuration(option, value);
    }

    /**
     * @return the settings a matrix runs: {@code on} → [true], {@code off} → [false], {@code both} → [true, false].
     * @throws IllegalArgumentException {@code --x v: must be on, off or both}.
     */
    List<Boolean> onOff()
    {
        return switch (value)
        {
            case "on" -> List.of(true);
            case "off" -> List.of(false);
            case "both" -> List.of(true, false);
            default -> throw new IllegalArgumentException(option + " " + value + ": must be on, off or both");
        };
    }

    /**
     * @return {@code on} → true, {@code off} → false.
     * @throws IllegalArgumentException {@code --x v: must be on or off}.
     */
    boolean flag()
    {
        return switch (value)
        {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException(option + " " + value + ": must be on or off");
        };
    }

    /**
     * @param allowed the names that may be listed.
     * @return the value as a comma-separated list of names, in the order given.
     * @throws IllegalArgumentException {@code --x v: each must be a or b} when a name is not allowed.
     */
    List<String> names(final String... allowed)
    {
        final List<String> names = List.of(value.split(","));
        final List<String> known = List.of(allowed);
        for (final String name : names)
        {
            if (!known.contains(name))
            {
                throw new IllegalArgumentException(
                    option + " " + value + ": each must be " + String.join(" or ", known));
            }
        }
        return names;
    }

    /** @return the integer in {@code min..max} that {@code text} spells, else empty. */
    private static OptionalInt parse(final String text, final int min, final int max)
    {
        try
        {
            final int n = Integer.parseInt(text.trim());
            return n >= min && n <= max ? OptionalInt.of(n) : OptionalInt.empty();
        }
        catch (final NumberFormatException e)
        {
            return OptionalInt.empty();
        }
    }
}
