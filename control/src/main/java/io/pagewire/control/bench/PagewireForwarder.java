package io.pagewire.control.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * pagewire as the forwarder under test of {@link PvpBench}: {@code pagewire run} in its own JVM (so its CPU time is
 * its own), memif server on the NIC side, vhost-user server on the guest side, the dataplane pinned to CPU 0.
 */
final class PagewireForwarder implements PvpBench.ForwarderUnderTest
{
    private static final long START_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);

    private final Process process;
    private final Path log;

    private PagewireForwarder(final Process process, final Path log)
    {
        this.process = process;
        this.log = log;
    }

    static PagewireForwarder start(
        final Path memifSocket, final Path vhostSocket, final PvpBench.Point point, final BenchOptions options,
        final Path workDir)
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        final Path jvmOptions = jvmOptionsFile();
        if (jvmOptions != null)
        {
            command.add("@" + jvmOptions);
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("io.pagewire.control.cli.PagewireCli");
        command.add("run");
        command.add("--quiet");
        command.add("--dir");
        command.add(workDir.toString());
        for (final String set : List.of(
            "guest.type=vhost-user", "guest.socket=" + vhostSocket, "nic.type=memif", "nic.memif.role=server",
            "nic.memif.socket=" + memifSocket, "dataplane.cpu=0", "features.mrg_rxbuf=" + point.mrg(),
            // rx.mode describes the embedded guest, unused here; it must agree with the offered features.
            "rx.mode=" + (point.mrg() ? "mergeable" : "small")))
        {
            command.add("--set");
            command.add(set);
        }
        for (final String set : options.pagewireSets())
        {
            command.add("--set");
            command.add(set);
        }
        final Path log = workDir.resolve("pagewire-" + System.nanoTime() + ".log");
        final Process process;
        try
        {
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot start pagewire: " + String.join(" ", command), e);
        }
        final PagewireForwarder forwarder = new PagewireForwarder(process, log);
        final long deadline = System.nanoTime() + START_TIMEOUT_NS;
        while (!(Files.exists(vhostSocket) && Files.exists(memifSocket)))
        {
            if (!process.isAlive() || System.nanoTime() - deadline > 0)
            {
                final String tail = forwarder.logTail();
                forwarder.close();
                throw new IllegalStateException("pagewire did not start: " + tail);
            }
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                forwarder.close();
                throw new IllegalStateException("interrupted");
            }
        }
        return forwarder;
    }

    /** @return {@code bin/jvm.options} of the pagewire checkout this runs from, or null when not found. */
    private static Path jvmOptionsFile()
    {
        final String home = System.getProperty("pagewire.home");
        Path dir = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        for (int up = 0; dir != null && up < 4; up++, dir = dir.getParent())
        {
            final Path candidate = dir.resolve("bin").resolve("jvm.options");
            if (Files.isRegularFile(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private String logTail()
    {
        try
        {
            final List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        }
        catch (final IOException e)
        {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public List<Long> pids()
    {
        return List.of(process.pid());
    }

    @Override
    public void checkAlive()
    {
        if (!process.isAlive())
        {
            throw new IllegalStateException("pagewire exited during the measurement: " + logTail());
        }
    }

    @Override
    public void close()
    {
        // SIGTERM: pagewire stops cleanly (like Ctrl-C) and removes its files.
        process.destroy();
        try
        {
            if (!process.waitFor(15, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
