package io.pagewire.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads the subset of TOML 1.0 that pagewire config files use and flattens it to dotted keys
 * ({@code [virtqueue]} + {@code rx.size = 256} → {@code virtqueue.rx.size}).
 * <p>
 * Supported: {@code [table]} and {@code [a.b]} headers, bare and dotted keys, {@code #} comments, basic strings with
 * TOML's escapes, literal strings, integers (decimal with {@code _} separators, {@code 0x} hex), booleans, and arrays
 * of those (no nested arrays), which may span lines. Everything else in TOML (quoted keys, floats, dates, inline
 * tables, arrays of tables, multi-line strings) is reported as unsupported rather than misread.
 * <p>
 * Errors read {@code FILE:LINE: what is wrong}. The reader goes on with the next line after an error so a file's
 * problems are reported together; keys under a header that was itself in error are dropped.
 * <p>
 * Values come back as {@link Long}, {@link Boolean}, {@link String} or an unmodifiable {@link List} of those.
 */
final class TomlReader
{
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)");
    private static final Pattern HEX = Pattern.compile("0x[0-9A-Fa-f](_?[0-9A-Fa-f])*");
    private static final Pattern OCTAL_OR_BINARY = Pattern.compile("0[ob].*");
    private static final Pattern DATE_OR_TIME = Pattern.compile("([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}:[0-9]{2}).*");
    private static final Pattern FLOAT = Pattern.compile("[+-]?(inf|nan|[0-9][0-9_]*(\\.[0-9_]+)?([eE][+-]?[0-9_]+)?)");
    private static final Pattern NUMBER_LIKE = Pattern.compile("[+-]?[0-9].*");
    private static final Pattern WORD = Pattern.compile("[A-Za-z0-9_.-]+");
    private static final int MAX_SHOWN = 24;

    private final String text;
    private final String source;
    private final List<String> problems;
    private final Map<String, Object> values = new LinkedHashMap<>();
    private final Map<String, Integer> valueLines = new HashMap<>();
    private final Map<String, Integer> tableLines = new HashMap<>();
    private final Map<String, Integer> headerLines = new HashMap<>();
    private String table = "";
    private int pos;
    private int line = 1;

    private TomlReader(final String text, final String source, final List<String> problems)
    {
        this.text = text;
        this.source = source;
        this.problems = problems;
    }

    /**
     * Reads a whole document.
     *
     * @param text     the file's contents.
     * @param source   the name used in messages, normally the file's path.
     * @param problems where syntax errors are added, as {@code source:line: message}.
     * @return dotted key → value, in file order; the keys read before and after any errors.
     */
    static Map<String, Object> read(final String text, final String source, final List<String> problems)
    {
        final TomlReader reader = new TomlReader(text, source, problems);
        reader.readDocument();
        return reader.values;
    }

    /**
     * Parses text that must be exactly one TOML value, surrounding spaces allowed (an override's value).
     *
     * @return the value, or null when the text is not a single supported TOML value.
     */
    static Object parseValue(final String text)
    {
        final TomlReader reader = new TomlReader(text, "", new ArrayList<>());
        try
        {
            reader.skipSpaces();
            final Object value = reader.readValue();
            reader.skipSpaces();
            return reader.atEnd() ? value : null;
        }
        catch (final ParseError ignore)
        {
            return null;
        }
    }

    private void readDocument()
    {
        if (text.startsWith("\uFEFF"))
        {
            pos = 1;
        }
        while (true)
        {
            skipSpaces();
            if (atEnd())
            {
                return;
            }
            try
            {
                if (peek() == '[')
                {
                    readHeader();
                }
                else if (peek() != '#' && !atNewline())
                {
                    readKeyValue();
                }
                endOfLine();
            }
            catch (final ParseError error)
            {
                problems.add(source + ":" + error.line + ": " + error.getMessage());
                skipRestOfLine();
            }
            consumeNewline();
        }
    }

    private void readHeader()
    {
        final int headerLine = line;
        pos++;
        // Until this header proves valid, keys below it are dropped rather than filed under the previous table.
        table = null;
        if (!atEnd() && peek() == '[')
        {
            throw error("arrays of tables ([[...]]) are not supported");
        }
        final String name = readKey();
        skipSpaces();
        if (atEnd() || peek() != ']')
        {
            throw error("expected ']' after table name " + name + ", found " + shownHere());
        }
        pos++;
        endOfLine();
        defineTable(name, headerLine);
        table = name;
    }

    private void readKeyValue()
    {
        final int keyLine = line;
        final String key = readKey();
        skipSpaces();
        if (atEnd() || peek() != '=')
        {
            throw error("expected '=' after key " + key + ", found " + shownHere());
        }
        pos++;
        skipSpaces();
        if (atEnd() || atNewline() || peek() == '#')
        {
            throw error("missing value for key " + key);
        }
        final Object value = readValue();
        endOfLine();
        if (table != null)
        {
            define(table.isEmpty() ? key : table + "." + key, value, keyLine);
        }
    }

    private String readKey()
    {
        final StringBuilder key = new StringBuilder();
        while (true)
        {
            skipSpaces();
            key.append(readSimpleKey());
            skipSpaces();
            if (atEnd() || peek() != '.')
            {
                return key.toString();
            }
            pos++;
            key.append('.');
        }
    }

    private String readSimpleKey()
    {
        final int start = pos;
        while (!atEnd() && isBareKeyChar(peek()))
        {
            pos++;
        }
        if (pos > start)
        {
            return text.substring(start, pos);
        }
        if (!atEnd() && (peek() == '"' || peek() == '\''))
        {
            throw error("quoted keys are not supported");
        }
        throw error("expected a key, found " + shownHere());
    }

    private Object readValue()
    {
        if (atEnd())
        {
            throw error("expected a value, found end of file");
        }
        return switch (peek())
        {
            case '"' ->
            {
                if (text.startsWith("\"\"\"", pos))
                {
                    throw error("multi-line strings are not supported");
                }
                yield readBasicString();
            }
            case '\'' ->
            {
                if (text.startsWith("'''", pos))
                {
                    throw error("multi-line strings are not supported");
                }
                yield readLiteralString();
            }
            case '[' -> readArray();
            case '{' -> throw error("inline tables are not supported");
            default -> readBareValue();
        };
    }

    private String readBasicString()
    {
        pos++;
        final StringBuilder value = new StringBuilder();
        while (true)
        {
            if (atEnd() || atNewline())
            {
                throw error("unterminated string");
            }
            final char c = text.charAt(pos++);
            if (c == '"')
            {
                return value.toString();
            }
            else if (c == '\\')
            {
                readEscape(value);
            }
            else if (isControl(c))
            {
                throw error(String.format("control character U+%04X in string (use an escape)", (int)c));
            }
            else
            {
                value.append(c);
            }
        }
    }

    private void readEscape(final StringBuilder value)
    {
        if (atEnd() || atNewline())
        {
            throw error("unterminated string");
        }
        final char c = text.charAt(pos++);
        switch (c)
        {
            case 'b' -> value.append('\b');
            case 't' -> value.append('\t');
            case 'n' -> value.append('\n');
            case 'f' -> value.append('\f');
            case 'r' -> value.append('\r');
            case '"' -> value.append('"');
            case '\\' -> value.append('\\');
            case 'u' -> value.appendCodePoint(readUnicodeEscape(4));
            case 'U' -> value.appendCodePoint(readUnicodeEscape(8));
            default -> throw error("invalid escape \\" + c + " in string");
        }
    }

    private int readUnicodeEscape(final int digits)
    {
        final String escape = "\\" + (digits == 4 ? 'u' : 'U');
        int end = pos;
        while (end < pos + digits && end < text.length() && Character.digit(text.charAt(end), 16) >= 0)
        {
            end++;
        }
        final String hex = text.substring(pos, end);
        if (hex.length() < digits)
        {
            throw error("invalid escape " + escape + hex + ": needs " + digits + " hex digits");
        }
        pos = end;
        final long codePoint = Long.parseLong(hex, 16);
        if (codePoint > Character.MAX_CODE_POINT ||
            (codePoint >= Character.MIN_SURROGATE && codePoint <= Character.MAX_SURROGATE))
        {
            throw error("invalid escape " + escape + hex + ": not a Unicode scalar value");
        }
        return (int)codePoint;
    }

    private String readLiteralString()
    {
        final int start = ++pos;
        while (true)
        {
            if (atEnd() || atNewline())
            {
                throw error("unterminated string");
            }
            final char c = text.charAt(pos);
            if (c == '\'')
            {
                return text.substring(start, pos++);
            }
            if (isControl(c))
            {
                throw error(String.format("control character U+%04X in string", (int)c));
            }
            pos++;
        }
    }

    private List<Object> readArray()
    {
        final int openLine = line;
        pos++;
        final List<Object> items = new ArrayList<>();
        while (true)
        {
            skipArrayFill(openLine);
            if (peek() == ']')
            {
                pos++;
                return List.copyOf(items);
            }
            if (peek() == '[')
            {
                throw error("nested arrays are not supported");
            }
            items.add(readValue());
            skipArrayFill(openLine);
            if (peek() == ',')
            {
                pos++;
            }
            else if (peek() == ']')
            {
                pos++;
                return List.copyOf(items);
            }
            else
            {
                throw error("expected ',' or ']' in array, found " + shownHere());
            }
        }
    }

    private void skipArrayFill(final int openLine)
    {
        while (true)
        {
            skipSpaces();
            if (atEnd())
            {
                throw error("unterminated array (opened on line " + openLine + ")");
            }
            if (peek() == '#')
            {
                skipRestOfLine();
            }
            else if (atNewline())
            {
                consumeNewline();
            }
            else
            {
                return;
            }
        }
    }

    private Object readBareValue()
    {
        final int start = pos;
        while (!atEnd() && !isValueEnd(peek()))
        {
            pos++;
        }
        final String token = text.substring(start, pos);
        if (token.isEmpty())
        {
            throw error("expected a value, found " + shownHere());
        }
        if (token.equals("true") || token.equals("false"))
        {
            return Boolean.valueOf(token);
        }
        if (DECIMAL.matcher(token).matches())
        {
            return parseLong(token, token.replace("_", ""), 10);
        }
        if (HEX.matcher(token).matches())
        {
            return parseLong(token, token.substring(2).replace("_", ""), 16);
        }
        if (OCTAL_OR_BINARY.matcher(token).matches())
        {
            throw error("octal and binary integers are not supported: " + token);
        }
        if (DATE_OR_TIME.matcher(token).matches())
        {
            throw error("dates and times are not supported: " + token);
        }
        if (FLOAT.matcher(token).matches() && !token.matches("[+-]?[0-9_]*"))
        {
            throw error("floats are not supported: " + token);
        }
        if (NUMBER_LIKE.matcher(token).matches())
        {
            throw error("invalid integer " + token + " (no leading zeros; '_' only between digits)");
        }
        if (WORD.matcher(token).matches())
        {
            throw error("invalid value " + token + ": strings must be quoted, as in \"" + token + "\"");
        }
        throw error("invalid value " + shown(token));
    }

    private long parseLong(final String token, final String digits, final int radix)
    {
        try
        {
            return Long.parseLong(digits, radix);
        }
        catch (final NumberFormatException ex)
        {
            throw error("integer " + token + " does not fit in 64 bits");
        }
    }

    private void define(final String key, final Object value, final int keyLine)
    {
        for (int dot = key.indexOf('.'); dot >= 0; dot = key.indexOf('.', dot + 1))
        {
            final String prefix = key.substring(0, dot);
            final Integer valueLine = valueLines.get(prefix);
            if (valueLine != null)
            {
                throw new ParseError(keyLine,
                    key + ": " + prefix + " is already set to a value on line " + valueLine +
                    ", so it cannot be a table");
            }
        }
        final Integer tableLine = tableLines.get(key);
        if (tableLine != null)
        {
            throw new ParseError(keyLine, "duplicate key " + key + ": already a table (line " + tableLine + ")");
        }
        final Integer firstLine = valueLines.get(key);
        if (firstLine != null)
        {
            throw new ParseError(keyLine, "duplicate key " + key + " (first set on line " + firstLine + ")");
        }
        values.put(key, value);
        valueLines.put(key, keyLine);
        for (int dot = key.indexOf('.'); dot >= 0; dot = key.indexOf('.', dot + 1))
        {
            tableLines.putIfAbsent(key.substring(0, dot), keyLine);
        }
    }

    private void defineTable(final String name, final int headerLine)
    {
        final Integer firstLine = headerLines.get(name);
        if (firstLine != null)
        {
            throw new ParseError(headerLine, "duplicate table [" + name + "] (first on line " + firstLine + ")");
        }
        final String dotted = name + ".";
        for (int dot = dotted.indexOf('.'); dot >= 0; dot = dotted.indexOf('.', dot + 1))
        {
            final String prefix = dotted.substring(0, dot);
            final Integer valueLine = valueLines.get(prefix);
            if (valueLine != null)
            {
                throw new ParseError(headerLine,
                    "[" + name + "]: " + prefix + " is already set to a value on line " + valueLine);
            }
            tableLines.putIfAbsent(prefix, headerLine);
        }
        headerLines.put(name, headerLine);
    }

    private void endOfLine()
    {
        skipSpaces();
        if (!atEnd() && peek() == '#')
        {
            skipRestOfLine();
        }
        if (!atEnd() && !atNewline())
        {
            throw error("expected the end of the line, found " + shownHere());
        }
    }

    private void skipSpaces()
    {
        while (!atEnd() && (peek() == ' ' || peek() == '\t'))
        {
            pos++;
        }
    }

    private void skipRestOfLine()
    {
        while (!atEnd() && text.charAt(pos) != '\n')
        {
            pos++;
        }
    }

    private void consumeNewline()
    {
        if (atEnd())
        {
            return;
        }
        if (peek() == '\r')
        {
            pos++;
        }
        pos++;
        line++;
    }

    private boolean atNewline()
    {
        final char c = peek();
        return c == '\n' || (c == '\r' && pos + 1 < text.length() && text.charAt(pos + 1) == '\n');
    }

    private boolean atEnd()
    {
        return pos >= text.length();
    }

    private char peek()
    {
        return text.charAt(pos);
    }

    private String shownHere()
    {
        if (atEnd())
        {
            return "end of file";
        }
        if (atNewline())
        {
            return "end of line";
        }
        int end = pos;
        while (end < text.length() && text.charAt(end) != '\n' && text.charAt(end) != '\r')
        {
            end++;
        }
        return shown(text.substring(pos, end).strip());
    }

    private static String shown(final String fragment)
    {
        return "'" + (fragment.length() > MAX_SHOWN ? fragment.substring(0, MAX_SHOWN) + "..." : fragment) + "'";
    }

    private static boolean isBareKeyChar(final char c)
    {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }

    private static boolean isValueEnd(final char c)
    {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '#';
    }

    private static boolean isControl(final char c)
    {
        return (c < 0x20 && c != '\t') || c == 0x7f;
    }

    private ParseError error(final String message)
    {
        return new ParseError(line, message);
    }

    /**
     * A syntax error on one line; stackless because it is caught a few frames up and turned into a message.
     */
    private static final class ParseError extends RuntimeException
    {
        private final int line;

        ParseError(final int line, final String message)
        {
            super(message, null, false, false);
            this.line = line;
        }
    }
}
