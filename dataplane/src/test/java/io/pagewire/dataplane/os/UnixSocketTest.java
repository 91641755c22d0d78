package io.pagewire.dataplane.os;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real AF_UNIX sockets at paths in a temporary directory (no socketpair): a listener, a client connected to it and
 * the server side accepted from it. Every test also checks that it leaves no fd open ({@link NoFdLeaks}).
 */
@ExtendWith(NoFdLeaks.class)
class UnixSocketTest
{
    private static final long PAGE = 4096;

    @TempDir
    Path dir;

    private Arena arena;
    private MemorySegment out;
    private MemorySegment in;
    private final int[] fdsOut = new int[UnixSocket.MAX_FDS];

    /**
     * The first JDK unix-domain channel opens descriptors the JDK keeps for good (its pre-close socket, /dev/random
     * for temporary names); done once here so {@link NoFdLeaks} sees only this class's descriptors.
     */
    @BeforeAll
    static void initialiseJdkUnixDomainChannels(@TempDir final Path warmup) throws Exception
    {
        try (ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            channel.bind(UnixDomainSocketAddress.of(warmup.resolve("warmup.sock")));
        }
    }

    @BeforeEach
    void buffers()
    {
        arena = Arena.ofShared();
        out = arena.allocate(4096);
        in = arena.allocate(4096);
    }

    @AfterEach
    void freeBuffers()
    {
        arena.close();
    }

    /** A listener at dir/name, a client connected to it, and the server end accepted from it. */
    private record Connection(UnixSocket listener, UnixSocket client, UnixSocket server) implements AutoCloseable
    {
        @Override
        public void close()
        {
            server.close();
            client.close();
            listener.close();
        }
    }

    private Connection connect(final String name)
    {
        final Path path = dir.resolve(name);
        final UnixSocket listener = UnixSocket.listen(path);
        final UnixSocket client = UnixSocket.connect(path);
        return new Connection(listener, client, listener.accept());
    }

    private void fill(final MemorySegment segment, final int length, final int seed)
    {
        for (int i = 0; i < length; i++)
        {
            segment.set(ValueLayout.JAVA_BYTE, i, (byte)(seed + i * 31));
        }
    }

    @Test
    void listenConnectAcceptThenPayloadBothWays()
    {
        final Path path = dir.resolve("basic.sock");
        try (Connection c = connect("basic.sock"))
        {
            assertTrue(Files.exists(path));
            fill(out, 100, 7);
            assertEquals(100, c.client.send(out.address(), 100, null, 0));
            assertEquals(100, c.server.receive(in.address(), 4096, fdsOut));
            assertEquals(0, c.server.lastFdCount());
            assertEquals(-1, in.asSlice(0, 100).mismatch(out.asSlice(0, 100)));

            fill(out, 33, 99);
            assertEquals(33, c.server.send(out.address(), 33, null, 0));
            assertEquals(33, c.client.receive(in.address(), 4096, fdsOut));
            assertEquals(-1, in.asSlice(0, 33).mismatch(out.asSlice(0, 33)));
        }
        assertFalse(Files.exists(path), "closing the listener removes its path");
    }

    @Test
    void passesOneFd() throws Exception
    {
        passesFds(1);
    }

    @Test
    void passesThreeFds() throws Exception
    {
        passesFds(3);
    }

    @Test
    void passesMaxFds() throws Exception
    {
        passesFds(UnixSocket.MAX_FDS);
    }

