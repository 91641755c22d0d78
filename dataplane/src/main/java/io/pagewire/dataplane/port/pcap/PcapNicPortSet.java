package io.pagewire.dataplane.port.pcap;

import io.pagewire.config.NicConfig;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.port.NicPortSet;
import org.agrona.CloseHelper;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The pcap port as a forwarder runs it ({@code nic.type=pcap}): one {@link PcapNicPort} (the config rules allow one
 * queue pair), the mapped input file, the output writer and its thread, and the port's {@link PcapCounter}s.
 * Everything that can fail does so in {@link #open}, before the dataplane starts: a missing or malformed capture, or
 * an output that cannot be created, is a {@link NicPortException} naming the key, the file and the rule.
 */
public final class PcapNicPortSet implements NicPortSet
{
    private final PcapFile file;
    private final PcapWriter writer;
    private final PcapNicPort port;
    private final NicConfig.Pcap config;
    private final List<AtomicCounter> counters;
    private boolean closed;

    private PcapNicPortSet(
        final NicConfig.Pcap config,
        final PcapFile file,
        final PcapWriter writer,
        final PcapNicPort port,
        final List<AtomicCounter> counters)
    {
        this.config = config;
        this.file = file;
        this.writer = writer;
        this.port = port;
        this.counters = counters;
    }

    /**
     * Opens the input (validating it whole), creates the output and starts its writer thread.
     *
     * @param config   keys {@code nic.pcap.*}.
     * @param rateMbps {@code traffic.rate_mbps}, the rate of {@code nic.pcap.pace=rate}.
     * @param manager  where the port's counters go, or null for none.
     * @return the port set.
     * @throws NicPortException when the input is not a capture the port can replay, or a file cannot be opened,
     *                          mapped or created.
     */
    public static PcapNicPortSet open(final NicConfig.Pcap config, final int rateMbps, final CountersManager manager)
    {
        final List<AtomicCounter> counters = new ArrayList<>();
        PcapFile file = null;
        PcapWriter writer = null;
        try
        {
            final AtomicCounter[] byId = new AtomicCounter[PcapCounter.values().length];
            if (manager != null)
            {
                for (final PcapCounter counter : PcapCounter.values())
                {
                    final AtomicCounter allocated = counter.allocate(manager, 0);
                    counters.add(allocated);
                    byId[counter.ordinal()] = allocated;
                }
            }
            PcapReplay replay = null;
            if (!config.read().isEmpty())
            {
                try
                {
                    file = PcapFile.open(Path.of(config.read()));
                }
                catch (final PcapFormatException | UncheckedIOException ex)
                {
                    throw new NicPortException("nic.pcap.read=\"" + config.read() + "\": " + ex.getMessage(), ex);
                }
                replay = new PcapReplay(file, config.pace(), config.loop(), rateMbps);
            }
            if (!config.write().isEmpty())
            {
                try
                {
                    writer = PcapWriter.open(Path.of(config.write()), true, PcapWriter.DEFAULT_RING_CAPACITY,
                        byId[PcapCounter.FRAMES_WRITTEN.ordinal()], byId[PcapCounter.WRITE_ERRORS.ordinal()]);
                }
                catch (final UncheckedIOException ex)
                {
                    throw new NicPortException("nic.pcap.write=\"" + config.write() + "\": " + ex.getMessage(), ex);
                }
            }
            final PcapNicPort port = new PcapNicPort(replay, writer,
                byId[PcapCounter.FRAMES_REPLAYED.ordinal()], byId[PcapCounter.LOOPS.ordinal()],
                byId[PcapCounter.BAD_RECORDS.ordinal()], byId[PcapCounter.WRITE_DROPS.ordinal()]);
            if (writer != null)
            {
                final Path output = writer.path();
                // Once, from the writer thread: the run goes on and the lost frames are counted.
                writer.start((throwable) -> System.err.println("pagewire: nic.pcap.write=" + output + ": " +
                    throwable.getMessage() + "; frames not written from now on count as " +
                    PcapCounter.WRITE_ERRORS.label()));
            }
            return new PcapNicPortSet(config, file, writer, port, counters);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(writer);
            CloseHelper.quietClose(file);
            counters.forEach(CloseHelper::quietClose);
            throw ex;
        }
    }

    @Override
    public int pairs()
    {
        return 1;
    }

    @Override
    public NicPort port(final int pair)
    {
        if (pair != 0)
        {
            throw new IndexOutOfBoundsException("pair=" + pair + ": a pcap port serves queue pair 0 only");
        }
        return port;
    }

    /** @return the port itself (its replay and writer), for tests and summaries. */
    public PcapNicPort pcapPort()
    {
        return port;
    }

    /**
     * @return the first failure of the writer thread (disk full, file removed), or null. The run goes on: frames
     * that could not be written are counted as {@link PcapCounter#WRITE_ERRORS}.
     */
    public Throwable failure()
    {
        return writer == null ? null : writer.failure();
    }

    /** Stops the replay: the guest drains what was already replayed; the recording goes on until close. */
    @Override
    public void stopReceiving()
    {
        port.stopReceiving();
    }

    @Override
    public String describe()
    {
        final StringBuilder text = new StringBuilder("pcap");
        if (file != null)
        {
            text.append(" replaying ").append(file.path()).append(" (").append(file.deliverableRecords())
                .append(" frames, pace ").append(config.pace().configName())
                .append(config.loop() ? ", loop" : "").append(')');
        }
        if (writer != null)
        {
            text.append(file != null ? "," : "").append(" recording to ").append(writer.path());
        }
        return text.toString();
    }

    /**
     * Publishes the final counters, finishes the output file (every committed frame written, exact length) and
     * unmaps the input. The dataplane threads have stopped. Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            port.publishCounters();
            CloseHelper.close(writer);
        }
        finally
        {
            CloseHelper.quietClose(file);
            counters.forEach(CloseHelper::quietClose);
        }
    }
}
