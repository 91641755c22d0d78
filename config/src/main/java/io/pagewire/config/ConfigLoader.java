package io.pagewire.config;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;

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
        final SequencedMap<String, Map<PortKey, Object>> portsFromFile = new LinkedHashMap<>();
        for (final Map.Entry<String, Object> entry : fileValues.entrySet())
        {
            if (isPortKey(entry.getKey()))
            {
                portKey(entry.getKey(), problems).ifPresent(
                    key -> portsFromFile.computeIfAbsent(key.name(), n -> new EnumMap<>(PortKey.class))
                        .put(key.key(), entry.getValue()));
            }
            else
            {
                registered(entry.getKey(), problems).ifPresent(key -> fromFile.put(key, entry.getValue()));
            }
        }

        final Map<ConfigKey, String> fromOverrides = new EnumMap<>(ConfigKey.class);
        final SequencedMap<String, Map<PortKey, String>> portOverrides = new LinkedHashMap<>();
        for (final String override : overrides)
        {
            final int equals = override.indexOf('=');
            if (equals <= 0 || override.substring(0, equals).isBlank())
            {
                problems.add("--set " + override + ": expected key=value");
                continue;
            }
            final String value = override.substring(equals + 1).strip();
            final String name = override.substring(0, equals).strip();
            if (isPortKey(name))
            {
                portKey(name, problems).ifPresent(
                    key -> portOverrides.computeIfAbsent(key.name(), n -> new EnumMap<>(PortKey.class))
                        .put(key.key(), value));
            }
            else
            {
                registered(name, problems).ifPresent(key -> fromOverrides.put(key, value));
            }
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

        final SequencedMap<String, Map<PortKey, Object>> ports = typedPorts(portsFromFile, portOverrides, problems);

        ConfigKey.validate(values, !ports.isEmpty(), problems);
        if (!ports.isEmpty())
        {
            PortRules.validate(ports, values, problems);
        }
        if (!problems.isEmpty())
        {
            throw new ConfigException(problems);
        }
        final BridgeConfig bridge = PagewireConfig.bridgeFromValues(values);
        final List<PortConfig> portTables = new ArrayList<>();
        ports.forEach((name, portValues) -> portTables.add(PortConfig.fromValues(name, portValues, bridge)));
        return PagewireConfig.fromValues(values, portTables);
    }

    /**
     * Types each port's keys, an override replacing the file's value as for the other keys, and checks that the
     * port has a type, that each key belongs to that type and that the type's required keys are there; the keys of
     * the type left out take their defaults.
     *
     * @return port name → typed values, ports in the order the file, then the overrides, first name them; a port
     * whose type is missing or wrong has no {@code type}, and keys that failed are left out.
     */
    private static SequencedMap<String, Map<PortKey, Object>> typedPorts(
        final SequencedMap<String, Map<PortKey, Object>> fromFile,
        final SequencedMap<String, Map<PortKey, String>> fromOverrides,
        final List<String> problems)
    {
        final Set<String> names = new LinkedHashSet<>(fromFile.keySet());
        names.addAll(fromOverrides.keySet());
        final SequencedMap<String, Map<PortKey, Object>> ports = new LinkedHashMap<>();
        for (final String name : names)
        {
            final Map<PortKey, Object> file = fromFile.getOrDefault(name, Map.of());
            final Map<PortKey, String> overrides = fromOverrides.getOrDefault(name, Map.of());
            final Map<PortKey, Object> typed = new EnumMap<>(PortKey.class);
            final Object type = portValue(name, PortKey.TYPE, file, overrides, problems);
            if (type != null)
            {
                typed.put(PortKey.TYPE, type);
            }
            else if (!file.containsKey(PortKey.TYPE) && !overrides.containsKey(PortKey.TYPE))
            {
                problems.add(PortKey.TYPE.fullKey(name) + ": required (" + PortKey.TYPE.rule() + ")");
            }
            for (final PortKey key : PortKey.values())
            {
                if (key == PortKey.TYPE || (!file.containsKey(key) && !overrides.containsKey(key)))
                {
                    continue;
                }
                if (type != null && !key.types().contains((PortType)type))
                {
                    final String written = overrides.containsKey(key) ?
                        overrides.get(key) : TomlWriter.literal(file.get(key));
                    problems.add(key.fullKey(name) + "=" + written + ": not a key of " + PortKey.TYPE.fullKey(name) +
                        "=" + ((PortType)type).configName() + " (only for type " + key.typeNames() + ")");
                    continue;
                }
                final Object value = portValue(name, key, file, overrides, problems);
                if (value != null)
                {
                    typed.put(key, value);
                }
            }
            if (type != null)
            {
                for (final PortKey key : PortKey.keysOf((PortType)type))
                {
                    if (key.required() && !file.containsKey(key) && !overrides.containsKey(key))
                    {
                        problems.add(key.fullKey(name) + ": required when " + PortKey.TYPE.fullKey(name) + "=" +
                            ((PortType)type).configName() + " (" + key.rule() + ")");
                    }
                    else if (!key.common() && key.defaultValue() != null)
                    {
                        typed.putIfAbsent(key, key.defaultValue());
                    }
                }
            }
            ports.put(name, typed);
        }
        return ports;
    }

    private static Object portValue(
        final String name,
        final PortKey key,
        final Map<PortKey, Object> file,
        final Map<PortKey, String> overrides,
        final List<String> problems)
    {
        if (overrides.containsKey(key))
        {
            return key.convertText(name, overrides.get(key), problems);
        }
        if (file.containsKey(key))
        {
            return key.convert(name, file.get(key), TomlWriter.literal(file.get(key)), problems);
        }
        return null;
    }

    private static boolean isPortKey(final String name)
    {
        return name.equals(PortKey.TABLE) || name.startsWith(PortKey.TABLE + ".");
    }

    /** A key {@code port.NAME.KEY} split into the port's name and the key. */
    private record NamedPortKey(String name, PortKey key)
    {
    }

    private static Optional<NamedPortKey> portKey(final String fullKey, final List<String> problems)
    {
        final String[] parts = fullKey.split("\\.", 3);
        if (parts.length < 3 || parts[1].isEmpty() || parts[2].isEmpty())
        {
            problems.add(fullKey + ": a port key is port.NAME.KEY, or KEY under a [port.NAME] table");
            return Optional.empty();
        }
        final Optional<PortKey> key = PortKey.byKey(parts[2]);
        if (key.isEmpty())
        {
            problems.add(KeySuggestion.unknownPortKeyProblem(parts[1], parts[2]));
            return Optional.empty();
        }
        return Optional.of(new NamedPortKey(parts[1], key.get()));
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
