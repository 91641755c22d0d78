package io.pagewire.dataplane.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The OS pieces memif needs: sealed memfds, detaching a mapping from its file, SOCK_SEQPACKET without blocking. */
@ExtendWith(NoFdLeaks.class)
class MemifOsTest
{
    private static final long PAGE = 4096;

    @Test
    void sealedMemfdCannotShrinkAndSaysSo()
    {
        final int sealed = Fds.memfdCreateSealed("sealed", 2 * PAGE);
        final int plain = Fds.memfdCreate("plain", PAGE);
        try (EventFd eventFd = EventFd.create())
        {
            assertTrue((Fds.seals(sealed) & Fds.SEAL_SHRINK) != 0);
            assertEquals(2 * PAGE, Fds.size(sealed));
            assertEquals(0, Fds.seals(plain) & Fds.SEAL_SHRINK, "memfd_create without sealing: no seals");
            assertEquals(-1, Fds.seals(eventFd.fd()), "an eventfd cannot carry seals");
            assertTrue(Fds.isRegularFile(sealed));
            assertFalse(Fds.isRegularFile(eventFd.fd()));
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment state = Libc.callState(arena);
                assertNotEquals(0, Libc.ftruncate(state, sealed, PAGE), "shrinking a sealed memfd fails");
                assertEquals(1, Libc.errno(state), "EPERM");
            }
            assertEquals(2 * PAGE, Fds.size(sealed));
        }
        finally
        {
            Fds.close(sealed);
            Fds.close(plain);
        }
    }

    @Test
    void detachedMappingKeepsItsAddressesButNoLongerSharesTheFile()
    {
        final int fd = Fds.memfdCreateSealed("detach", 2 * PAGE);
        try (Mapping a = Mapping.map(fd, 0, 2 * PAGE); Mapping b = Mapping.map(fd, 0, 2 * PAGE))
        {
            a.segment().set(ValueLayout.JAVA_LONG, PAGE, 42L);
            assertEquals(42L, b.segment().get(ValueLayout.JAVA_LONG, PAGE));
            a.detach();
            assertEquals(0L, a.segment().get(ValueLayout.JAVA_LONG, PAGE), "zero pages at the same address");
            a.segment().set(ValueLayout.JAVA_LONG, 0, 7L);
            assertEquals(7L, a.segment().get(ValueLayout.JAVA_LONG, 0), "and writable");
            assertEquals(0L, b.segment().get(ValueLayout.JAVA_LONG, 0), "writes no longer reach the file");
            assertEquals(42L, b.segment().get(ValueLayout.JAVA_LONG, PAGE));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void seqPacketKeepsMessageBoundariesNeverBlocksAndReportsTruncation() throws Exception
    {
        // Not Files.createTempDirectory: its SecureRandom opens /dev/random and /dev/urandom for good, which the
        // fd-leak check would count.
        final Path dir = Files.createDirectory(
            Path.of("/tmp/pw-seq-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
        final Path path = dir.resolve("s");
        final MemorySegment buffer = Arena.ofAuto().allocate(256, 8);
        final int[] fds = new int[2];
        try (UnixSocket listener = UnixSocket.listenSeqPacket(path))
        {
            assertNull(listener.tryAccept(), "nothing pending: null, not a wait");
            assertThrows(IllegalStateException.class, listener::accept,
                "a blocking accept on a non-blocking SOCK_SEQPACKET listener is refused, not turned into a stream");
            try (UnixSocket client = UnixSocket.connectSeqPacket(path); UnixSocket server = listener.tryAccept())
            {
                assertNotNull(server);
                assertTrue(server.isSeqPacket());
                assertEquals(UnixSocket.WOULD_BLOCK, server.receiveMessage(buffer.address(), 256, fds));
                buffer.fill((byte)1);
                client.send(buffer.address(), 100, fds, 0);
                buffer.fill((byte)2);
                final int memfd = Fds.memfdCreate("passed", PAGE);
                fds[0] = memfd;
                client.send(buffer.address(), 200, fds, 1);
                Fds.close(memfd);
                client.send(buffer.address(), 50, fds, 0);

                assertEquals(100, server.receiveMessage(buffer.address(), 256, fds), "one message per receive");
                assertFalse(server.lastMessageTruncated());
                assertEquals(0, server.lastFdCount());
                assertEquals(128, server.receiveMessage(buffer.address(), 128, fds));
                assertTrue(server.lastMessageTruncated(), "200 bytes into 128: truncated, and said so");
                assertEquals(1, server.lastFdCount());
                Fds.close(fds[0]);
                assertEquals(50, server.receiveMessage(buffer.address(), 256, fds), "the rest of 200 was dropped");
                assertEquals(UnixSocket.WOULD_BLOCK, server.receiveMessage(buffer.address(), 256, fds));
                client.close();
                assertEquals(0, server.receiveMessage(buffer.address(), 256, fds), "EOF");
            }
        }
        assertFalse(Files.exists(path));
        final OsException refused = assertThrows(OsException.class, () -> UnixSocket.connectSeqPacket(path));
        assertTrue(refused.getMessage().contains("ENOENT"), refused.getMessage());
        Files.delete(dir);
    }
}
