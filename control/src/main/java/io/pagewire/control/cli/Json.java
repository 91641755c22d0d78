package io.pagewire.control.cli;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal JSON writer for the run summary: maps (insertion order kept), lists, strings, numbers, booleans and
 * null. Enough for output pagewire produces; it never parses.
 */
public final class Json
{
    private static final MathContext SIGNIFICANT = new MathContext(6);

    private Json()
    {
    }

    /** @return the value as indented JSON text. */
    public static String write(final Object value)
    {
        final StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.append('\n').toString();
    }

    private static void write(final StringBuilder out, final Object value, final int indent)
    {
        switch (value)
        {
            case null -> out.append("null");
            case final Map<?, ?> map -> writeMap(out, map, indent);
            case final List<?> list -> writeList(out, list, indent);
            case final String string -> writeString(out, string);
            case final Double number -> out.append(number.isNaN() || number.isInfinite() ? "null" :
                new BigDecimal(number).round(SIGNIFICANT).stripTrailingZeros().toPlainString());
            case final Number number -> out.append(number);
            case final Boolean bool -> out.append(bool);
            default -> writeString(out, value.toString());
        }
    }

    private static void writeMap(final StringBuilder out, final Map<?, ?> map, final int indent)
    {
        if (map.isEmpty())
        {
            out.append("{}");
            return;
        }
        out.append("{\n");
        int i = 0;
        for (final Map.Entry<?, ?> entry : map.entrySet())
        {
            out.append("  ".repeat(indent + 1));
            writeString(out, String.valueOf(entry.getKey()));
            out.append(": ");
            write(out, entry.getValue(), indent + 1);
            out.append(++i < map.size() ? ",\n" : "\n");
        }
        out.append("  ".repeat(indent)).append('}');
    }

    private static void writeList(final StringBuilder out, final List<?> list, final int indent)
    {
        out.append('[');
        for (int i = 0; i < list.size(); i++)
        {
            write(out, list.get(i), indent + 1);
            if (i < list.size() - 1)
            {
                out.append(", ");
            }
        }
        out.append(']');
    }

    private static void writeString(final StringBuilder out, final String string)
    {
        out.append('"');
        for (int i = 0; i < string.length(); i++)
        {
            final char c = string.charAt(i);
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