    /**
     * Sends n memfds of distinct sizes; each received fd is a new descriptor, close-on-exec, for the same memory:
     * bytes written through a mapping of the sent fd are read through a mapping of the received one, and back.
     */
    private void passesFds(final int n) throws Exception
    {
        final int[] sent = new int[n];
        try (Connection c = connect("fds.sock"))
        {
            for (int i = 0; i < n; i++)
            {
                sent[i] = Fds.memfdCreate("region-" + i, (i + 1) * PAGE);
            }
            fill(out, 12, 1);
            assertEquals(12, c.client.send(out.address(), 12, sent, n));
            Arrays.fill(fdsOut, -1);
            assertEquals(12, c.server.receive(in.address(), 4096, fdsOut));
            assertEquals(n, c.server.lastFdCount());
            assertEquals(-1, in.asSlice(0, 12).mismatch(out.asSlice(0, 12)));
            for (int i = 0; i < n; i++)
            {
                final int received = fdsOut[i];
                assertTrue(received >= 0);
                for (final int s : sent)
                {
                    assertNotEquals(s, received, "a new descriptor, not the sender's number");
                }
                assertEquals((i + 1) * PAGE, Fds.size(received), "fd " + i + " in order");
                assertEquals(02000000, EventFdTest.fdinfoFlags(received) & 02000000, "MSG_CMSG_CLOEXEC");
                try (Mapping mine = Mapping.map(sent[i], 0, PAGE); Mapping theirs = Mapping.map(received, 0, PAGE))
                {
                    mine.segment().set(ValueLayout.JAVA_LONG, 64, 0xC0FFEE00L + i);
                    assertEquals(0xC0FFEE00L + i, theirs.segment().get(ValueLayout.JAVA_LONG, 64));
                    theirs.segment().set(ValueLayout.JAVA_INT, 0, -i);
                    assertEquals(-i, mine.segment().get(ValueLayout.JAVA_INT, 0));
                }
            }
        }
        finally
        {
            for (final int fd : sent)
            {
                Fds.closeQuietly(fd);
            }
            for (int i = 0; i < n; i++)
            {
                Fds.closeQuietly(fdsOut[i]);
            }
        }
    }

    @Test
    void eventfdsPassedOverTheSocketSignalEachOther()
    {
        try (Connection c = connect("kick.sock"); EventFd kick = EventFd.create())
        {
            c.client.send(out.address(), 1, new int[]{kick.fd()}, 1);
            c.server.receive(in.address(), 1, fdsOut);
            assertEquals(1, c.server.lastFdCount());
            try (EventFd received = EventFd.wrap(fdsOut[0]))
            {
                kick.signal();
                kick.signal();
                assertEquals(2, received.drain());
                received.signal();
                assertEquals(1, kick.drain());
            }
        }
    }

    @Test
    void tooManyFdsForTheControlBufferIsMsgCtruncClosesWhatArrivedAndSaysSo()
    {
        final int[] sent = new int[3];
        try (Connection c = connect("ctrunc.sock"))
        {
            for (int i = 0; i < sent.length; i++)
            {
                sent[i] = Fds.memfdCreate("ctrunc-" + i, PAGE);
            }
            final int before = Fds.openFdCount();
            c.client.send(out.address(), 8, sent, 3);
            // Room for 2 (odd counts also check msg_controllen = CMSG_LEN: CMSG_SPACE(4) would fit a second fd).
            for (final int room : new int[]{2, 1, 0})
            {
                final int[] small = new int[room];
                final OsException e =
                    assertThrows(OsException.class, () -> c.server.receive(in.address(), 8, small));
                assertEquals(0, e.errno());
                assertTrue(e.getMessage().startsWith("recvmsg: control data truncated (MSG_CTRUNC)"), e.getMessage());
                assertTrue(e.getMessage().contains("the peer sent more fds than the " + room + " there was room for"),
                    e.getMessage());
                assertEquals(before, Fds.openFdCount(), "the fds that did arrive were closed (room " + room + ")");
                assertEquals(0, c.server.lastFdCount());
                c.client.send(out.address(), 8, sent, 3);
            }
            // The control buffer sized for MAX_FDS takes the same message whole.
            assertEquals(8, c.server.receive(in.address(), 8, fdsOut));
            assertEquals(3, c.server.lastFdCount());
            for (int i = 0; i < 3; i++)
            {
                Fds.close(fdsOut[i]);
            }
        }
        finally
        {
            for (final int fd : sent)
            {
                Fds.closeQuietly(fd);
            }
        }
    }

    @Test
    void eofIsZeroAndReceiveFullyFalse()
    {
        try (Connection c = connect("eof.sock"))
        {
            c.client.close();
            assertTrue(c.server.awaitReadable(1000), "hang-up is readable");
            assertEquals(0, c.server.receive(in.address(), 16, fdsOut));
            assertFalse(c.server.receiveFully(in.address(), 16, fdsOut));
            assertEquals(0, c.server.lastFdCount());
        }
    }

