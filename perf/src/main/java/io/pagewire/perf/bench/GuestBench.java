package io.pagewire.perf.bench;

import io.pagewire.interop.LinuxGuest;
import io.pagewire.interop.TestPmd;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code pagewire bench guest}: external → guest TCP into a real Linux guest's virtio_net driver, the seed's benchmark.
 * An iperf3 client in a fresh network namespace sends over a veth pair to the backend under test, which forwards
 * between the veth's other end (AF_PACKET) and the vhost-user socket of a QEMU (TCG) guest running the iperf3 server
 * ({@link LinuxGuest}). For each cell (mrg_rxbuf × the guest's receive offloads) each backend gets {@code boots}
 * guest boots (default one), taking turns with the other, each running {@code reps} iperf3 tests; the backends' order
 * flips from cell to cell so that drift in the machine's load or speed does not favour one.
 * <p>
 * The guest's receive offloads ({@code --tso}): pagewire offers them with {@code features.guest_tso=true} (without
 * {@code nic.af_packet.vnet_hdr}, as here, it sends no GSO packets, but the offer makes virtio_net post 64 KiB
 * big-packet chains without mrg_rxbuf, as DPDK's {@code net_vhost} offer does); "off" also switches them off on
 * QEMU's device.
 * <p>
 * Both backends busy-poll on CPU 0 (pagewire {@code dataplane.cpu=0}; testpmd's forwarding lcore) and QEMU runs on
 * the other CPUs ({@code taskset}; {@code --pin-guest off} leaves it to the scheduler). The guest's one emulated CPU is
 * what caps the throughput (its vCPU thread is runnable ~97 % of the time), so it must not depend on where the
 * scheduler puts that thread: left free, it was seen on CPU 0 beside the busy-polling backend, getting a share of
 * that CPU, while other work ran on CPU 1. Per run the CPU that went to neither the backend, QEMU nor the
 * iperf3 client ("foreign": other tenants, kernel work not charged to them) is recorded, as in {@link PvpBench}.
 */
final class GuestBench
{
    private static final String NAMESPACE_ADDRESS = "10.0.0.1";
    private static final String GUEST_ADDRESS = "10.0.0.2";
    /** The CPU both backends busy-poll on (pagewire's dataplane.cpu, testpmd's forwarding lcore). */
    private static final int BACKEND_CPU = 0;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(240);

    /**
     * One iperf3 run.
     *
     * @param backend      pagewire or dpdk.
     * @param mrg          the device's mrg_rxbuf property.
     * @param tso          the device's guest_tso4/6... left to the backend (true) or off.
     * @param rep          1-based.
     * @param mbps         what the guest's iperf3 server received, Mbit/s, or NaN.
     * @param retransmits  the client's TCP retransmissions, or -1.
     * @param rxMode       how the guest posted its receive buffers: mergeable, big (64 KiB chains) or small, from the
     *                     negotiated features.
     * @param foreignCores CPU cores busy with something other than backend, QEMU and the iperf3 client, or NaN.
     * @param regime       the machine's cross-core regime around this run's guest boot ({@link RegimeProbe}: near,
     *                     far, or mixed when it changed during the boot).
     * @param error        why the run failed, or null.
     */
    record Run(
        String backend, boolean mrg, boolean tso, int rep, double mbps, long retransmits, String rxMode,
        double foreignCores, String regime, String error)
    {
        Run withRegime(final String regime)
        {
            return new Run(backend, mrg, tso, rep, mbps, retransmits, rxMode, foreignCores, regime, error);
        }
    }

    private final GuestBenchOptions options;
    private final PrintStream out;
    private final WorkDir workDir;
    private final List<Run> runs = new ArrayList<>();
    /** What is running now (veth, backend, guest), closed newest first by the shutdown hook on Ctrl-C or SIGTERM. */
    private final Deque<AutoCloseable> open = new ConcurrentLinkedDeque<>();
    /** Set by the shutdown hook: the main thread, still running while hooks run, starts nothing more. */
    private volatile boolean stopping;
    private int boots;

    GuestBench(final GuestBenchOptions options, final PrintStream out) throws IOException
    {
        this.options = options;
        this.out = out;
        workDir = WorkDir.create("pagewire-guestbench-");
    }

    /**
     * @return why the benchmark cannot run here, or null.
     */
    static String unavailableReason(final GuestBenchOptions options)
    {
        if (!"root".equals(System.getProperty("user.name")))
        {
            return "needs root (veth, network namespaces, AF_PACKET)";
        }
        for (final String tool : options.pinGuest() ? List.of("ip", "iperf3", "ethtool", "taskset") :
            List.of("ip", "iperf3", "ethtool"))
        {
            if (Stream.of("/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/").noneMatch(d -> Files.isExecutable(
                Path.of(d + tool))))
            {
                return tool + " is not installed (apt-get install iproute2 iperf3 ethtool util-linux)";
            }
        }
        if (options.backends().contains("dpdk"))
        {
            final var testpmd = TestPmd.unavailableReason();
            if (testpmd.isPresent())
            {
                return testpmd.get();
            }
        }
        final var guest = LinuxGuest.build();
        return guest.orElse(null);
    }

    List<Run> runAll() throws InterruptedException
    {
        final Thread cleanup = new Thread(this::closeOpen, "pagewire-guestbench-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        track(workDir);
        try (workDir; Veth veth = track(Veth.create()))
        {
            out.printf("veth %s (AF_PACKET side) / %s in netns %s (%s, iperf3 client); guest %s%n", veth.hostEnd,
                veth.peerEnd, veth.namespace, NAMESPACE_ADDRESS, GUEST_ADDRESS);
            int cell = 0;
            for (final boolean mrg : options.mrg())
            {
                for (final boolean tso : options.tso())
                {
                    final List<String> order = new ArrayList<>(options.backends());
                    if (cell++ % 2 == 1)
                    {
                        java.util.Collections.reverse(order);
                    }
                    // --boots N: the backends take turns, boot by boot, so that a drift of the machine's speed
                    // during the cell falls on both.
                    for (int boot = 0; boot < options.boots(); boot++)
                    {
                        for (final String backend : order)
                        {
                            if (stopping)
                            {
                                return List.copyOf(runs);
                            }
                            runs.addAll(measure(veth, backend, mrg, tso, boot * options.reps()));
                        }
                    }
                }
            }
        }
        finally
        {
            open.clear();
            removeHook(cleanup);
        }
        return List.copyOf(runs);
    }

    /**
     * Registers what was just started for the shutdown hook; once the hook has run, closes it at once instead (the
     * main thread keeps going while hooks run) and fails the step.
     */
    private <T extends AutoCloseable> T track(final T resource)
    {
        synchronized (open)
        {
            if (!stopping)
            {
                open.push(resource);
                return resource;
            }
        }
        closeQuietly(resource);
        throw new IllegalStateException("stopping");
    }

    /**
     * The shutdown hook: a benchmark cut short leaves no QEMU, backend, iperf3 client, veth, network namespace or
     * work directory behind.
     */
    private void closeOpen()
    {
        synchronized (open)
        {
            stopping = true;
        }
        // The iperf3 client runs in the namespace until its test ends, and spins once the namespace is gone.
        ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").endsWith("/ip") ||
            p.info().command().orElse("").endsWith("/iperf3")).forEach(ProcessHandle::destroyForcibly);
        for (AutoCloseable resource = open.poll(); resource != null; resource = open.poll())
        {
            closeQuietly(resource);
        }
    }

    private static void closeQuietly(final AutoCloseable resource)
    {
        try
        {
            resource.close();
        }
        catch (final Exception e)
        {
            System.err.println("pagewire bench guest: cleanup: " + e);
        }
    }

    private static void removeHook(final Thread hook)
    {
        try
        {
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        catch (final IllegalStateException e)
        {
            // the JVM is shutting down: the hook runs (or ran) and closes what is open.
        }
    }

    /**
     * One guest boot against one backend, running {@code reps} iperf3 tests.
     *
     * @param repsBefore runs of this backend and cell in earlier boots (the runs here are numbered on from them).
     */
    private List<Run> measure(
        final Veth veth, final String backend, final boolean mrg, final boolean tso, final int repsBefore)
        throws InterruptedException
    {
        final List<Run> result = new ArrayList<>();
        final Path socket = workDir.resolve("vhost-" + (++boots) + ".sock");
        final List<String> steps = new ArrayList<>();
        steps.add("ping,-c,1,-W,5," + NAMESPACE_ADDRESS);
        for (int rep = 0; rep < options.reps(); rep++)
        {
            steps.add("iperf3s");
        }
        final int timeout = (int)BOOT_TIMEOUT.toSeconds() + options.reps() * (options.seconds() + 30);
        String rxMode = "?";
        final double rttBefore = RegimeProbe.roundTripNs();
        final int depth = open.size();
        try (PvpBench.ForwarderUnderTest forwarder = track(startBackend(backend, veth, socket, mrg, tso));
            LinuxGuest guest = track(LinuxGuest.bootPinned(guestCpus(), socket, mrg, tso, timeout, 1, 1500,
                steps.toArray(String[]::new))))
        {
            guest.await("PW-READY", BOOT_TIMEOUT);
            final String features = guest.features(Duration.ofSeconds(5));
            rxMode = features.charAt(15) == '1' ? "mergeable" :
                (features.charAt(7) == '1' || features.charAt(8) == '1' || features.charAt(9) == '1' ||
                features.charAt(10) == '1') ? "big" : "small";
            for (int nth = 1; nth <= options.reps(); nth++)
            {
                result.add(rep(veth, guest, forwarder, backend, mrg, tso, nth, repsBefore + nth, rxMode));
            }
            guest.awaitExit(Duration.ofSeconds(60));
        }
        catch (final IOException | RuntimeException | AssertionError e)
        {
            final String error = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
            out.printf("%-8s mrg=%-3s tso=%-3s: failed: %s%n", backend, onOff(mrg), onOff(tso), error);
            if (System.getenv("PW_GUESTBENCH_VERBOSE") != null)
            {
                out.println(e.getMessage()); // with the guest's console tail
            }
            for (int nth = result.size() + 1; nth <= options.reps(); nth++)
            {
                result.add(new Run(backend, mrg, tso, repsBefore + nth, Double.NaN, -1, rxMode, Double.NaN, "?",
                    error));
            }
        }
        finally
        {
            while (open.size() > depth)
            {
                open.poll(); // closed by the try above
            }
        }
        final double rttAfter = RegimeProbe.roundTripNs();
        final String before = RegimeProbe.regimeOf(rttBefore);
        final String regime = before.equals(RegimeProbe.regimeOf(rttAfter)) ? before : "mixed";
        out.printf(Locale.ROOT, "%-8s mrg=%-3s tso=%-3s: regime %s (cross-core round trip %.0f ns before the boot, " +
            "%.0f ns after)%n", backend, onOff(mrg), onOff(tso), regime, rttBefore, rttAfter);
        return result.stream().map(r -> r.withRegime(regime)).toList();
    }

    private Run rep(
        final Veth veth, final LinuxGuest guest, final PvpBench.ForwarderUnderTest forwarder, final String backend,
        final boolean mrg, final boolean tso, final int nth, final int rep, final String rxMode)
        throws InterruptedException
    {
        guest.awaitNth("PW-CMD iperf3s", nth, BOOT_TIMEOUT);
        final List<Long> pids = new ArrayList<>(forwarder.pids());
        pids.add(guest.process().pid());
        guest.process().descendants().forEach(p -> pids.add(p.pid()));
        final long startNs = System.nanoTime();
        final double busyStart = CpuAccounting.machineBusySeconds();
        final double oursStart = CpuAccounting.processSeconds(pids) + CpuAccounting.reapedChildrenSeconds();
        final String client = iperf3Client(veth);
        final double elapsed = (System.nanoTime() - startNs) / 1e9;
        final double foreign = ((CpuAccounting.machineBusySeconds() - busyStart) -
            (CpuAccounting.processSeconds(pids) + CpuAccounting.reapedChildrenSeconds() - oursStart)) / elapsed;
        forwarder.checkAlive();
        final String line = guest.awaitNth("PW-IPERF3", nth, Duration.ofSeconds(options.seconds() + 60L));
        final String rc = field(line, "rc");
        final String received = field(line, "received_bps");
        final long retransmits = longOr(jsonNumber(client, "retransmits"), -1);
        final String error = "0".equals(rc) && !received.equals("-") ? null : "guest iperf3: " + line;
        final double mbps = error == null ? Double.parseDouble(received) / 1e6 : Double.NaN;
        out.printf(Locale.ROOT, "%-8s mrg=%-3s tso=%-3s rx=%-9s rep %d: %8.1f Mbit/s  retransmits %d  foreign " +
            "%.2f cores%s%n", backend, onOff(mrg), onOff(tso), rxMode, rep, mbps, retransmits, foreign,
            error == null ? "" : "  " + error);
        return new Run(backend, mrg, tso, rep, mbps, retransmits, rxMode, foreign, "?", error);
    }

    /**
     * @return the CPUs QEMU may use ({@code taskset -c} list): those this process may run on but
     * {@link #BACKEND_CPU}, with {@code --pin-guest on} (the default); null (any) otherwise or when no other is left.
     */
    private String guestCpus()
    {
        if (!options.pinGuest())
        {
            return null;
        }
        final BitSet cpus = allowedCpus();
        cpus.clear(BACKEND_CPU);
        return cpus.isEmpty() ? null : cpus.stream().mapToObj(Integer::toString)
            .collect(Collectors.joining(","));
    }

    /** @return the CPUs this process may run on ({@code Cpus_allowed_list}, /proc/self/status); 0 and 1 if unknown. */
    static BitSet allowedCpus()
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/self/status")))
            {
                if (line.startsWith("Cpus_allowed_list:"))
                {
                    return cpuList(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            // fall through
        }
        final BitSet both = new BitSet();
        both.set(0, 2);
        return both;
    }

    /** @return the CPUs of a Linux CPU list such as "0-3,6,8-9". */
    static BitSet cpuList(final String list)
    {
        final BitSet cpus = new BitSet();
        for (final String part : list.split(","))
        {
            final int dash = part.indexOf('-');
            if (dash < 0)
            {
                cpus.set(Integer.parseInt(part.trim()));
            }
            else
            {
                cpus.set(Integer.parseInt(part.substring(0, dash).trim()), Integer.parseInt(part.substring(dash + 1)
                    .trim()) + 1);
            }
        }
        return cpus;
    }

    private PvpBench.ForwarderUnderTest startBackend(
        final String backend, final Veth veth, final Path socket, final boolean mrg, final boolean tso)
        throws IOException
    {
        if (backend.equals("pagewire"))
        {
            final Path dir = Files.createDirectories(workDir.resolve("pagewire-" + boots));
            final List<String> sets = new ArrayList<>(List.of("guest.type=vhost-user", "guest.socket=" + socket,
                "nic.type=af_packet", "nic.af_packet.interface=" + veth.hostEnd, "dataplane.cpu=" + BACKEND_CPU,
                "features.mrg_rxbuf=" + mrg, "features.guest_tso=" + tso));
            sets.addAll(options.pagewireSets());
            return PagewireForwarder.start(sets, List.of(socket), dir);
        }
        final TestPmd testpmd = TestPmd.start(
            // lcore 0 (BACKEND_CPU) forwards; the main lcore, mostly asleep at its prompt, is CPU 1.
            List.of("-l", "0-1", "--main-lcore", "1", "--no-huge", "-m", "1024", "--no-pci"),
            List.of("net_af_packet0,iface=" + veth.hostEnd, "net_vhost0,iface=" + socket + ",queues=1"),
            List.of("--forward-mode=io", "--nb-cores=1"), START_TIMEOUT);
        testpmd.command("start");
        return new PvpBench.DpdkForwarder(testpmd);
    }

    /** The namespace's iperf3 client; retried while the guest's server is not listening yet. */
    private String iperf3Client(final Veth veth) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true)
        {
            final String[] result = Veth.exec(options.seconds() + 60L, "ip", "netns", "exec", veth.namespace,
                "iperf3", "-c", GUEST_ADDRESS, "-C", "cubic", "-t", Integer.toString(options.seconds()), "-J",
                "--connect-timeout", "5000");
            // iperf3 3.12 with -J exits 0 also when it could not connect: its JSON then has an "error".
            if (result[0].equals("0") && !result[1].contains("\"error\""))
            {
                return result[1];
            }
            if (!result[1].contains("refused") || System.nanoTime() - deadline > 0)
            {
                throw new IllegalStateException("iperf3 client: exit " + result[0] + ": " +
                    result[1].strip().lines().filter(l -> l.contains("error")).findFirst().orElse(""));
            }
            Thread.sleep(200);
        }
    }

    /** Per cell and backend: min/median/max Mbit/s of the runs without error, the receive mode, foreign load. */
    List<Map<String, Object>> summary()
    {
        return summarize(runs, options.mrg(), options.tso(), options.backends());
    }

    static List<Map<String, Object>> summarize(
        final List<Run> runs, final List<Boolean> mrgs, final List<Boolean> tsos, final List<String> backends)
    {
        final List<Map<String, Object>> rows = new ArrayList<>();
        for (final boolean mrg : mrgs)
        {
            for (final boolean tso : tsos)
            {
                final Map<String, Object> row = new LinkedHashMap<>();
                row.put("mrg", onOff(mrg));
                row.put("tso", onOff(tso));
                for (final String backend : backends)
                {
                    final List<Run> cell = runs.stream().filter(r -> r.backend().equals(backend) &&
                        r.mrg() == mrg && r.tso() == tso).toList();
                    final List<Double> mbps = cell.stream().filter(r -> r.error() == null).map(Run::mbps).toList();
                    final Map<String, Object> stats = new LinkedHashMap<>();
                    stats.put("n", mbps.size());
                    stats.put("min", mbps.isEmpty() ? null : mbps.stream().mapToDouble(d -> d).min().orElseThrow());
                    stats.put("median", mbps.isEmpty() ? null : PvpBench.median(mbps));
                    stats.put("max", mbps.isEmpty() ? null : mbps.stream().mapToDouble(d -> d).max().orElseThrow());
                    stats.put("rx_mode", cell.isEmpty() ? null : cell.getFirst().rxMode());
                    final List<Double> foreign = cell.stream().map(Run::foreignCores).filter(f -> !f.isNaN())
                        .toList();
                    stats.put("foreign_cpu_cores_median", foreign.isEmpty() ? null : PvpBench.median(foreign));
                    stats.put("regime", regimes(cell));
                    row.put(backend, stats);
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /** @return the one regime of a cell's runs, or how many runs were in each ("near 3, far 2"); "?" for none. */
    static String regimes(final List<Run> cell)
    {
        final Map<String, Long> counts = new java.util.TreeMap<>(java.util.Comparator.reverseOrder());
        cell.forEach(r -> counts.merge(r.regime(), 1L, Long::sum));
        if (counts.isEmpty())
        {
            return "?";
        }
        if (counts.size() == 1)
        {
            return counts.keySet().iterator().next();
        }
        final StringBuilder text = new StringBuilder();
        counts.forEach((regime, n) -> text.append(text.isEmpty() ? "" : ", ").append(regime).append(' ').append(n));
        return text.toString();
    }

    static String table(final List<Map<String, Object>> summary, final List<String> backends)
    {
        final StringBuilder text = new StringBuilder();
        text.append(String.format(Locale.ROOT, "%4s %4s", "mrg", "tso"));
        for (final String backend : backends)
        {
            text.append(String.format(Locale.ROOT, " | %-9s %30s %7s %-14s", backend + " rx",
                "Mbit/s min/median/max (n)", "foreign", "regime"));
        }
        text.append('\n');
        for (final Map<String, Object> row : summary)
        {
            text.append(String.format(Locale.ROOT, "%4s %4s", row.get("mrg"), row.get("tso")));
            for (final String backend : backends)
            {
                @SuppressWarnings("unchecked")
                final Map<String, Object> stats = (Map<String, Object>)row.get(backend);
                final Object foreign = stats.get("foreign_cpu_cores_median");
                text.append(String.format(Locale.ROOT, " | %-9s ", stats.get("rx_mode")));
                text.append(stats.get("median") == null ? String.format(Locale.ROOT, "%30s", "-") :
                    String.format(Locale.ROOT, "%30s", String.format(Locale.ROOT, "%.0f/%.0f/%.0f (%d)",
                    (double)stats.get("min"), (double)stats.get("median"), (double)stats.get("max"),
                    (int)stats.get("n"))));
                text.append(foreign == null ? String.format(Locale.ROOT, " %7s", "-") :
                    String.format(Locale.ROOT, " %7.2f", (double)foreign));
                text.append(String.format(Locale.ROOT, " %-14s", stats.get("regime")));
            }
            text.append('\n');
        }
        return text.toString();
    }

    static List<Object> runsJson(final List<Run> runs)
    {
        final List<Object> list = new ArrayList<>();
        for (final Run run : runs)
        {
            final Map<String, Object> r = new LinkedHashMap<>();
            r.put("backend", run.backend());
            r.put("mrg", onOff(run.mrg()));
            r.put("tso", onOff(run.tso()));
            r.put("rep", run.rep());
            r.put("rx_mode", run.rxMode());
            r.put("mbps", Double.isNaN(run.mbps()) ? null : run.mbps());
            r.put("retransmits", run.retransmits() < 0 ? null : run.retransmits());
            r.put("foreign_cpu_cores", Double.isNaN(run.foreignCores()) ? null : run.foreignCores());
            r.put("regime", run.regime());
            r.put("error", run.error());
            list.add(r);
        }
        return list;
    }

    private static String onOff(final boolean value)
    {
        return value ? "on" : "off";
    }

    private static String field(final String line, final String key)
    {
        for (final String word : line.split("\\s+"))
        {
            if (word.startsWith(key + "="))
            {
                return word.substring(key.length() + 1);
            }
        }
        return "-";
    }

    /** The first {@code "key": number} in iperf3's JSON, or null. */
    private static String jsonNumber(final String json, final String key)
    {
        final int at = json.lastIndexOf("\"" + key + "\":");
        if (at < 0)
        {
            return null;
        }
        int i = at + key.length() + 3;
        while (i < json.length() && Character.isWhitespace(json.charAt(i)))
        {
            i++;
        }
        int end = i;
        while (end < json.length() && (Character.isDigit(json.charAt(end)) || json.charAt(end) == '.'))
        {
            end++;
        }
        return json.substring(i, end);
    }

    private static long longOr(final String value, final long otherwise)
    {
        try
        {
            return value == null ? otherwise : (long)Double.parseDouble(value);
        }
        catch (final NumberFormatException e)
        {
            return otherwise;
        }
    }

    /**
     * The benchmark's veth pair: {@code hostEnd} for the backend's AF_PACKET socket, {@code peerEnd} in a fresh
     * network namespace with {@value #NAMESPACE_ADDRESS}/24. IPv6 off, checksum and segmentation offloads off on
     * both ends (only MTU frames with finished checksums cross: what a raw AF_PACKET reader can forward as they are).
     * The same setup as the tests' VethPair fixture, which main code cannot use.
     */
    private static final class Veth implements AutoCloseable
    {
        private final String hostEnd;
        private final String peerEnd;
        private final String namespace;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Veth(final String id)
        {
            hostEnd = "pwgb" + id + "a";
            peerEnd = "pwgb" + id + "b";
            namespace = "pw-gbench-" + id;
        }

        static Veth create()
        {
            final Veth veth = new Veth(Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xFFFFFF)));
            try
            {
                final String ns = veth.namespace;
                run("ip", "link", "add", veth.hostEnd, "type", "veth", "peer", "name", veth.peerEnd);
                run("ip", "netns", "add", ns);
                run("ip", "link", "set", veth.peerEnd, "netns", ns);
                run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
                exec(10, "sysctl", "-q", "-w", "net.ipv6.conf." + veth.hostEnd + ".disable_ipv6=1");
                exec(10, "ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                    "net.ipv6.conf." + veth.peerEnd + ".disable_ipv6=1");
                run("ethtool", "-K", veth.hostEnd, "tx", "off", "tso", "off", "gso", "off", "gro", "off");
                run("ip", "netns", "exec", ns, "ethtool", "-K", veth.peerEnd, "tx", "off", "tso", "off", "gso",
                    "off", "gro", "off");
                run("ip", "netns", "exec", ns, "ip", "addr", "add", NAMESPACE_ADDRESS + "/24", "dev", veth.peerEnd);
                run("ip", "link", "set", veth.hostEnd, "up");
                run("ip", "netns", "exec", ns, "ip", "link", "set", veth.peerEnd, "up");
            }
            catch (final RuntimeException e)
            {
                veth.close();
                throw e;
            }
            return veth;
        }

        private static void run(final String... command)
        {
            final String[] result = exec(30, command);
            if (!result[0].equals("0"))
            {
                throw new IllegalStateException(String.join(" ", command) + ": exit " + result[0] + ": " +
                    result[1].strip());
            }
        }

        /** @return {exit code, output}; exit "timeout" when it did not finish. */
        static String[] exec(final long timeoutSeconds, final String... command)
        {
            try
            {
                final Path output = Files.createTempFile("pagewire-guestbench", ".out");
                try
                {
                    final Process p = new ProcessBuilder(command).redirectErrorStream(true)
                        .redirectOutput(output.toFile()).start();
                    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS))
                    {
                        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                        return new String[] {"timeout", Files.readString(output, StandardCharsets.UTF_8)};
                    }
                    return new String[] {Integer.toString(p.exitValue()),
                        Files.readString(output, StandardCharsets.UTF_8)};
                }
                finally
                {
                    Files.deleteIfExists(output);
                }
            }
            catch (final IOException e)
            {
                throw new IllegalStateException(String.join(" ", command) + ": " + e.getMessage(), e);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(String.join(" ", command) + ": interrupted", e);
            }
        }

        /** Idempotent: the shutdown hook and the main thread may both close it. */
        @Override
        public void close()
        {
            if (closed.compareAndSet(false, true))
            {
                exec(30, "ip", "netns", "del", namespace);
                exec(30, "ip", "link", "del", hostEnd);
            }
        }
    }
}
