package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigToolTest
{
    @TempDir
    Path dir;

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();

    private int run(final String... args)
    {
        return ConfigTool.run(args, new PrintStream(outBytes, true, StandardCharsets.UTF_8),
            new PrintStream(errBytes, true, StandardCharsets.UTF_8));
    }

    private String out()
    {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err()
    {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    private void assertErrors(final int exitCode, final String... problems)
    {
        assertEquals(ConfigTool.EXIT_ERROR, exitCode);
        final StringBuilder expected = new StringBuilder();
        for (final String problem : problems)
        {
            expected.append("pagewire: config error: ").append(problem).append(System.lineSeparator());
        }
        assertEquals(expected.toString(), err());
        assertEquals("", out());
        assertFalse(err().contains("Exception") || err().contains("\tat "), err());
    }

    @Test
    void printDefaultsPrintsTheDefaultFile()
    {
        assertEquals(0, run("--print-defaults"));
        assertEquals(PagewireConfig.defaultFileText(), out());
        assertEquals("", err());
        assertEquals(PagewireConfig.defaults(), PagewireConfig.parse(out(), "stdout", List.of()));
    }

    @Test
    void helpPrintsUsage()
    {
        assertEquals(0, run("--help"));
        assertEquals(ConfigTool.USAGE, out());
        assertTrue(out().contains("--check FILE"));
        assertEquals("", err());
    }

    @Test
    void checkPrintsTheEffectiveConfigWithOverridesApplied() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("pagewire.toml"), "[rx]\nmode = \"small\"\n");
        assertEquals(0, run("--check", file.toString(), "--set", "dataplane.burst=64", "--set=dataplane.cpu=1"));
        assertEquals("", err());
        final PagewireConfig expected = PagewireConfig.load(file, List.of("dataplane.burst=64", "dataplane.cpu=1"));
        assertEquals("# effective pagewire config: " + file + " --set dataplane.burst=64 --set dataplane.cpu=1\n\n" +
            expected.toToml(), out());
        assertEquals(expected, PagewireConfig.parse(out(), "stdout", List.of()));
        assertEquals(RxMode.SMALL, expected.rx().mode());
    }

    @Test
    void checkWithASocketOverridePrintsItQuoted() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("vhost.toml"), "[guest]\ntype = \"vhost-user\"\n");
        assertEquals(0, run("--check", file.toString(), "--set", "guest.socket=/x", "--set", "guest.mode=client"));
        assertEquals("", err());
        final PagewireConfig expected = PagewireConfig.load(file, List.of("guest.socket=/x", "guest.mode=client"));
        assertEquals("/x", expected.guest().socket());
        assertEquals("# effective pagewire config: " + file + " --set guest.socket=/x --set guest.mode=client\n\n" +
            expected.toToml(), out());
        assertTrue(out().contains("\n[guest]\ntype = \"vhost-user\"\nsocket = \"/x\"\nmode = \"client\"\n" +
            "queue_pairs = 1\n"), out());
        assertEquals(expected, PagewireConfig.parse(out(), "stdout", List.of()));
    }

    @Test
    void checkReportsVhostUserRulesAndExitsTwo() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("mq.toml"), "[guest]\nqueue_pairs = 2\n");
        assertErrors(run("--check", file.toString(), "--set", "guest.socket=", "--set", "dataplane.agents=3"),
            "guest.socket=\"\": must be a non-empty path of at most 107 bytes",
            "dataplane.agents=3: must be at most guest.queue_pairs = 2",
            "guest.queue_pairs=2: must be 1 when guest.type=embedded");
    }

    @Test
    void checkOfABadFileListsEveryProblemAndExitsTwo() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("bad.toml"), """
            [virtqueue]
            rx.size = 300
            rx.sise = 256
            [dataplane]
            burst = 1.5
            """);
        assertErrors(
            run("--check", file.toString(), "--set", "rx.mode=mergeable", "--set", "features.mrg_rxbuf=false"),
            file + ":5: floats are not supported: 1.5",
            "virtqueue.rx.sise: unknown key (did you mean virtqueue.rx.size?)",
            "virtqueue.rx.size=300: must be a power of two in 2..32768",
            "rx.mode=mergeable: requires features.mrg_rxbuf=true");
    }

    @Test
    void checkOfAMissingFileNamesIt()
    {
        final Path missing = dir.resolve("missing.toml");
        assertErrors(run("--check", missing.toString()), missing + ": no such file");
    }

    @Test
    void malformedOverrideIsAConfigError() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("ok.toml"), "");
        assertErrors(run("--check", file.toString(), "--set", "rx.mode"), "--set rx.mode: expected key=value");
    }

    @Test
    void badArgumentsExitTwo()
    {
        assertErrors(run("--frobnicate"), "unknown argument --frobnicate (see --help)");
    }

    @Test
    void noArgumentsIsAnError()
    {
        assertErrors(run(), "nothing to do: give --print-defaults, --check FILE or --help");
    }

    @Test
    void optionsMissingTheirValue()
    {
        assertErrors(run("--check"), "--check needs a FILE");
        errBytes.reset();
        assertErrors(run("--print-defaults", "--set"), "--set needs a KEY=VALUE");
    }

    @Test
    void setWithoutCheckAndConflictingActionsAreErrors()
    {
        assertErrors(run("--set", "dataplane.burst=64"), "--set needs --check FILE");
        errBytes.reset();
        assertErrors(run("--print-defaults", "--check", "x.toml"), "--print-defaults takes no other option");
        errBytes.reset();
        assertErrors(run("--check", "a.toml", "--check", "b.toml"), "--check given twice");
    }
}