    @Test
    void receiveFullyJoinsTwoSendsAndKeepsTheFirstChunksFds() throws Exception
    {
        final int memfd = Fds.memfdCreate("header-fd", 2 * PAGE);
        try (Connection c = connect("fully.sock"))
        {
            fill(out, 12, 5);
            // Header part with the fd; the kernel ends a recvmsg after bytes that carried fds, so this takes two.
            c.client.send(out.address(), 5, new int[]{memfd}, 1);
            final CompletableFuture<Boolean> result =
                CompletableFuture.supplyAsync(() -> c.server.receiveFully(in.address(), 12, fdsOut));
            Thread.sleep(50);
            assertFalse(result.isDone(), "still waiting for the other 7 bytes");
            c.client.send(out.address() + 5, 7, null, 0);
            assertTrue(result.get(5, TimeUnit.SECONDS));
            assertEquals(1, c.server.lastFdCount());
            assertEquals(-1, in.asSlice(0, 12).mismatch(out.asSlice(0, 12)));
            assertEquals(2 * PAGE, Fds.size(fdsOut[0]));
            Fds.close(fdsOut[0]);
        }
        finally
        {
            Fds.close(memfd);
        }
    }

    @Test
    void receiveFullyAppendsFdsThatComeWithALaterChunk()
    {
        final int first = Fds.memfdCreate("first", PAGE);
        final int second = Fds.memfdCreate("second", 2 * PAGE);
        try (Connection c = connect("later.sock"))
        {
            c.client.send(out.address(), 4, new int[]{first}, 1);
            c.client.send(out.address() + 4, 4, null, 0);
            c.client.send(out.address() + 8, 4, new int[]{second}, 1);
            assertTrue(c.server.receiveFully(in.address(), 12, fdsOut));
            assertEquals(2, c.server.lastFdCount());
            assertEquals(PAGE, Fds.size(fdsOut[0]));
            assertEquals(2 * PAGE, Fds.size(fdsOut[1]));
            Fds.close(fdsOut[0]);
            Fds.close(fdsOut[1]);
        }
        finally
        {
            Fds.close(first);
            Fds.close(second);
        }
    }

    @Test
    void receiveFullyCutShortByEofIsAnErrorAndClosesTheFdsItGot()
    {
        final int memfd = Fds.memfdCreate("cut", PAGE);
        try (Connection c = connect("cut.sock"))
        {
            final int before = Fds.openFdCount();
            c.client.send(out.address(), 5, new int[]{memfd}, 1);
            c.client.shutdown();
            final OsException e =
                assertThrows(OsException.class, () -> c.server.receiveFully(in.address(), 12, fdsOut));
            assertEquals(0, e.errno());
            assertTrue(e.getMessage().endsWith("the peer closed the connection after 5 of 12 bytes"), e.getMessage());
            assertEquals(before, Fds.openFdCount(), "the fd that came with the 5 bytes was closed");
        }
        finally
        {
            Fds.close(memfd);
        }
    }

    @Test
    void awaitReadableTimesOutThenSeesData()
    {
        try (Connection c = connect("poll.sock"))
        {
            final long start = System.nanoTime();
            assertFalse(c.server.awaitReadable(100));
            final long waitedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(waitedMs >= 90, "waited " + waitedMs + " ms");
            assertFalse(c.server.awaitReadable(0));
            c.client.send(out.address(), 1, null, 0);
            assertTrue(c.server.awaitReadable(5000));
            assertTrue(c.server.awaitReadable(0), "still readable until received");
            assertEquals(1, c.server.receive(in.address(), 1, fdsOut));
            assertFalse(c.server.awaitReadable(0));
        }
    }

    @Test
    void shutdownWakesABlockedReceiver() throws Exception
    {
        try (Connection c = connect("wake.sock"))
        {
            final CompletableFuture<Integer> received = CompletableFuture.supplyAsync(
                () -> c.server.receive(in.address(), 16, fdsOut), Thread::startVirtualThread);
            Thread.sleep(100);
            assertFalse(received.isDone(), "blocked in recvmsg");
            c.server.shutdown();
            assertEquals(0, received.get(5, TimeUnit.SECONDS), "EOF after shutdown");
            assertEquals(0, c.client.receive(in.address(), 16, fdsOut), "the peer sees EOF too");
            c.server.shutdown();
        }
    }

