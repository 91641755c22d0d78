package io.pagewire.config;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Writes dotted keys back as TOML that {@link TomlReader} reads to the same values: one {@code [table]} per first
 * key segment, the rest of the key dotted below it ({@code [rx]} then {@code big.descriptors = 20}).
 */
final class TomlWriter
{
    private static final int COMMENT_WIDTH = 100;

    private TomlWriter()
    {
    }

    /**
     * @param preamble comment block put first, each line already starting with {@code #}, or empty.
     * @param values   dotted key → value, grouped by table (registry order is); every key has a table segment.
     * @param comments comment lines to put above a key, without the leading {@code # }.
     * @return the TOML text, ending with a newline.
     */
    static String write(
        final String preamble, final Map<String, Object> values, final Function<String, List<String>> comments)
    {
        final StringBuilder out = new StringBuilder(preamble);
        String table = null;
        for (final Map.Entry<String, Object> entry : values.entrySet())
        {
            final String key = entry.getKey();
            // A port's keys go under its own table, [port.NAME], the way port tables are written.
            final int dot = key.startsWith(PortKey.TABLE + ".") ?
                key.indexOf('.', PortKey.TABLE.length() + 1) : key.indexOf('.');
            final String keyTable = key.substring(0, dot);
            final List<String> keyComments = comments.apply(key);
            if (!keyTable.equals(table))
            {
                if (!out.isEmpty())
                {
                    out.append('\n');
                }
                out.append('[').append(keyTable).append("]\n");
                table = keyTable;
            }
            else if (!keyComments.isEmpty())
            {
                out.append('\n');
            }
            for (final String comment : keyComments)
            {
                appendComment(out, comment);
            }
            out.append(key.substring(dot + 1)).append(" = ").append(literal(entry.getValue())).append('\n');
        }
        return out.toString();
    }

    static void appendComment(final StringBuilder out, final String comment)
    {
        StringBuilder line = new StringBuilder("#");
        for (final String word : comment.split(" "))
        {
            if (line.length() + 1 + word.length() > COMMENT_WIDTH && line.length() > 1)
            {
                out.append(line).append('\n');
                line = new StringBuilder("#  ");
            }
            line.append(' ').append(word);
        }
        out.append(line).append('\n');
    }

    /**
     * @return the value as a TOML literal: strings quoted and escaped, enums by config name, arrays bracketed.
     */
    static String literal(final Object value)
    {
        return switch (value)
        {
            case final String text -> quote(text);
            case final ConfigEnum choice -> quote(choice.configName());
            case final List<?> items ->
                items.stream().map(TomlWriter::literal).collect(Collectors.joining(", ", "[", "]"));
            default -> String.valueOf(value);
        };
    }

    private static String quote(final String text)
    {
        final StringBuilder out = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\t' -> out.append("\\t");
                case '\n' -> out.append("\\n");
                case '\f' -> out.append("\\f");
                case '\r' -> out.append("\\r");
                default ->
                {
                    if (c < 0x20 || c == 0x7f)
                    {
                        out.append(String.format("\\u%04X", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
