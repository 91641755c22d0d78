package io.pagewire.perf.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Options of {@code pagewire bench pvp}.
 *
 * @param sizes          frame sizes in bytes ({@code --sizes 64,1500}).
 * @param mrg            mergeable receive buffers on and/or off ({@code --mrg on|off|both}).
 * @param qsizes         virtqueue sizes ({@code --qsizes 256,1024}).
 * @param reps           repetitions per forwarder and point ({@code --reps N}).
 * @param seconds        measured seconds per repetition ({@code --seconds N}).
 * @param warmupSeconds  seconds of traffic before measuring ({@code --warmup N}).
 * @param forwarders     the forwarders compared, in the order they alternate ({@code --forwarders pagewire,dpdk}).
 * @param json           where the JSON result goes, or null ({@code --json FILE}).
 * @param pagewireSets   extra {@code key=value} settings for pagewire ({@code --set}, repeatable).
 */
record BenchOptions(
    List<Integer> sizes, List<Boolean> mrg, List<Integer> qsizes, int reps, int seconds, int warmupSeconds,
    List<String> forwarders, Path json, List<String> pagewireSets)
{
    static final String USAGE = """
        usage: pagewire bench pvp [--sizes 64,512,1500] [--mrg on|off|both] [--qsizes 256,1024] [--reps N]
                                  [--seconds N] [--warmup N] [--forwarders pagewire,dpdk] [--json FILE]
                                  [--set key=value]...

        PVP without a VM, side by side with DPDK: one dpdk-testpmd is traffic source and guest (net_memif client +
        net_virtio_user, io forwarding, 128 frames in flight); the forwarder under test sits between: pagewire (memif
        server + vhost-user) or dpdk-testpmd (net_memif server + net_vhost). Both busy-poll, one per CPU (0 and 1).
        Each repetition is tagged with the machine's regime (cross-core round trip) and its foreign CPU load; the
        summary compares medians of clean repetitions within one regime.

          --sizes      frame sizes in bytes (default 64,512,1500)
          --mrg        VIRTIO_NET_F_MRG_RXBUF on, off or both (default both)
          --qsizes     virtqueue sizes (default 256,1024)
          --reps       repetitions per forwarder and point, alternating forwarders (default 3)
          --seconds    measured seconds per repetition (default 5)
          --warmup     seconds of traffic before measuring (default 2)
          --forwarders which forwarders, in order (default pagewire,dpdk)
          --json FILE  write {"runs": [...], "summary": [...]} there
          --set k=v    extra pagewire setting (repeatable), e.g. --set dataplane.burst=64
        """;

    /**
     * @throws IllegalArgumentException with a one-line message on bad arguments.
     */
    static BenchOptions parse(final String[] args)
    {
        List<Integer> sizes = List.of(64, 512, 1500);
        List<Boolean> mrg = List.of(true, false);
        List<Integer> qsizes = List.of(256, 1024);
        int reps = 3;
        int seconds = 5;
        int warmup = 2;
        List<String> forwarders = List.of("pagewire", "dpdk");
        Path json = null;
        final List<String> sets = new ArrayList<>();
        final BenchArgs options = new BenchArgs(args);
        while (options.next())
        {
            switch (options.option())
            {
                case "--sizes" -> sizes = options.ints(60, 9000);
                case "--mrg" -> mrg = options.onOff();
                case "--qsizes" -> qsizes = options.ints(64, 4096);
                case "--reps" -> reps = options.ints(1, 1000).getFirst();
                case "--seconds" -> seconds = options.ints(1, 3600).getFirst();
                case "--warmup" -> warmup = options.ints(0, 600).getFirst();
                case "--forwarders" -> forwarders = options.names("pagewire", "dpdk");
                case "--json" -> json = Path.of(options.value());
                case "--set" -> sets.add(options.value());
                default -> throw options.unknown();
            }
        }
        return new BenchOptions(sizes, mrg, qsizes, reps, seconds, warmup, forwarders, json, List.copyOf(sets));
    }
}
