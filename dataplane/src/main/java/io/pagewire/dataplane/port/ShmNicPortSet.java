package io.pagewire.dataplane.port;

import java.nio.file.Path;
import java.util.function.IntFunction;

/**
 * The embedded shared-memory NIC ({@code nic.type=shm}): one {@link ShmNicPort} file per queue pair, fed and drained
 * by a peer (the embedded traffic source and sink, or another process attached to the files).
 */
public final class ShmNicPortSet implements NicPortSet
{
    private final ShmNicPort[] ports;

    private ShmNicPortSet(final ShmNicPort[] ports)
    {
        this.ports = ports;
    }

    /**
     * Creates the port files.
     *
     * @param pairs     queue pairs, one port each.
     * @param fileOf    the file of each pair's port.
     * @param slotCount slots per ring ({@code nic.ring.size}).
     * @param slotSize  bytes per slot ({@code nic.slot_size}).
     * @return the ports; on failure every file already created is removed.
     */
    public static ShmNicPortSet create(
        final int pairs, final IntFunction<Path> fileOf, final int slotCount, final int slotSize)
    {
        final ShmNicPort[] ports = new ShmNicPort[pairs];
        try
        {
            for (int i = 0; i < pairs; i++)
            {
                ports[i] = ShmNicPort.create(fileOf.apply(i), slotCount, slotSize);
            }
        }
        catch (final RuntimeException e)
        {
            for (final ShmNicPort port : ports)
            {
                if (port != null)
                {
                    port.closeAndDelete();
                }
            }
            throw e;
        }
        return new ShmNicPortSet(ports);
    }

    @Override
    public int pairs()
    {
        return ports.length;
    }

    @Override
    public ShmNicPort port(final int pair)
    {
        return ports[pair];
    }

    /**
     * @return whether every receive ring is empty (the dataplane took every frame the peer produced); the producer's
     * view, safe from the control thread.
     */
    public boolean rxEmpty()
    {
        for (final ShmNicPort port : ports)
        {
            if (port.rxRing().freeSlots() != port.rxRing().slotCount())
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public String describe()
    {
        return "shm " + ports[0].file().getParent();
    }

    /** Unmaps and deletes every port file. */
    @Override
    public void close()
    {
        for (final ShmNicPort port : ports)
        {
            port.closeAndDelete();
        }
    }
}
