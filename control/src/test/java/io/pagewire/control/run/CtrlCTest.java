package io.pagewire.control.run;

import io.pagewire.control.cli.PagewireCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Ctrl-C (SIGINT) ends {@code pagewire run} cleanly: queues stopped, summary printed, exit 0, runtime files removed.
 * Runs the CLI in a second JVM and signals it as a terminal would.
 */
class CtrlCTest
{
    @TempDir
    Path temp;

    @Test
    void sigintStopsTheRunCleanly() throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--dir", temp.toString()));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final List<String> output = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            int statusLines = 0;
            while (statusLines < 2 && (line = reader.readLine()) != null)
            {
                output.add(line);
                statusLines += line.startsWith("[") ? 1 : 0;
            }
            assertEquals(2, statusLines, "status lines before the signal: " + output);
            assertTrue(Files.exists(temp.resolve(Long.toString(process.pid()))), "runtime directory while running");

            final Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
            assertEquals(0, kill.waitFor());
            while ((line = reader.readLine()) != null)
            {
                output.add(line);
            }
        }
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "exits after SIGINT");
        final String all = String.join("\n", output);
        assertEquals(0, process.exitValue(), all);
        assertTrue(all.contains("pagewire run summary"), all);
        assertTrue(all.contains("0 corrupt, 0 lost"), all);
        assertFalse(Files.exists(temp.resolve(Long.toString(process.pid()))), "runtime directory removed");
    }
}
