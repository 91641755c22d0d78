package io.pagewire.control.bench;

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
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            final String value = i + 1 < args.length ? args[i + 1] : null;
            if (value == null)
            {
                throw new IllegalArgumentException(arg + ": missing value");
            }
            i++;
            switch (arg)
            {
                case "--sizes" -> sizes = ints(arg, value, 60, 9000);
                case "--mrg" -> mrg = switch (value)
                {
                    case "on" -> List.of(true);
                    case "off" -> List.of(false);
                    case "both" -> List.of(true, false);
                    default -> throw new IllegalArgumentException("--mrg " + value + ": must be on, off or both");
                };
                case "--qsizes" -> qsizes = ints(arg, value, 64, 4096);
                case "--reps" -> reps = ints(arg, value, 1, 1000).getFirst();
                case "--seconds" -> seconds = ints(arg, value, 1, 3600).getFirst();
                case "--warmup" -> warmup = ints(arg, value, 0, 600).getFirst();
                case "--forwarders" ->
                {
                    forwarders = List.of(value.split(","));
                    for (final String f : forwarders)
                    {
                        if (!f.equals("pagewire") && !f.equals("dpdk"))
                        {
                            throw new IllegalArgumentException("--forwarders " + value + ": each must be pagewire or dpdk");
                        }
                    }
                }
                case "--json" -> json = Path.of(value);
                case "--set" -> sets.add(value);
                default -> throw new IllegalArgumentException("unknown option " + arg);
            }
        }
        return new BenchOptions(sizes, mrg, qsizes, reps, seconds, warmup, forwarders, json, List.copyOf(sets));
    }

    private static List<Integer> ints(final String option, final String value, final int min, final int max)
    {
        final List<Integer> result = new ArrayList<>();
        for (final String part : value.split(","))
        {
            final int n;
            try
            {
                n = Integer.parseInt(part.trim());
            }
            catch (final NumberFormatException e)
            {
                throw new IllegalArgumentException(option + " " + value + ": must be numbers in " + min + ".." + max);
            }
            if (n < min || n > max)
            {
                throw new IllegalArgumentException(option + " " + value + ": must be numbers in " + min + ".." + max);
            }
            result.add(n);
        }
        return List.copyOf(result);
    }
}
