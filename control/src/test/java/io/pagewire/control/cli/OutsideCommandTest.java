package io.pagewire.control.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code pagewire bench} lives in perf, outside the product's jar: control's own class path (these tests') has no
 * harness, so the CLI still lists the command and says where it is instead of failing as an unknown one.
 */
class OutsideCommandTest
{
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(final String... args)
    {
        return PagewireCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void helpListsBench()
    {
        assertEquals(PagewireCli.EXIT_OK, run("--help"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("\n  bench    benchmarks:"), out.toString());
    }

    @Test
    void benchWithoutTheHarnessSaysWhereItIs()
    {
        assertEquals(PagewireCli.EXIT_FAILURE, run("bench", "pvp", "--help"));
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertEquals("pagewire: 'bench' is the benchmark harness (perf/), which is not on the class path: run it " +
            "through ./pagewire, which builds it and adds it\n", err.toString(StandardCharsets.UTF_8));
    }
}
