package io.pagewire.control.nic;

import io.pagewire.dataplane.port.pcap.PcapTraceGenerator;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code pagewire pcap-gen}: writes a synthetic, reproducible Ethernet capture ({@link PcapTraceGenerator}) to
 * replay with {@code nic.type=pcap}. The traces in {@code perf/traces/} were made with it.
 */
public final class PcapGenCommand
{
    static final String USAGE = """
        usage: pagewire pcap-gen FILE [--frames N] [--mean-gap-us U] [--seed S]

        Writes a synthetic capture (classic pcap, nanosecond timestamps, Ethernet): IPv4/UDP frames of an IMIX of
        sizes (60, 590 and 1514 bytes 7:4:1, plus random sizes) over 8 flows, with exponentially distributed gaps
        and short wire-speed bursts. The same options give the same bytes.

          --frames N        frames to write (default 500)
          --mean-gap-us U   mean gap between frames outside bursts, in microseconds (default 1000)
          --seed S          random seed (default 1)
        """;

    private PcapGenCommand()
    {
    }

    /**
     * @return the process exit code: 0, 2 for bad usage, 1 when the file cannot be written.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        Path file = null;
        int frames = 500;
        long meanGapUs = 1000;
        long seed = 1;
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--help", "-h" ->
                    {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--frames" -> frames = Integer.parseInt(value(args, ++i));
                    case "--mean-gap-us" -> meanGapUs = Long.parseLong(value(args, ++i));
                    case "--seed" -> seed = Long.parseLong(value(args, ++i));
                    default ->
                    {
                        if (args[i].startsWith("-") || file != null)
                        {
                            throw new IllegalArgumentException("unexpected argument '" + args[i] + "'");
                        }
                        file = Path.of(args[i]);
                    }
                }
            }
            if (file == null)
            {
                throw new IllegalArgumentException("missing FILE");
            }
            if (meanGapUs < 1 || meanGapUs > 60_000_000)
            {
                throw new IllegalArgumentException("--mean-gap-us " + meanGapUs + ": must be in 1..60000000");
            }
            if (frames < 1 || frames > 10_000_000)
            {
                throw new IllegalArgumentException("--frames " + frames + ": must be in 1..10000000");
            }
        }
        catch (final NumberFormatException e)
        {
            err.println("pagewire pcap-gen: not a number: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }
        catch (final IllegalArgumentException e)
        {
            err.println("pagewire pcap-gen: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }
        try
        {
            final byte[] bytes = PcapTraceGenerator.generate(frames, meanGapUs * 1000, seed);
            Files.write(file, bytes);
            out.println("pagewire: wrote " + frames + " frames (" + bytes.length + " bytes) to " + file);
            return 0;
        }
        catch (final IOException e)
        {
            err.println("pagewire pcap-gen: cannot write " + file + ": " + e);
            return 1;
        }
    }

    private static String value(final String[] args, final int i)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }
}