    @Test
    void shutdownWakesABlockedAccept() throws Exception
    {
        try (UnixSocket listener = UnixSocket.listen(dir.resolve("accept.sock")))
        {
            final CompletableFuture<UnixSocket> accepted = CompletableFuture.supplyAsync(listener::accept);
            Thread.sleep(100);
            assertFalse(accepted.isDone(), "blocked in accept");
            listener.shutdown();
            final Throwable e = assertThrows(Exception.class, () -> accepted.get(5, TimeUnit.SECONDS)).getCause();
            assertInstanceOf(OsException.class, e);
            assertEquals(22, ((OsException)e).errno());
            assertTrue(e.getMessage().endsWith("errno 22 (EINVAL): the socket was shut down"), e.getMessage());
        }
    }

    @Test
    void sendingToAClosedPeerIsEpipe()
    {
        try (Connection c = connect("pipe.sock"))
        {
            c.server.close();
            final OsException e =
                assertThrows(OsException.class, () -> c.client.send(out.address(), 10, null, 0));
            assertEquals(32, e.errno());
            assertTrue(e.getMessage().startsWith("sendmsg(" + dir.resolve("pipe.sock") + "): errno 32 (EPIPE)"),
                e.getMessage());
        }
    }

    @Test
    void listenReplacesAStaleSocketFile() throws Exception
    {
        final Path path = dir.resolve("stale.sock");
        // A JDK server channel leaves its socket file behind when closed, like a crashed process.
        try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            gone.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path));
        final OsException refused = assertThrows(OsException.class, () -> UnixSocket.connect(path));
        assertEquals("connect(" + path + "): errno 111 (ECONNREFUSED)", refused.getMessage());
        try (UnixSocket listener = UnixSocket.listen(path);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept())
        {
            client.send(out.address(), 3, null, 0);
            assertEquals(3, server.receive(in.address(), 3, fdsOut));
        }
        assertFalse(Files.exists(path));
    }

    @Test
    void listenRefusesToRemoveARegularFile() throws Exception
    {
        final Path path = dir.resolve("precious.txt");
        Files.writeString(path, "not a socket");
        final OsException e = assertThrows(OsException.class, () -> UnixSocket.listen(path));
        assertEquals(98, e.errno());
        assertEquals("bind(" + path + "): errno 98 (EADDRINUSE): the path exists and is a regular file, " +
            "not a socket; not removing it", e.getMessage());
        assertEquals("not a socket", Files.readString(path));
    }

    @Test
    void closeDoesNotRemoveAFileThatReplacedTheSocket() throws Exception
    {
        final Path path = dir.resolve("replaced.sock");
        final UnixSocket listener = UnixSocket.listen(path);
        Files.delete(path);
        Files.writeString(path, "someone else's");
        listener.close();
        assertEquals("someone else's", Files.readString(path));
    }

    @Test
    void connectToNothingNamesThePathAndErrno()
    {
        final Path path = dir.resolve("nobody.sock");
        final OsException e = assertThrows(OsException.class, () -> UnixSocket.connect(path));
        assertEquals("connect(" + path + "): errno 2 (ENOENT)", e.getMessage());
    }

    @Test
    void aPathLongerThanSunPathIsRefused()
    {
        final Path path = dir.resolve("x".repeat(120));
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(path));
        assertTrue(e.getMessage().contains("must be 1..107 (sun_path[108] with its NUL)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> UnixSocket.connect(path));
    }

    @Test
    void sendArgumentsAreChecked()
    {
        try (Connection c = connect("args.sock"))
        {
            final int[] one = {0};
            assertTrue(assertThrows(IllegalArgumentException.class, () -> c.client.send(out.address(), 0, one, 1))
                .getMessage().contains("fds need at least one payload byte"));
            assertThrows(IllegalArgumentException.class,
                () -> c.client.send(out.address(), 1, new int[40], UnixSocket.MAX_FDS + 1));
            assertThrows(IllegalArgumentException.class, () -> c.client.send(out.address(), 1, one, 2));
            assertThrows(IllegalArgumentException.class, () -> c.server.receive(in.address(), 0, fdsOut));
            assertThrows(IllegalStateException.class, c.client::accept);
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseIsRefused()
    {
        final Connection c = connect("close.sock");
        c.close();
        c.close();
        assertThrows(IllegalStateException.class, () -> c.client.send(out.address(), 1, null, 0));
        assertThrows(IllegalStateException.class, () -> c.server.receive(in.address(), 1, fdsOut));
        assertThrows(IllegalStateException.class, c.listener::accept);
        c.server.shutdown();
    }
}
