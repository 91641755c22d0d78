package io.pagewire.control.nic;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.port.memif.MemifNicPortSet;
import io.pagewire.dataplane.stats.RuntimeDirectory;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@code nic.type=memif} through the one factory: what it builds, and a socket it cannot bind named by its key. */
class MemifNicPortsTest
{
    @TempDir
    Path temp;

    private static CountersManager counters()
    {
        return new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
    }

    @Test
    void memifServerListensOnItsSocket()
    {
        final Path socket = temp.resolve("m.sock");
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif",
            "nic.memif.socket=" + socket, "guest.type=vhost-user", "guest.queue_pairs=2"));
        final RuntimeDirectory directory = RuntimeDirectory.create(temp.resolve("run"));
        try (NicPortSet set = NicPorts.open(config, directory, counters()))
        {
            assertInstanceOf(MemifNicPortSet.class, set);
            assertEquals(2, set.pairs());
            assertTrue(Files.exists(socket));
            assertEquals("memif server " + socket + " id 0, 2 queue pairs, ring 1024, buffer 2048", set.describe());
            assertEquals(0, set.port(1).rxAvailable());
        }
        finally
        {
            directory.delete();
        }
        assertFalse(Files.exists(socket));
    }

    @Test
    void socketThatCannotBeBoundIsANicPortExceptionNamingTheKey()
    {
        final Path socket = temp.resolve("missing-dir/m.sock");
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif",
            "nic.memif.socket=" + socket));
        final RuntimeDirectory directory = RuntimeDirectory.create(temp.resolve("run"));
        try
        {
            final NicPortException e = assertThrows(NicPortException.class,
                () -> NicPorts.open(config, directory, counters()));
            assertTrue(e.getMessage().startsWith("nic.memif.socket=\"" + socket + "\": cannot listen"),
                e.getMessage());
        }
        finally
        {
            directory.delete();
        }
    }
}
