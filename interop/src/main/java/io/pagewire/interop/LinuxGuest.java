package io.pagewire.interop;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real Linux guest (Debian's cloud kernel, its own virtio_net driver) booted under QEMU with its virtio-net-pci
 * device backed by a vhost-user socket. Built by {@code perf/guest/build-guest.sh}, booted by
 * {@code perf/guest/run-guest.sh}; the guest's /init prints {@code PW-*} lines on the serial console, which this
 * class collects. In main code (like {@link TestPmd}) because {@code pagewire bench guest} boots it too; it needs the
 * pagewire checkout (perf/guest) as the working directory or above it.
 */
public final class LinuxGuest implements AutoCloseable
{
    private static final long BUILD_TIMEOUT_S = 600;
    private static final Object BUILD_LOCK = new Object();
    private static Optional<String> buildResult;

    private final Process process;
    private final Thread reader;
    private final List<String> console = new ArrayList<>();
    private final List<String> lines = new ArrayList<>();

    private LinuxGuest(final Process process)
    {
        this.process = process;
        this.reader = Thread.ofPlatform().daemon().name("guest-console").start(this::readConsole);
    }

    /** The repository root: the first directory upwards from the working directory that has perf/guest. */
    public static Path repoRoot()
    {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("perf/guest/build-guest.sh")))
        {
            dir = dir.getParent();
        }
        if (dir == null)
        {
            throw new IllegalStateException("perf/guest/build-guest.sh not found above " +
                Path.of("").toAbsolutePath());
        }
        return dir;
    }

    /**
     * Builds the guest once per JVM (the script itself caches across runs).
     *
     * @return empty when the guest is ready, else why it cannot be (the platform lacks root/apt-get or is not Linux).
     * @throws IllegalStateException when the build fails for any other reason.
     */
    public static Optional<String> build()
    {
        synchronized (BUILD_LOCK)
        {
            if (buildResult == null)
            {
                buildResult = doBuild();
            }
            return buildResult;
        }
    }

    private static Optional<String> doBuild()
    {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux"))
        {
            return Optional.of("a QEMU Linux guest needs a Linux host, this is " + System.getProperty("os.name"));
        }
        final Path script = repoRoot().resolve("perf/guest/build-guest.sh");
        try
        {
            final Path log = Files.createTempFile("pagewire-build-guest", ".log");
            final Process p = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
            if (!p.waitFor(BUILD_TIMEOUT_S, TimeUnit.SECONDS))
            {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IllegalStateException("build-guest.sh did not finish in " + BUILD_TIMEOUT_S + " s:\n" +
                    Files.readString(log));
            }
            final String output = Files.readString(log);
            Files.deleteIfExists(log);
            if (p.exitValue() == 2 && output.contains("cannot install"))
            {
                return Optional.of(output.strip());
            }
            if (p.exitValue() != 0)
            {
                throw new IllegalStateException("build-guest.sh failed (exit " + p.exitValue() + "):\n" + output);
            }
            return Optional.empty();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot run " + script, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the guest", ex);
        }
    }

    /**
     * Boots the guest; QEMU connects to {@code socket} (pagewire must be listening).
     *
     * @param socket    pagewire's vhost-user socket.
     * @param mergeable the device's {@code mrg_rxbuf} property.
     * @param queues    queue pairs (and vCPUs).
     * @param mtu       eth0's MTU.
     * @param commands  workload steps for the guest's /init ({@code pw.cmd=}, commas for spaces).
     */
    public static LinuxGuest boot(
        final Path socket, final boolean mergeable, final int queues, final int mtu, final String... commands)
        throws IOException
    {
        return boot(socket, mergeable, true, 170, queues, mtu, commands);
    }

    /**
     * Boots the guest; QEMU connects to {@code socket} (the backend must be listening).
     *
     * @param socket         the backend's vhost-user socket.
     * @param mergeable      the device's {@code mrg_rxbuf} property.
     * @param guestTso       false: the device offers no receive offloads (guest_tso4/6, guest_ecn, guest_ufo off);
     *                       true: whatever the backend offers (with them and no mrg_rxbuf, Linux posts 64 KiB chains).
     * @param timeoutSeconds QEMU is killed after this long.
     * @param queues         queue pairs (and vCPUs).
     * @param mtu            eth0's MTU.
     * @param commands       workload steps for the guest's /init ({@code pw.cmd=}, commas for spaces).
     */
    public static LinuxGuest boot(
        final Path socket, final boolean mergeable, final boolean guestTso, final int timeoutSeconds,
        final int queues, final int mtu, final String... commands)
        throws IOException
    {
        return bootPinned(null, socket, mergeable, guestTso, timeoutSeconds, queues, mtu, commands);
    }

    /**
     * As {@link #boot(Path, boolean, boolean, int, int, int, String...)}, with QEMU kept to some CPUs.
     *
     * @param cpus the CPUs QEMU's threads may run on ({@code taskset -c} list, e.g. "1"), or null for any.
     */
    public static LinuxGuest bootPinned(
        final String cpus, final Path socket, final boolean mergeable, final boolean guestTso,
        final int timeoutSeconds, final int queues, final int mtu, final String... commands)
        throws IOException
    {
        final List<String> cmd = new ArrayList<>(List.of("bash",
            repoRoot().resolve("perf/guest/run-guest.sh").toString(), "--socket", socket.toString(),
            "--mrg", mergeable ? "on" : "off", "--guest-tso", guestTso ? "on" : "off",
            "--queues", Integer.toString(queues), "--mtu", Integer.toString(mtu),
            "--timeout", Integer.toString(timeoutSeconds)));
        if (cpus != null)
        {
            cmd.add("--cpus");
            cmd.add(cpus);
        }
        for (final String c : commands)
        {
            cmd.add("--cmd");
            cmd.add(c);
        }
        final Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        return new LinuxGuest(p);
    }

    private void readConsole()
    {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
            StandardCharsets.UTF_8)))
        {
            for (String line; (line = in.readLine()) != null; )
            {
                synchronized (this)
                {
                    console.add(line);
                    // Escape sequences or kernel messages may precede the marker on the same line.
                    final int at = line.indexOf("PW-");
                    if (at >= 0)
                    {
                        lines.add(line.substring(at).strip());
                    }
                    notifyAll();
                }
            }
        }
        catch (final IOException ignored)
        {
            // QEMU gone
        }
    }

    /** Waits for the first {@code PW-} line that starts with {@code prefix}. */
    public synchronized String await(final String prefix, final Duration timeout) throws InterruptedException
    {
        return awaitLine(l -> l.startsWith(prefix), "a " + prefix + " line", timeout);
    }

    /** Waits for the first {@code PW-} line that matches. */
    public synchronized String awaitLine(final Predicate<String> match, final String what, final Duration timeout)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            for (final String l : lines)
            {
                if (match.test(l))
                {
                    return l;
                }
            }
            final long left = deadline - System.nanoTime();
            if (left <= 0 || (!process.isAlive() && !reader.isAlive()))
            {
                throw new AssertionError("guest: no " + what + " within " + timeout.toSeconds() + " s " +
                    (process.isAlive() ? "" : "(QEMU exited " + process.exitValue() + ") ") + "; console:\n" +
                    consoleTail(60));
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    /**
     * Waits for the {@code n}th (1-based) {@code PW-} line that starts with {@code prefix}.
     */
    public synchronized String awaitNth(final String prefix, final int n, final Duration timeout)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            int seen = 0;
            for (final String l : lines)
            {
                if (l.startsWith(prefix) && ++seen == n)
                {
                    return l;
                }
            }
            final long left = deadline - System.nanoTime();
            if (left <= 0 || (!process.isAlive() && !reader.isAlive()))
            {
                throw new AssertionError("guest: no PW- line " + n + " starting with " + prefix + " within " +
                    timeout.toSeconds() + " s " + (process.isAlive() ? "" : "(QEMU exited " + process.exitValue() +
                    ") ") + "; console:\n" + consoleTail(60));
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    /** @return whether QEMU still runs. */
    public boolean isAlive()
    {
        return process.isAlive();
    }

    /** @return QEMU's process id (its wrapper's: bash, timeout, then QEMU). */
    public ProcessHandle process()
    {
        return process.toHandle();
    }

    /** @return a copy of the {@code PW-} lines so far, in order. */
    public synchronized List<String> lines()
    {
        return List.copyOf(lines);
    }

    /** @return how many {@code PW-} lines so far start with {@code prefix}. */
    public synchronized int count(final String prefix)
    {
        return (int)lines.stream().filter(l -> l.startsWith(prefix)).count();
    }

    /** Waits until QEMU exits (the guest powered off) and returns its exit code. */
    public int awaitExit(final Duration timeout) throws InterruptedException
    {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        {
            throw new AssertionError("guest did not power off within " + timeout.toSeconds() + " s; console:\n" +
                consoleTail(60));
        }
        reader.join(5000);
        return process.exitValue();
    }

    /** The last {@code PW-STATS} line as a map of its {@code key=value} fields (numbers only). */
    public synchronized Map<String, Long> lastStats()
    {
        for (int i = lines.size() - 1; i >= 0; i--)
        {
            if (lines.get(i).startsWith("PW-STATS "))
            {
                return fields(lines.get(i));
            }
        }
        throw new AssertionError("guest printed no PW-STATS line; console:\n" + consoleTail(60));
    }

    /** {@code key=value} fields of a PW- line whose values are integers. */
    public static Map<String, Long> fields(final String line)
    {
        final Map<String, Long> result = new HashMap<>();
        for (final String word : line.split("\\s+"))
        {
            final int eq = word.indexOf('=');
            if (eq > 0)
            {
                try
                {
                    result.put(word.substring(0, eq), Long.parseLong(word.substring(eq + 1)));
                }
                catch (final NumberFormatException ignored)
                {
                    // uptime and other non-integer fields
                }
            }
        }
        return result;
    }

    /**
     * The negotiated virtio feature bits from the {@code PW-FEATURES} line: the kernel's sysfs string, one '0'/'1' per
     * bit, bit 0 first.
     */
    public String features(final Duration timeout) throws InterruptedException
    {
        return await("PW-FEATURES ", timeout).split("\\s+")[1];
    }

    /** Uptime (seconds since the kernel started) on a PW- line, or NaN. */
    public static double uptime(final String line)
    {
        for (final String word : line.split("\\s+"))
        {
            if (word.startsWith("uptime="))
            {
                return Double.parseDouble(word.substring("uptime=".length()));
            }
        }
        return Double.NaN;
    }

    /** The last {@code count} console lines. */
    public synchronized String consoleTail(final int count)
    {
        return String.join("\n", console.subList(Math.max(0, console.size() - count), console.size()));
    }

    @Override
    public void close() throws InterruptedException
    {
        if (process.isAlive())
        {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        reader.join(5000);
    }
}
