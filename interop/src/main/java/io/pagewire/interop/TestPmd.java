package io.pagewire.interop;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * DPDK's {@code dpdk-testpmd} (22.11) run in interactive mode: the interop peer of the tests and the traffic
 * generator and reference forwarder of {@code pagewire bench}.
 *
 * <p>The process runs under {@code stdbuf -o0 -e0}: testpmd prints its prompt with {@code write(2)} but
 * command output with stdio, which is fully buffered on a pipe; without unbuffering, the output of a
 * command would only show up when testpmd exits. stdout and stderr are merged into one log, kept in
 * memory and mirrored (flushed per read) to {@code target/testpmd-logs/<file-prefix>.log}.
 *
 * <p>Every wait has a timeout, and a failure message always carries the tail of the log. Each instance
 * uses its own {@code --file-prefix}, so several instances (and other DPDK processes) can run at once;
 * no hugepages are used ({@code --no-huge}). A JVM shutdown hook kills whatever is still running.
 *
 * <p>Facts about testpmd 22.11 this class relies on (checked by experiment on Debian's 22.11.11):
 * <ul>
 *   <li>a vdev that fails to probe (e.g. {@code net_virtio_user} with a socket path nobody listens on)
 *       does not stop testpmd: it logs {@code vdev_probe(): failed to initialize ...} and then gives a
 *       prompt with fewer ports; {@link #start} turns that, and a port that fails to configure or start,
 *       into an exception;</li>
 *   <li>an unknown driver name ({@code --vdev net_bogus0}) makes EAL exit with code 1 before any prompt;</li>
 *   <li>{@code net_virtio_user,server=1} blocks in {@code accept} during probe until a vhost-user client
 *       connects, so the startup timeout is what ends such a run when nobody comes;</li>
 *   <li>a {@code net_virtio_user,server=1} port whose backend dies keeps its rings, their contents and its
 *       listening socket; the next client is accepted (from EAL's interrupt thread) and gets the whole setup again
 *       with SET_VRING_BASE 0 on the rings as they were, while the forwarding lcore keeps polling them
 *       ({@code ReconnectWithStateInteropTest});</li>
 *   <li>SIGTERM does not reliably end testpmd (its handler lets a blocked call return and carries on),
 *       so {@link #kill} uses SIGKILL.</li>
 * </ul>
 */
public final class TestPmd implements AutoCloseable {

    public static final Path BINARY = Path.of("/usr/bin/dpdk-testpmd");
    public static final Path STDBUF = Path.of("/usr/bin/stdbuf");
    public static final String PROMPT = "testpmd> ";
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration QUIT_TIMEOUT = Duration.ofSeconds(10);

    /** EAL options used by every instance: two lcores (main + one forwarding core), no hugepages, no PCI. */
    public static final List<String> EAL_ARGS = List.of("-l", "0-1", "--no-huge", "-m", "1024", "--no-pci");
    /** testpmd options used by every instance, before the caller's. */
    public static final List<String> BASE_TESTPMD_ARGS =
            List.of("-i", "--no-mlockall", "--total-num-mbufs=16384");

    /**
     * Lines that mean testpmd came up but not as asked: a vdev that did not probe, a port that did not
     * configure or start. testpmd carries on with a prompt in these cases, a test would then time out or
     * look at the wrong port.
     */
    private static final List<Pattern> STARTUP_FAILURES = List.of(
            Pattern.compile("failed to initialize \\S+ device"),
            Pattern.compile("Bus \\(vdev\\) probe failed"),
            Pattern.compile("Fail to configure port"),
            Pattern.compile("Fail to start port"),
            Pattern.compile("Start ports failed"),
            Pattern.compile("Fail to setup (rx|tx) queue"));

    private static final int LOG_TAIL_LINES = 40;
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    private static final Set<TestPmd> RUNNING = ConcurrentHashMap.newKeySet();
    private static volatile Optional<String> unavailable;
    private static volatile String version = "";

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (TestPmd pmd : RUNNING) {
                pmd.process.descendants().forEach(ProcessHandle::destroyForcibly);
                pmd.process.destroyForcibly();
            }
        }, "testpmd-reaper"));
    }

    private final String filePrefix;
    private final List<String> commandLine;
    private final Process process;
    private final OutputStream stdin;
    private final Thread reader;
    private final Writer logFile;
    private final Path logPath;

    /** Guards {@link #log} and {@link #outputEnded}; {@link #changed} is signalled on every append. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final StringBuilder log = new StringBuilder();
    private boolean outputEnded;

    /** Serialises commands: one command and its prompt at a time. */
    private final Object commandLock = new Object();
    private volatile boolean closed;

    private TestPmd(String filePrefix, List<String> commandLine) throws IOException {
        this.filePrefix = filePrefix;
        this.commandLine = List.copyOf(commandLine);
        Path logDir = logDirectory();
        Files.createDirectories(logDir);
        this.logPath = logDir.resolve(filePrefix + ".log");
        this.logFile = Files.newBufferedWriter(logPath, StandardCharsets.UTF_8);
        logFile.write("$ " + String.join(" ", commandLine) + "\n");
        logFile.flush();
        try {
            this.process = new ProcessBuilder(commandLine).redirectErrorStream(true).start();
        } catch (IOException e) {
            logFile.close();
            throw e;
        }
        RUNNING.add(this);
        this.stdin = process.getOutputStream();
        this.reader = Thread.ofPlatform().daemon().name("testpmd-log-" + filePrefix).start(this::readOutput);
    }

    /**
     * Where logs go: {@code pagewire.testpmd.logs} if set, else the module's {@code target/testpmd-logs} under
     * Maven ({@code basedir}), else {@code <tmpdir>/pagewire-testpmd-logs}.
     */
    static Path logDirectory() {
        String explicit = System.getProperty("pagewire.testpmd.logs");
        if (explicit != null) {
            return Path.of(explicit);
        }
        String basedir = System.getProperty("basedir");
        return basedir != null ? Path.of(basedir, "target", "testpmd-logs")
                : Path.of(System.getProperty("java.io.tmpdir"), "pagewire-testpmd-logs");
    }

    // ------------------------------------------------------------------------------------------ availability

    /**
     * Empty when {@code /usr/bin/dpdk-testpmd} is installed and a trivial run (EAL init without hugepages,
     * then {@code --help}) succeeds on this machine; otherwise a reason a human can act on. The probe runs
     * once per JVM.
     */
    public static Optional<String> unavailableReason() {
        Optional<String> result = unavailable;
        if (result == null) {
            synchronized (TestPmd.class) {
                result = unavailable;
                if (result == null) {
                    result = probe();
                    unavailable = result;
                }
            }
        }
        return result;
    }

    /** The DPDK version the probe saw, e.g. {@code DPDK 22.11.11}; empty if unknown. */
    public static String version() {
        unavailableReason();
        return version;
    }

    private static Optional<String> probe() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            return Optional.of("dpdk-testpmd interop tests need Linux, this is " + System.getProperty("os.name"));
        }
        if (!Files.isExecutable(BINARY)) {
            return Optional.of("dpdk-testpmd not installed (" + BINARY + " missing): apt-get install dpdk-dev");
        }
        if (!Files.isExecutable(STDBUF)) {
            return Optional.of(STDBUF + " (coreutils) missing: needed to unbuffer testpmd's output");
        }
        if (Runtime.getRuntime().availableProcessors() < 2) {
            return Optional.of("dpdk-testpmd needs lcores 0-1 (2 CPUs), this JVM sees "
                    + Runtime.getRuntime().availableProcessors());
        }
        String prefix = "pagewire-probe-" + ProcessHandle.current().pid();
        List<String> cmd = new ArrayList<>(List.of(STDBUF.toString(), "-o0", "-e0", BINARY.toString(), "-v",
                "-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--file-prefix=" + prefix,
                "--", "--no-mlockall", "--total-num-mbufs=2048", "--help"));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            // --help output is ~10 KB, more than a pipe holds: read while waiting.
            var out = new StringBuilder();
            Thread drain = Thread.ofPlatform().daemon().start(() -> {
                try (Reader r = new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)) {
                    char[] buf = new char[4096];
                    for (int n; (n = r.read(buf)) >= 0; ) {
                        synchronized (out) {
                            out.append(buf, 0, n);
                        }
                    }
                } catch (IOException ignored) {
                    // process gone
                }
            });
            boolean exited = p.waitFor(20, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            drain.join(2000);
            deleteRuntimeDir(prefix);
            String text;
            synchronized (out) {
                text = out.toString();
            }
            if (!exited) {
                return Optional.of("dpdk-testpmd probe did not finish in 20 s: " + String.join(" ", cmd)
                        + "\n" + tail(text, LOG_TAIL_LINES));
            }
            if (p.exitValue() != 0 || !text.contains("Usage:")) {
                return Optional.of("dpdk-testpmd is installed but a trivial run failed (exit " + p.exitValue()
                        + "): " + String.join(" ", cmd) + "\n" + tail(text, LOG_TAIL_LINES));
            }
            Matcher m = Pattern.compile("RTE Version: '([^']*)'").matcher(text);
            version = m.find() ? m.group(1) : "";
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("dpdk-testpmd could not be started: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted while probing dpdk-testpmd");
        }
    }

    // ------------------------------------------------------------------------------------------ lifecycle

    /**
     * Starts interactive testpmd with the given {@code --vdev}s (one argument each, e.g.
     * {@code "net_virtio_user0,path=/tmp/x.sock,queues=1"}) and extra testpmd options (after
     * {@link #BASE_TESTPMD_ARGS}; a repeated option overrides the base one), and waits for the first
     * prompt.
     *
     * @throws TestPmdException if testpmd exits, does not prompt within {@code startupTimeout}, or logs a
     *     probe/port failure before its first prompt; the message carries the log tail and the process is
     *     gone when this returns
     */
    public static TestPmd start(List<String> vdevs, List<String> testpmdArgs, Duration startupTimeout) {
        return start(EAL_ARGS, vdevs, testpmdArgs, startupTimeout);
    }

    /**
     * As {@link #start(List, List, Duration)} with EAL options of the caller's instead of {@link #EAL_ARGS}
     * (e.g. {@code -l 0-1 --main-lcore 1} to put the forwarding lcore on CPU 0); {@code --file-prefix} is
     * still added here.
     */
    public static TestPmd start(List<String> ealArgs, List<String> vdevs, List<String> testpmdArgs,
            Duration startupTimeout) {
        String prefix = "pagewire-test-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet();
        List<String> cmd = new ArrayList<>();
        cmd.addAll(List.of(STDBUF.toString(), "-o0", "-e0", BINARY.toString()));
        cmd.addAll(ealArgs);
        cmd.add("--file-prefix=" + prefix);
        for (String vdev : vdevs) {
            cmd.add("--vdev");
            cmd.add(vdev);
        }
        cmd.add("--");
        cmd.addAll(BASE_TESTPMD_ARGS);
        cmd.addAll(testpmdArgs);

        TestPmd pmd;
        try {
            pmd = new TestPmd(prefix, cmd);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot launch " + String.join(" ", cmd), e);
        }
        try {
            pmd.awaitFirstPrompt(startupTimeout);
        } catch (RuntimeException | Error e) {
            pmd.kill();
            throw e;
        }
        return pmd;
    }

    private void awaitFirstPrompt(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (log.indexOf(PROMPT) < 0) {
                if (outputEnded) { // EOF on the pipe: the process has exited
                    awaitExitQuietly(Duration.ofSeconds(2));
                    throw failure("testpmd exited during startup" + exitSuffix());
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw failure("testpmd gave no prompt within " + timeout.toMillis() + " ms");
                }
                changed.awaitNanos(Math.min(left, POLL_NANOS));
            }
            String beforePrompt = log.substring(0, log.indexOf(PROMPT));
            for (Pattern p : STARTUP_FAILURES) {
                Matcher m = p.matcher(beforePrompt);
                if (m.find()) {
                    throw failure("testpmd started with a failure: \"" + lineAt(beforePrompt, m.start()) + "\"");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure("interrupted while waiting for testpmd to start");
        } finally {
            lock.unlock();
        }
    }

    /** Sends {@code quit}, waits, then kills; idempotent. Never leaves the process behind. */
    public void quit() {
        if (closed) {
            return;
        }
        synchronized (commandLock) {
            if (process.isAlive()) {
                try {
                    stdin.write("quit\n".getBytes(StandardCharsets.UTF_8));
                    stdin.flush();
                    stdin.close(); // EOF on stdin also ends the cmdline loop
                } catch (IOException ignored) {
                    // already gone: the kill below reaps it
                }
                awaitExitQuietly(QUIT_TIMEOUT);
            }
        }
        kill();
    }

    @Override
    public void close() {
        quit();
    }

    /**
     * Kills testpmd with SIGKILL (for crash tests) and returns only after the process is gone, its output
     * drained and its DPDK runtime directory removed; idempotent.
     */
    public void kill() {
        if (process.isAlive()) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
        boolean gone = awaitExitQuietly(Duration.ofSeconds(10));
        if (!gone) {
            throw new IllegalStateException("testpmd pid " + process.pid() + " survived SIGKILL for 10 s");
        }
        if (!closed) {
            closed = true;
            try {
                reader.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                stdin.close();
            } catch (IOException ignored) {
                // pipe already broken
            }
            try {
                synchronized (logFile) {
                    logFile.write("\n[exit " + process.exitValue() + "]\n");
                    logFile.close();
                }
            } catch (IOException ignored) {
                // the in-memory log is still complete
            }
            deleteRuntimeDir(filePrefix);
            RUNNING.remove(this);
        }
    }

    private boolean awaitExitQuietly(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    /** Removes {@code /var/run/dpdk/<prefix>} (or the XDG runtime one): DPDK leaves it behind even on quit. */
    private static void deleteRuntimeDir(String prefix) {
        List<Path> candidates = new ArrayList<>();
        candidates.add(Path.of("/var/run/dpdk", prefix));
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isEmpty()) {
            candidates.add(Path.of(xdg, "dpdk", prefix));
        }
        candidates.add(Path.of("/tmp/dpdk", prefix));
        for (Path dir : candidates) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // best effort
                    }
                });
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    // ------------------------------------------------------------------------------------------ commands

    /** {@link #command(String, Duration)} with {@link #DEFAULT_COMMAND_TIMEOUT}. */
    public String command(String cmd) {
        return command(cmd, DEFAULT_COMMAND_TIMEOUT);
    }

    /**
     * Sends one command line and returns what testpmd printed up to its next prompt, without the echo of
     * the command, the prompt, or carriage returns. Asynchronous event lines (link state changes, vhost
     * messages) that arrive meanwhile are part of the result.
     *
     * @throws TestPmdException if testpmd exits or gives no prompt within {@code timeout}
     */
    public String command(String cmd, Duration timeout) {
        if (cmd.indexOf('\n') >= 0 || cmd.indexOf('\r') >= 0 || cmd.isBlank()) {
            throw new IllegalArgumentException("one non-empty line per command: \"" + cmd + "\"");
        }
        if (cmd.strip().equals("quit")) {
            throw new IllegalArgumentException("use quit() or close() to end testpmd");
        }
        synchronized (commandLock) {
            if (closed || !process.isAlive()) {
                throw failure("cannot send \"" + cmd + "\": testpmd is not running" + exitSuffix());
            }
            int start;
            lock.lock();
            try {
                start = log.length();
            } finally {
                lock.unlock();
            }
            try {
                stdin.write((cmd + "\n").getBytes(StandardCharsets.UTF_8));
                stdin.flush();
            } catch (IOException e) {
                awaitExitQuietly(Duration.ofSeconds(2));
                throw failure("cannot send \"" + cmd + "\": " + e.getMessage() + exitSuffix());
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            lock.lock();
            try {
                int prompt;
                while ((prompt = log.indexOf(PROMPT, start)) < 0) {
                    if (outputEnded) { // EOF on the pipe: the process has exited
                        awaitExitQuietly(Duration.ofSeconds(2));
                        throw failure("testpmd exited during \"" + cmd + "\"" + exitSuffix());
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw failure("no prompt after \"" + cmd + "\" within " + timeout.toMillis() + " ms");
                    }
                    changed.awaitNanos(Math.min(left, POLL_NANOS));
                }
                String output = log.substring(start, prompt);
                // The cmdline library echoes the line it read; async lines may come before the echo.
                String echo = cmd + "\n";
                int at = output.indexOf(echo);
                if (at >= 0) {
                    output = output.substring(0, at) + output.substring(at + echo.length());
                }
                return output;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw failure("interrupted during \"" + cmd + "\"");
            } finally {
                lock.unlock();
            }
        }
    }

    /** Parses {@code show port stats <port>}. */
    public PortStats portStats(int port) {
        String out = command("show port stats " + port);
        List<PortStats> stats = parsePortStats(out);
        if (stats.size() != 1 || stats.getFirst().port() != port) {
            throw failure("\"show port stats " + port + "\" gave no stats for port " + port + ":\n" + out);
        }
        return stats.getFirst();
    }

    /** Parses {@code show port stats all}, in port order. */
    public List<PortStats> allPortStats() {
        return parsePortStats(command("show port stats all"));
    }

    /** {@code clear port stats all}. */
    public void clearPortStats() {
        command("clear port stats all");
    }

    /** Number of ports testpmd has, from {@code show port summary all}. */
    public int portCount() {
        String out = command("show port summary all");
        Matcher m = Pattern.compile("Number of available ports: (\\d+)").matcher(out);
        if (!m.find()) {
            throw failure("cannot parse \"show port summary all\":\n" + out);
        }
        return Integer.parseInt(m.group(1));
    }

    /** Whether {@code show port info <port>} says {@code Link status: up}. */
    public boolean linkUp(int port) {
        String out = command("show port info " + port);
        Matcher m = Pattern.compile("Link status: (\\w+)").matcher(out);
        if (!m.find()) {
            throw failure("cannot parse link status of port " + port + ":\n" + out);
        }
        return m.group(1).equals("up");
    }

    /** Polls {@link #linkUp} until true or the timeout passes. */
    public void awaitLinkUp(int port, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!linkUp(port)) {
            if (System.nanoTime() - deadline > 0) {
                throw failure("link of port " + port + " not up within " + timeout.toMillis() + " ms");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw failure("interrupted while waiting for link of port " + port);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ port stats

    /**
     * The counters of one {@code NIC statistics for port N} block (rte_eth_stats: {@code RX-missed} is
     * imissed, {@code RX-errors} ierrors, {@code RX-nombuf} rx_nombuf, {@code TX-errors} oerrors).
     */
    public record PortStats(int port, long rxPackets, long rxMissed, long rxBytes, long rxErrors,
                            long rxNombuf, long txPackets, long txErrors, long txBytes) {
    }

    private static final Pattern STATS_HEADER = Pattern.compile("NIC statistics for port (\\d+)");
    private static final Pattern STATS_FIELD = Pattern.compile(
            "(?<![\\w-])(RX-packets|RX-missed|RX-bytes|RX-errors|RX-nombuf|TX-packets|TX-errors|TX-bytes):\\s*(\\d+)");

    /**
     * Parses every {@code NIC statistics for port N} block in {@code text}, as testpmd 22.11 prints them:
     * <pre>
     *   ######################## NIC statistics for port 0  ########################
     *   RX-packets: 31008      RX-missed: 0          RX-bytes:  1984512
     *   RX-errors: 0
     *   RX-nombuf:  0
     *   TX-packets: 0          TX-errors: 0          TX-bytes:  0
     * </pre>
     * Only the first occurrence of a field in a block counts (per-queue {@code Stats reg} lines that
     * testpmd adds with queue stats mapping come after). A block missing any of the eight fields is an
     * error, not a zero.
     */
    public static List<PortStats> parsePortStats(String text) {
        List<PortStats> result = new ArrayList<>();
        Matcher header = STATS_HEADER.matcher(text);
        List<int[]> blocks = new ArrayList<>(); // {port, start}
        while (header.find()) {
            blocks.add(new int[] {Integer.parseInt(header.group(1)), header.end()});
        }
        for (int i = 0; i < blocks.size(); i++) {
            int port = blocks.get(i)[0];
            int from = blocks.get(i)[1];
            int to = i + 1 < blocks.size() ? blocks.get(i + 1)[1] : text.length();
            String block = text.substring(from, to);
            java.util.Map<String, Long> fields = new java.util.HashMap<>();
            Matcher f = STATS_FIELD.matcher(block);
            while (f.find()) {
                fields.putIfAbsent(f.group(1), Long.parseUnsignedLong(f.group(2)));
            }
            for (String name : List.of("RX-packets", "RX-missed", "RX-bytes", "RX-errors", "RX-nombuf",
                    "TX-packets", "TX-errors", "TX-bytes")) {
                if (!fields.containsKey(name)) {
                    throw new IllegalArgumentException("port " + port + " stats lack " + name + ":\n" + block);
                }
            }
            result.add(new PortStats(port, fields.get("RX-packets"), fields.get("RX-missed"),
                    fields.get("RX-bytes"), fields.get("RX-errors"), fields.get("RX-nombuf"),
                    fields.get("TX-packets"), fields.get("TX-errors"), fields.get("TX-bytes")));
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------ accessors

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The unique {@code --file-prefix} of this instance. */
    public String filePrefix() {
        return filePrefix;
    }

    /** The full command line, {@code stdbuf} included. */
    public List<String> commandLine() {
        return commandLine;
    }

    /** Everything testpmd printed so far (stdout and stderr, carriage returns removed). */
    public String log() {
        lock.lock();
        try {
            return log.toString();
        } finally {
            lock.unlock();
        }
    }

    /** The last {@code lines} lines of {@link #log()}. */
    public String logTail(int lines) {
        return tail(log(), lines);
    }

    /** Where the log is mirrored, under the module's {@code target/testpmd-logs}. */
    public Path logFile() {
        return logPath;
    }

    @Override
    public String toString() {
        return "TestPmd[pid=" + process.pid() + ", prefix=" + filePrefix + ", log=" + logPath + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    private void readOutput() {
        try (Reader r = new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)) {
            char[] buf = new char[8192];
            for (int n; (n = r.read(buf)) >= 0; ) {
                String chunk = new String(buf, 0, n).replace("\r", "");
                lock.lock();
                try {
                    log.append(chunk);
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
                synchronized (logFile) {
                    try {
                        logFile.write(chunk);
                        logFile.flush();
                    } catch (IOException ignored) {
                        // file closed by kill(); the in-memory log still has it
                    }
                }
            }
        } catch (IOException ignored) {
            // stream closed: process gone
        } finally {
            lock.lock();
            try {
                outputEnded = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private String exitSuffix() {
        return process.isAlive() ? "" : " (exit code " + process.exitValue() + ")";
    }

    private TestPmdException failure(String what) {
        String text = log();
        return new TestPmdException(what + "\n  pid " + process.pid() + ", log " + logPath
                + "\n  command: " + String.join(" ", commandLine)
                + "\n--- last " + LOG_TAIL_LINES + " lines of testpmd output ---\n" + tail(text, LOG_TAIL_LINES)
                + "\n--- end of testpmd output ---", process.pid(), text);
    }

    private static String lineAt(String text, int index) {
        int from = text.lastIndexOf('\n', index) + 1;
        int to = text.indexOf('\n', index);
        return text.substring(from, to < 0 ? text.length() : to).strip();
    }

    static String tail(String text, int lines) {
        int end = text.endsWith("\n") ? text.length() - 1 : text.length();
        int at = end;
        for (int i = 0; i < lines; i++) {
            int nl = at == 0 ? -1 : text.lastIndexOf('\n', at - 1);
            if (nl < 0) {
                return text.substring(0, end);
            }
            at = nl;
        }
        return text.substring(at + 1, end);
    }

    /** A testpmd failure; the message includes the log tail, {@link #log()} the whole log. */
    public static final class TestPmdException extends RuntimeException {
        private final long pid;
        private final String log;

        TestPmdException(String message, long pid, String log) {
            super(message);
            this.pid = pid;
            this.log = log;
        }

        public long pid() {
            return pid;
        }

        public String log() {
            return log;
        }
    }
}
