package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TomlReaderTest
{
    private final List<String> problems = new ArrayList<>();

    private Map<String, Object> read(final String text)
    {
        return TomlReader.read(text, "test.toml", problems);
    }

    private Map<String, Object> readClean(final String text)
    {
        final Map<String, Object> values = read(text);
        assertEquals(List.of(), problems);
        return values;
    }

    private void assertSingleProblem(final String text, final String expected)
    {
        read(text);
        assertEquals(List.of(expected), problems);
    }

    @Test
    void flattensTablesAndDottedKeysInFileOrder()
    {
        final Map<String, Object> values = readClean("""
            top = 1
            [virtqueue]
            rx.size = 512
            tx . size = 128
            [rx.big]
            descriptors = 20
            """);
        final Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("top", 1L);
        expected.put("virtqueue.rx.size", 512L);
        expected.put("virtqueue.tx.size", 128L);
        expected.put("rx.big.descriptors", 20L);
        assertEquals(expected, values);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(values.keySet()));
    }

    @Test
    void dottedKeyUnderTableEqualsDeeperTable()
    {
        final Map<String, Object> dotted = readClean("[virtqueue]\nrx.size = 512\ntx.size = 64\n");
        final Map<String, Object> deeper = readClean("[virtqueue.rx]\nsize = 512\n[virtqueue.tx]\nsize = 64\n");
        final Map<String, Object> full = readClean("virtqueue.rx.size = 512\nvirtqueue.tx.size = 64\n");
        assertEquals(Map.of("virtqueue.rx.size", 512L, "virtqueue.tx.size", 64L), dotted);
        assertEquals(dotted, deeper);
        assertEquals(dotted, full);
    }

    @Test
    void commentsBlankLinesAndWhitespace()
    {
        final Map<String, Object> values = readClean("""
            # a comment line
               \t
            [nic]   # trailing comment after a header
            type = "shm"   # trailing comment after a value
              ring.size=2048
            """);
        assertEquals(Map.of("nic.type", "shm", "nic.ring.size", 2048L), values);
    }

    @Test
    void crlfLineEndingsAndByteOrderMark()
    {
        assertEquals(Map.of("a.b", 1L, "a.c", "x"), readClean("\uFEFF[a]\r\nb = 1\r\nc = \"x\" # note\r\n"));
    }

    @Test
    void basicStringEscapes()
    {
        final Map<String, Object> values = readClean(
            "s = \"q\\\" b\\\\ t\\t n\\n r\\r f\\f b\\b u\\u00e9 U\\U0001F600 #not a comment\"\n");
        assertEquals("q\" b\\ t\t n\n r\r f\f b\b u\u00e9 U\uD83D\uDE00 #not a comment", values.get("s"));
    }

    @Test
    void literalStringsHaveNoEscapes()
    {
        assertEquals(Map.of("s", "C:\\path\\n"), readClean("s = 'C:\\path\\n'\n"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "0            | 0",
        "256          | 256",
        "-1           | -1",
        "+7           | 7",
        "1_000_000    | 1000000",
        "0x100        | 256",
        "0xdead_BEEF  | 3735928559",
        "9223372036854775807 | 9223372036854775807"
    })
    void integers(final String literal, final long expected)
    {
        assertEquals(Map.of("n", expected), readClean("n = " + literal + "\n"));
    }

    @Test
    void booleans()
    {
        assertEquals(Map.of("t", true, "f", false), readClean("t = true\nf = false\n"));
    }

    @Test
    void arraysOfStringsAndIntegersMaySpanLines()
    {
        final Map<String, Object> values = readClean("""
            ports = ["a", "b",]
            cpus = [
              1, # first
              0x2,
            ]
            empty = []
            """);
        assertEquals(List.of("a", "b"), values.get("ports"));
        assertEquals(List.of(1L, 2L), values.get("cpus"));
        assertEquals(List.of(), values.get("empty"));
    }

    @Test
    void lastLineNeedNotEndWithNewline()
    {
        assertEquals(Map.of("a", 1L), readClean("a = 1"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "a = \"abc                | test.toml:2: unterminated string",
        "a = 'abc                 | test.toml:2: unterminated string",
        "a = \"x\\qy\"            | test.toml:2: invalid escape \\q in string",
        "a = \"\\uD800\"          | test.toml:2: invalid escape \\uD800: not a Unicode scalar value",
        "a = \"\\u12\"            | test.toml:2: invalid escape \\u12: needs 4 hex digits",
        "a 1                      | test.toml:2: expected '=' after key a, found '1'",
        "a =                      | test.toml:2: missing value for key a",
        "= 1                      | test.toml:2: expected a key, found '= 1'",
        "\"a\" = 1                | test.toml:2: quoted keys are not supported",
        "a = 1 2                  | test.toml:2: expected the end of the line, found '2'",
        "a = 1.5                  | test.toml:2: floats are not supported: 1.5",
        "a = 1e3                  | test.toml:2: floats are not supported: 1e3",
        "a = inf                  | test.toml:2: floats are not supported: inf",
        "a = 1979-05-27           | test.toml:2: dates and times are not supported: 1979-05-27",
        "a = 0o17                 | test.toml:2: octal and binary integers are not supported: 0o17",
        "a = 007                  | test.toml:2: invalid integer 007 (no leading zeros; '_' only between digits)",
        "a = 1__0                 | test.toml:2: invalid integer 1__0 (no leading zeros; '_' only between digits)",
        "a = 9223372036854775808  | test.toml:2: integer 9223372036854775808 does not fit in 64 bits",
        "a = big                  | test.toml:2: invalid value big: strings must be quoted, as in \"big\"",
        "a = True                 | test.toml:2: invalid value True: strings must be quoted, as in \"True\"",
        "a = { b = 1 }            | test.toml:2: inline tables are not supported",
        "a = \"\"\"x\"\"\"        | test.toml:2: multi-line strings are not supported",
        "a = [[1]]                | test.toml:2: nested arrays are not supported",
        "a = [1 2]                | test.toml:2: expected ',' or ']' in array, found '2]'",
        "[[servers]]              | test.toml:2: arrays of tables ([[...]]) are not supported",
        "[nic                     | test.toml:2: expected ']' after table name nic, found end of line",
        "[]                       | test.toml:2: expected a key, found ']'",
    })
    void syntaxErrorsNameFileAndLine(final String secondLine, final String expected)
    {
        assertSingleProblem("# line 1\n" + secondLine + "\n", expected);
    }

    @Test
    void unterminatedArrayNamesTheLineItOpenedOn()
    {
        assertSingleProblem("a = 1\nb = [1,\n2,\n", "test.toml:4: unterminated array (opened on line 2)");
    }

    @Test
    void duplicateKeyNamesBothLines()
    {
        assertSingleProblem("""
            [virtqueue]
            rx.size = 256
            [virtqueue.rx]
            size = 512
            """, "test.toml:4: duplicate key virtqueue.rx.size (first set on line 2)");
    }

    @Test
    void duplicateTableHeader()
    {
        assertSingleProblem("[nic]\ntype = \"shm\"\n[nic]\n", "test.toml:3: duplicate table [nic] (first on line 1)");
    }

    @Test
    void valueCannotAlsoBeATable()
    {
        assertSingleProblem("a.b = 1\na.b.c = 2\n",
            "test.toml:2: a.b.c: a.b is already set to a value on line 1, so it cannot be a table");
        problems.clear();
        assertSingleProblem("a.b.c = 2\na.b = 1\n", "test.toml:2: duplicate key a.b: already a table (line 1)");
        problems.clear();
        assertSingleProblem("a = 1\n[a.b]\n", "test.toml:2: [a.b]: a is already set to a value on line 1");
    }

    @Test
    void reportsEveryBadLineAndKeepsTheGoodOnes()
    {
        final Map<String, Object> values = read("""
            a = 1
            b = "open
            c = 3
            d = 1.5
            [bad
            e = 5
            [ok]
            f = 6
            """);
        assertEquals(List.of(
            "test.toml:2: unterminated string",
            "test.toml:4: floats are not supported: 1.5",
            "test.toml:5: expected ']' after table name bad, found end of line"), problems);
        // e sits under the broken header and is dropped rather than filed under the wrong table.
        assertEquals(Map.of("a", 1L, "c", 3L, "ok.f", 6L), values);
    }

    @Test
    void lineNumbersCountCrlfAndMultiLineArrays()
    {
        read("a = [\r\n1,\r\n2]\r\nb = 1.5\r\n");
        assertEquals(List.of("test.toml:4: floats are not supported: 1.5"), problems);
    }

    @Test
    void parseValueAcceptsExactlyOneValue()
    {
        assertEquals(64L, TomlReader.parseValue("0x40"));
        assertEquals(64L, TomlReader.parseValue(" 64 "));
        assertEquals("big", TomlReader.parseValue("\"big\""));
        assertEquals(false, TomlReader.parseValue("false"));
        assertNull(TomlReader.parseValue("64 65"));
        assertNull(TomlReader.parseValue("\"32"));
        assertNull(TomlReader.parseValue(""));
        assertNull(TomlReader.parseValue("big"));
    }

    @Test
    void writerOutputReadsBackToTheSameValues()
    {
        final Map<String, Object> values = new LinkedHashMap<>();
        values.put("t.s", "quote\" backslash\\ tab\t newline\n bell\u0007 é");
        values.put("t.n", -5L);
        values.put("t.b", true);
        values.put("u.list", List.of("x", 1L));
        final String text = TomlWriter.write("", values, key -> List.of("comment for " + key));
        assertEquals(values, readClean(text));
        assertTrue(text.contains("[t]\n# comment for t.s\ns = "), text);
    }
}
