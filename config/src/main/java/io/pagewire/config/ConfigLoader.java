package io.pagewire.config;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a config file and {@code key=value} overrides into a {@link PagewireConfig}, or one {@link ConfigException}
 * listing every problem: the file's syntax, malformed overrides, unknown keys, wrong types, then the rules of
 * {@link ConfigKey#validate}. Nothing is reported before everything has been looked at.
 */
final class ConfigLoader
{
    private ConfigLoader()
    {
    }

    /**
     * @see PagewireConfig#load(Path, List)
     */
    static PagewireConfig load(final Path file, final List<String> overrides)
    {
        final List<String> problems = new ArrayList<>();
        final Map<String, Object> fileValues = file == null ? Map.of() : readFile(file, problems);
        return conclude(fileValues, overrides, problems);
    }

    /**
     * @see PagewireConfig#parse(String, String, List)
     */
    static PagewireConfig parse(final String text, final String source, final List<String> overrides)
    {
        final List<String> problems = new ArrayList<>();
        return conclude(TomlReader.read(text, source, problems), overrides, problems);
    }

    private static Map<String, Object> readFile(final Path file, final List<String> problems)
    {
        if (Files.isDirectory(file))
        {
            problems.add(file + ": is a directory, not a config file");
            return Map.of();
        }
        try
        {
            return TomlReader.read(Files.readString(file), file.toString(), problems);
        }
        catch (final NoSuchFileException ex)
        {
            problems.add(file + ": no such file");
        }
        catch (final AccessDeniedException ex)
        {
            problems.add(file + ": permission denied");
        }
        catch (final MalformedInputException ex)
        {
            problems.add(file + ": not valid UTF-8");
        }
        catch (final IOException ex)
        {
            problems.add(file + ": cannot read: " + ex.getMessage());
        }
        return Map.of();
    }

    private static PagewireConfig conclude(
        final Map<String, Object> fileValues, final List<String> overrides, final List<String> problems)
    {
        final Map<ConfigKey, Object> fromFile = new EnumMap<>(ConfigKey.class);
        for (final Map.Entry<String, Object> entry : fileValues.entrySet())
        {
            registered(entry.getKey(), problems).ifPresent(key -> fromFile.put(key, entry.getValue()));
        }

        final Map<ConfigKey, String> fromOverrides = new EnumMap<>(ConfigKey.class);
        for (final String override : overrides)
        {
            final int equals = override.indexOf('=');
            if (equals <= 0 || override.substring(0, equals).isBlank())
            {
                problems.add("--set " + override + ": expected key=value");
                continue;
            }
            final String value = override.substring(equals + 1).strip();
            registered(override.substring(0, equals).strip(), problems).ifPresent(key -> fromOverrides.put(key, value));
        }

        // Only the effective value is typed: an override replaces the file's value, even a badly typed one.
        final Map<ConfigKey, Object> values = ConfigKey.defaultValues();
        for (final ConfigKey key : ConfigKey.values())
        {
            final Object typed;
            if (fromOverrides.containsKey(key))
            {
                typed = key.convertText(fromOverrides.get(key), problems);
            }
            else if (fromFile.containsKey(key))
            {
                typed = key.convert(fromFile.get(key), TomlWriter.literal(fromFile.get(key)), problems);
            }
            else
            {
                continue;
            }
            if (typed == null)
            {
                values.remove(key);
            }
            else
            {
                values.put(key, typed);
            }
        }

        ConfigKey.validate(values, problems);
        if (!problems.isEmpty())
        {
            throw new ConfigException(problems);
        }
        return PagewireConfig.fromValues(values);
    }

    private static Optional<ConfigKey> registered(final String name, final List<String> problems)
    {
        final Optional<ConfigKey> key = ConfigKey.byKey(name);
        if (key.isEmpty())
        {
            problems.add(KeySuggestion.unknownKeyProblem(name));
        }
        return key;
    }
}
