package io.pagewire.perf.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Options of {@code pagewire bench guest}.
 *
 * @param mrg          mergeable receive buffers on and/or off ({@code --mrg on|off|both}).
 * @param tso          the guest's receive offloads offered (guest_tso4/6...) on and/or off ({@code --tso on|off|both}).
 * @param reps         iperf3 runs per guest boot ({@code --reps N}).
 * @param seconds      seconds per iperf3 run ({@code --seconds N}).
 * @param backends     the backends compared, in order; the order flips from cell to cell ({@code --backends}).
 * @param json         where the JSON result goes, or null ({@code --json FILE}).
 * @param pagewireSets extra {@code key=value} settings for pagewire ({@code --set}, repeatable).
 * @param pinGuest     QEMU kept off the backend's busy CPU ({@code --pin-guest on|off}).
 * @param boots        guest boots per backend and cell, the backends taking turns ({@code --boots N}).
 */
record GuestBenchOptions(
    List<Boolean> mrg, List<Boolean> tso, int reps, int seconds, List<String> backends, Path json,
    List<String> pagewireSets, boolean pinGuest, int boots)
{
    static final String USAGE = """
        usage: pagewire bench guest [--mrg on|off|both] [--tso on|off|both] [--reps N] [--seconds N]
                                    [--backends pagewire,dpdk] [--json FILE] [--set key=value]...
                                    [--pin-guest on|off] [--boots N]

        External → guest TCP into a real Linux guest (perf/guest: Debian's cloud kernel, its own virtio_net, QEMU TCG,
        one vCPU): an iperf3 client in a fresh network namespace sends over a veth pair (offloads off, so only MTU
        frames with finished checksums cross) to the backend under test, which forwards between the veth's other end
        (AF_PACKET) and the guest's vhost-user socket, where the guest's iperf3 server receives. Backends: pagewire
        (nic.type=af_packet, guest.type=vhost-user, its own JVM) and dpdk-testpmd (net_af_packet + net_vhost, io
        forwarding); both busy-poll on CPU 0, and QEMU runs on the other CPUs. Needs root, iproute2, iperf3,
        ethtool, util-linux (taskset), and perf/guest/build-guest.sh.

          --mrg        VIRTIO_NET_F_MRG_RXBUF on, off or both (default both); off runs pagewire with rx.mode=small
          --tso        the device's receive offloads for the guest (guest_tso4/6, guest_ecn, guest_ufo) left to the
                       backend (on; pagewire with features.guest_tso=true) or switched off on QEMU's device (off),
                       or both (default both). With them and mrg off, Linux posts 64 KiB "big packet" chains
          --reps       iperf3 runs per guest boot (default 5)
          --boots      guest boots per backend and cell (default 1); with more, the backends take turns boot by
                       boot (A B A B ...), so that the machine's drifting speed falls on both; runs per backend and
                       cell = boots x reps
          --seconds    seconds per iperf3 run (default 8)
          --backends   which backends, in order (default pagewire,dpdk)
          --json FILE  write {"machine": ..., "runs": [...], "summary": [...]} there
          --set k=v    extra pagewire setting (repeatable)
          --pin-guest  on (default): QEMU's threads run only on the CPUs other than the backend's busy one; off:
                       anywhere, so the guest's vCPU may share CPU 0 with the busy-polling backend (the scheduler
                       decides, boot by boot)
        """;

    /**
     * @throws IllegalArgumentException with a one-line message on bad arguments.
     */
    static GuestBenchOptions parse(final String[] args)
    {
        List<Boolean> mrg = List.of(true, false);
        List<Boolean> tso = List.of(true, false);
        int reps = 5;
        int seconds = 8;
        List<String> backends = List.of("pagewire", "dpdk");
        Path json = null;
        final List<String> sets = new ArrayList<>();
        boolean pinGuest = true;
        int boots = 1;
        final BenchArgs options = new BenchArgs(args);
        while (options.next())
        {
            switch (options.option())
            {
                case "--mrg" -> mrg = options.onOff();
                case "--tso" -> tso = options.onOff();
                case "--reps" -> reps = options.integer(1, 100);
                case "--seconds" -> seconds = options.integer(1, 600);
                case "--backends" -> backends = options.names("pagewire", "dpdk");
                case "--json" -> json = Path.of(options.value());
                case "--set" -> sets.add(options.value());
                case "--pin-guest" -> pinGuest = options.flag();
                case "--boots" -> boots = options.integer(1, 20);
                default -> throw options.unknown();
            }
        }
        return new GuestBenchOptions(mrg, tso, reps, seconds, backends, json, List.copyOf(sets), pinGuest, boots);
    }
}
