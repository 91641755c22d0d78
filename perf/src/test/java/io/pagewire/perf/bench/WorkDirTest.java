package io.pagewire.perf.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkDirTest
{
    @Test
    void closeRemovesTheWholeTreeAndMayBeCalledAgain() throws Exception
    {
        final WorkDir dir = WorkDir.create("pagewire-workdir-test-");
        final Path nested = Files.createDirectories(dir.resolve("pagewire-1/sub"));
        Files.writeString(nested.resolve("log"), "x");
        Files.writeString(dir.resolve("vhost-1.sock"), "");
        assertTrue(Files.isDirectory(dir.path()));
        dir.close();
        assertFalse(Files.exists(dir.path()), "the directory and what was in it are gone");
        dir.close();
        assertFalse(Files.exists(dir.path()));
    }
}
