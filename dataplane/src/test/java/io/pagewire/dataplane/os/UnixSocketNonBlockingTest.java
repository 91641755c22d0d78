package io.pagewire.dataplane.os;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The non-blocking stream calls a control thread serving hostile frontends relies on: a connect to a listener whose
 * backlog is full, a receive with nothing there, a send into a full buffer each return at once.
 */
class UnixSocketNonBlockingTest
{
    @TempDir
    Path temp;

    private final UnsafeBuffer buffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final int[] fds = new int[UnixSocket.MAX_FDS];

    @Test
    void connectToAListenerWhoseBacklogIsFullFailsAtOnceWithEagain()
    {
        final Path path = temp.resolve("full.sock");
        final List<UnixSocket> pending = new ArrayList<>();
        try (UnixSocket listener = UnixSocket.listen(path))
        {
            OsException full = null;
            // A blocking connect would sleep here until the listener accepts, which it never does.
            for (int i = 0; i < 64 && full == null; i++)
            {
                try
                {
                    pending.add(UnixSocket.connectNonBlocking(path));
                }
                catch (final OsException e)
                {
                    full = e;
                }
            }
            assertNotNull(full, "the backlog filled up within 64 connections");
            assertEquals(11, full.errno(), full.getMessage());
            assertTrue(full.getMessage().contains(path.toString()), full.getMessage());

            // Once the listener takes one, the next connect goes through.
            assertTrue(listener.awaitReadable(0));
            try (UnixSocket accepted = listener.tryAccept())
            {
                assertNotNull(accepted);
                pending.add(UnixSocket.connectNonBlocking(path));
            }
        }
        finally
        {
            pending.forEach(UnixSocket::close);
        }
    }

    @Test
    void tryReceiveAndTrySendNeverWait()
    {
        final Path path = temp.resolve("pair.sock");
        try (UnixSocket listener = UnixSocket.listen(path);
             UnixSocket client = UnixSocket.connectNonBlocking(path))
        {
            assertTrue(listener.awaitReadable(1000));
            try (UnixSocket server = listener.tryAccept())
            {
                assertEquals(UnixSocket.WOULD_BLOCK, server.tryReceive(buffer.addressOffset(), 16, fds));
                assertEquals(0, server.lastFdCount());

                final EventFd event = EventFd.create();
                try
                {
                    buffer.putInt(0, 0x1234_5678);
                    assertEquals(4, client.trySend(buffer.addressOffset(), 4, new int[] {event.fd()}, 1));
                }
                finally
                {
                    event.close();
                }
                buffer.putInt(0, 0);
                // Two bytes of four: the rest stays for the next call, the fd comes with the first.
                assertEquals(2, server.tryReceive(buffer.addressOffset(), 2, fds));
                assertEquals(1, server.lastFdCount());
                Fds.closeQuietly(fds[0]);
                assertEquals(2, server.tryReceive(buffer.addressOffset() + 2, 2, fds));
                assertEquals(0, server.lastFdCount());
                assertEquals(0x1234_5678, buffer.getInt(0));
                assertEquals(UnixSocket.WOULD_BLOCK, server.tryReceive(buffer.addressOffset(), 16, fds));

                // The peer never reads: the buffer fills, and then a send says so instead of waiting.
                int sends = 0;
                int sent;
                while ((sent = server.trySend(buffer.addressOffset(), 64, fds, 0)) == 64)
                {
                    sends++;
                    assertTrue(sends < 1_000_000, "the socket buffer never filled");
                }
                assertTrue(sends > 0);
                assertTrue(sent == UnixSocket.WOULD_BLOCK || (sent >= 0 && sent < 64), "sent " + sent);

                client.close();
                assertThrows(OsException.class, () ->
                {
                    while (true)
                    {
                        server.trySend(buffer.addressOffset(), 64, fds, 0);
                    }
                }, "EPIPE once the peer is gone");
            }
        }
    }
}
