package io.pagewire.dataplane.port.memif;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.UnixSocket;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The memif control channel is bounded per poll like the vhost-user socket (issue 12, point 4): peers that connect in
 * a loop are accepted and refused a few per poll, so the control thread's other work comes round between them.
 */
class MemifControlFairnessTest
{
    private final List<String> log = new ArrayList<>();
    private final List<UnixSocket> clients = new ArrayList<>();
    private Path directory;
    private Path socket;
    private MemifNicPortSet set;

    @BeforeEach
    void open() throws Exception
    {
        directory = Files.createTempDirectory(Path.of("/tmp"), "pw-memif-fair");
        socket = directory.resolve("s.sock");
        final PagewireConfig config = PagewireConfig.load(null, List.of("nic.type=memif", "nic.memif.role=server",
            "nic.memif.socket=" + socket, "nic.ring.size=256"));
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(8192)));
        set = MemifNicPortSet.open(config.nic(), 1, counters, log::add);
    }

    @AfterEach
    void close() throws Exception
    {
        clients.forEach(UnixSocket::close);
        set.close();
        Files.deleteIfExists(socket);
        Files.deleteIfExists(directory);
    }

    @Test
    void connectionsWaitingToBeAcceptedAreTakenAFewPerPoll()
    {
        try
        {
            while (clients.size() < 64)
            {
                clients.add(UnixSocket.connectSeqPacket(socket));
            }
            fail("the backlog never filled");
        }
        catch (final OsException e)
        {
            assertEquals(11, e.errno(), "a non-blocking connect to a full backlog: EAGAIN, " + e.getMessage());
        }
        final int waiting = clients.size();
        assertTrue(waiting > 8, waiting + " connections waiting");
        set.poll();
        // One became the client (HELLO sent), at most 7 more were refused: 8 accepts in this poll.
        assertEquals(7, set.rejectedConnections(), log.toString());
        set.poll();
        assertEquals(waiting - 1, set.rejectedConnections(), "the rest in the next poll");
        assertEquals(waiting - 1, log.stream().filter(line -> line.contains("refused a second client")).count());
    }
}
