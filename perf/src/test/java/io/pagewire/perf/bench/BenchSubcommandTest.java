package io.pagewire.perf.bench;

import io.pagewire.control.cli.PagewireCli;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With this module on the class path, as the {@code ./pagewire} launcher puts it for {@code bench}, control's CLI finds
 * the harness through {@link java.util.ServiceLoader} and the command behaves as {@link BenchCommand} does.
 */
class BenchSubcommandTest
{
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(final String... args)
    {
        return PagewireCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void theCliFindsBenchAndPassesItsArguments()
    {
        assertEquals(PagewireCli.EXIT_OK, run("bench", "pvp", "--help"), err.toString(StandardCharsets.UTF_8));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: pagewire bench pvp"), out.toString());
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void exitCodesAreBenchCommands()
    {
        assertEquals(PagewireCli.EXIT_USAGE, run("bench"));
        assertEquals(BenchCommand.USAGE, err.toString(StandardCharsets.UTF_8));
        assertEquals(PagewireCli.EXIT_USAGE, run("bench", "pvp", "--reps", "0"));
    }
}
