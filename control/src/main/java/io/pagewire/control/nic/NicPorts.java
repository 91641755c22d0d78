package io.pagewire.control.nic;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.port.afpacket.AfPacketNicPort;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.port.ShmNicPortSet;
import io.pagewire.dataplane.port.memif.MemifNicPortSet;
import io.pagewire.dataplane.port.pcap.PcapNicPortSet;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import org.agrona.concurrent.status.CountersManager;

/**
 * The one place a forwarder's NIC ports are built from {@code nic.type}: one port per queue pair
 * ({@code guest.queue_pairs}), whatever the guest.
 */
public final class NicPorts
{
    private NicPorts()
    {
    }

    /**
     * Opens the configured NIC.
     *
     * @param config    a validated configuration.
     * @param directory the run's directory (the shm port files go there).
     * @param counters  where port counters are registered.
     * @return the ports, ready for the dataplane; the caller closes them after the dataplane threads stopped.
     * @throws NicPortException when the configured port cannot be opened (a configuration problem: exit code 2).
     */
    public static NicPortSet open(
        final PagewireConfig config, final RuntimeDirectory directory, final CountersManager counters)
    {
        final int pairs = config.guest().queuePairs();
        return switch (config.nic().type())
        {
            case SHM -> ShmNicPortSet.create(pairs, pair -> pairs == 1 ? directory.nicRingFile() :
                directory.path().resolve("nic-" + pair + ".ring"), config.nic().ringSize(), config.nic().slotSize());
            case MEMIF -> openMemif(config, counters);
            case PCAP -> PcapNicPortSet.open(config.nic().pcap(), config.traffic().rateMbps(), counters);
            case AF_PACKET -> AfPacketNicPort.open(config.nic(), counters);
        };
    }

    private static NicPortSet openMemif(final PagewireConfig config, final CountersManager counters)
    {
        try
        {
            return MemifNicPortSet.open(config.nic(), config.guest().queuePairs(), counters);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new NicPortException(ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            throw new NicPortException("nic.memif.socket=\"" + config.nic().memif().socket() + "\": cannot listen: " +
                ex.getMessage(), ex);
        }
    }
}
