package io.pagewire.perf.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * pagewire as the forwarder under test of {@link PvpBench} and {@link GuestBench}: {@code pagewire run} in its own JVM
 * (so its CPU time is its own), vhost-user server on the guest side, the dataplane pinned to CPU 0; on the NIC side a
 * memif server (pvp) or whatever the caller's settings say (guest: AF_PACKET).
 */
final class PagewireForwarder implements PvpBench.ForwarderUnderTest
{
    private static final long START_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    /** Forwarders not yet closed; a JVM that exits (Ctrl-C, SIGTERM) stops them, or one would go on busy-polling. */
    private static final Set<PagewireForwarder> RUNNING = ConcurrentHashMap.newKeySet();

    static
    {
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            RUNNING.forEach(f -> f.process.destroy());
            RUNNING.forEach(PagewireForwarder::awaitOrKill);
        }, "pagewire-forwarder-reaper"));
    }

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
        final List<String> sets = new ArrayList<>(List.of(
            "guest.type=vhost-user", "guest.socket=" + vhostSocket, "nic.type=memif", "nic.memif.role=server",
            "nic.memif.socket=" + memifSocket, "dataplane.cpu=0", "features.mrg_rxbuf=" + point.mrg()));
        sets.addAll(options.pagewireSets());
        return start(sets, List.of(vhostSocket, memifSocket), workDir);
    }

    /**
     * Starts {@code pagewire run --quiet} with the given settings and waits until the files it creates exist.
     *
     * @param sets    {@code key=value} settings, in order (a later one wins).
     * @param files   paths pagewire creates once it is up (its sockets).
     * @param workDir its {@code --dir}; its log goes there too.
     */
    static PagewireForwarder start(final List<String> sets, final List<Path> files, final Path workDir)
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
        for (final String set : sets)
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
        RUNNING.add(forwarder);
        final long deadline = System.nanoTime() + START_TIMEOUT_NS;
        while (!files.stream().allMatch(Files::exists))
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
        awaitOrKill();
        RUNNING.remove(this);
    }

    /** Waits for the process to end after SIGTERM, then kills it. */
    private void awaitOrKill()
    {
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
