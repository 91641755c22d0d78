package io.pagewire.control.cli;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/jvm.options}, the flags every pagewire JVM starts with, on a host with little memory: HotSpot is started
 * with them as if it had 512 MB ({@code -XX:MaxRAM}), under each collector its ergonomics may pick, and must keep the
 * young generation whole inside the heap and print nothing on stdout (where pagewire's own output goes).
 */
class JvmOptionsTest
{
    private static final long YOUNG_BYTES = 256L << 20;

    /** @return {@code bin/jvm.options} of the checkout the tests run in (the module directory is the working one). */
    private static Path jvmOptions()
    {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent())
        {
            final Path candidate = dir.resolve("bin").resolve("jvm.options");
            if (Files.isRegularFile(candidate))
            {
                return candidate;
            }
        }
        throw new IllegalStateException("no bin/jvm.options above " + Path.of("").toAbsolutePath());
    }

    private static long flag(final String flags, final String name)
    {
        final Matcher matcher = Pattern.compile("\\s" + name + "\\s+=\\s+(\\d+)").matcher(flags);
        assertTrue(matcher.find(), name + " in the flags");
        return Long.parseLong(matcher.group(1));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"-XX:+UseG1GC", "-XX:+UseSerialGC", "-XX:+UseParallelGC", "-XX:ActiveProcessorCount=1"})
    void aSmallHostKeepsTheYoungGenerationInsideTheHeapAndStdoutClean(final String collector)
        throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "@" + jvmOptions(),
            "-XX:MaxRAM=512m", collector, "-XX:+PrintFlagsFinal", "-version"));
        final Process java = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        final String stdout = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(java.waitFor(60, TimeUnit.SECONDS), "java -version returned");
        assertEquals(0, java.exitValue(), stdout);

        final String firstLine = stdout.lines().findFirst().orElse("");
        assertTrue(firstLine.startsWith("[Global flags]"), "nothing on stdout before the flags: " + firstLine);
        assertFalse(stdout.contains("[warning]"), stdout.lines().filter(l -> l.contains("warning")).toList()::toString);
        final long maxHeap = flag(stdout, "MaxHeapSize");
        assertEquals(YOUNG_BYTES, flag(stdout, "NewSize"), "the young generation is as the file sets it");
        assertEquals(YOUNG_BYTES, flag(stdout, "MaxNewSize"));
        assertTrue(maxHeap >= 2 * YOUNG_BYTES, "room for an old generation beside the young one: " + maxHeap);
    }
}
