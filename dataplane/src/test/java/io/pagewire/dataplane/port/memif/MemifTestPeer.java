package io.pagewire.dataplane.port.memif;

import io.pagewire.dataplane.os.EventFd;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.UnixSocket;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A minimal memif peer for tests, written from memif.h rather than from pagewire's code: either role, one thread,
 * with the pagewire side driven by the test between steps ({@code set.poll()}). It lays its region out as DPDK's
 * client does and speaks the messages byte by byte, so tests can also send what DPDK never would.
 */
final class MemifTestPeer implements AutoCloseable
{
    private final ByteBuffer messageBytes = BufferUtil.allocateDirectAligned(256, 64);
    final UnsafeBuffer message = new UnsafeBuffer(messageBytes);
    private final int[] fds = new int[4];
    final List<Integer> receivedFds = new ArrayList<>();
    UnixSocket socket;
    UnixSocket listener;

    // Client-role region.
    int regionFd = -1;
    Mapping region;
    final List<EventFd> eventFds = new ArrayList<>();
    int pairs;
    int log2;
    int bufferSize;
    long buffersOffset;

    // Server-role: the client's region as mapped here.
    Mapping mappedRegion;

    /** Connects to a pagewire server. */
    static MemifTestPeer connect(final Path path)
    {
        final MemifTestPeer peer = new MemifTestPeer();
        peer.socket = UnixSocket.connectSeqPacket(path);
        return peer;
    }

    /** Listens for a pagewire client. */
    static MemifTestPeer listen(final Path path)
    {
        final MemifTestPeer peer = new MemifTestPeer();
        peer.listener = UnixSocket.listenSeqPacket(path);
        return peer;
    }

    boolean accept()
    {
        socket = listener.tryAccept();
        return socket != null;
    }

    // ------------------------------------------------------------------------------------------------ messages

    UnsafeBuffer begin(final int type)
    {
        message.setMemory(0, 256, (byte)0);
        message.putShort(TYPE_OFFSET, (short)type);
        return message;
    }

    void send(final int fd)
    {
        sendRaw(MESSAGE_LENGTH, fd);
    }

    void sendRaw(final int length, final int fd)
    {
        fds[0] = fd;
        assertEquals(length, socket.send(message.addressOffset(), length, fds, fd >= 0 ? 1 : 0));
    }

    /** @return the type of the next message, or -1 if none is waiting; the message stays in {@link #message}. */
    int receive()
    {
        final int n = socket.receiveMessage(message.addressOffset(), 256, fds);
        if (n == UnixSocket.WOULD_BLOCK)
        {
            return -1;
        }
        if (n == 0)
        {
            return 0x10000;
        }
        assertEquals(MESSAGE_LENGTH, n, "pagewire sends 128-byte messages");
        for (int i = 0; i < socket.lastFdCount(); i++)
        {
            receivedFds.add(fds[i]);
        }
        return message.getShort(TYPE_OFFSET) & 0xFFFF;
    }

    /** @return whether the socket reached EOF (pagewire closed it), after draining what was sent before. */
    boolean closedByPagewire()
    {
        int type;
        while ((type = receive()) != -1)
        {
            if (type == 0x10000)
            {
                return true;
            }
        }
        return false;
    }

    String string(final int offset, final int length)
    {
        final byte[] bytes = new byte[length];
        message.getBytes(offset, bytes);
        int end = 0;
        while (end < length && bytes[end] != 0)
        {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    void putString(final int offset, final String value)
    {
        message.putBytes(offset, value.getBytes(StandardCharsets.US_ASCII));
    }

    // ------------------------------------------------------------------------------------------ client role

    /** Makes a sealed region laid out as DPDK's client does: S2M rings, M2S rings, then buffers. */
    void createRegion(final int pairs, final int log2, final int bufferSize)
    {
        this.pairs = pairs;
        this.log2 = log2;
        this.bufferSize = bufferSize;
        final long length = MemifNicPortSet.clientRegionLength(pairs, log2, bufferSize);
        regionFd = Fds.memfdCreateSealed("test_region", length);
        region = Mapping.map(regionFd, 0, length);
        buffersOffset = 2L * pairs * ringLength(log2);
        final UnsafeBuffer r = regionBuffer();
        for (int ring = 0; ring < 2 * pairs; ring++)
        {
            final int base = (int)(ring * ringLength(log2));
            r.putInt(base + RING_COOKIE_OFFSET, COOKIE);
            for (int slot = 0; slot < (1 << log2); slot++)
            {
                final int desc = base + RING_HEADER_LENGTH + slot * DESC_LENGTH;
                r.putShort(desc + DESC_REGION_OFFSET, (short)0);
                r.putInt(desc + DESC_OFFSET_OFFSET, (int)bufferOffset(ring, slot));
                r.putInt(desc + DESC_LENGTH_OFFSET, bufferSize);
            }
            eventFds.add(EventFd.create());
        }
    }

    UnsafeBuffer regionBuffer()
    {
        return new UnsafeBuffer(region.address(), (int)region.length());
    }

    long bufferOffset(final int ring, final int slot)
    {
        return buffersOffset + ((long)ring * (1 << log2) + slot) * bufferSize;
    }

    /** @return offset in the region of ring {@code ring} (S2M 0..pairs-1, then M2S). */
    int ringOffset(final int ring)
    {
        return (int)(ring * ringLength(log2));
    }

    void sendInit(final int version, final int id)
    {
        begin(MSG_INIT);
        message.putShort(INIT_VERSION_OFFSET, (short)version);
        message.putInt(INIT_ID_OFFSET, id);
        message.putByte(INIT_MODE_OFFSET, (byte)MODE_ETHERNET);
        putString(INIT_NAME_OFFSET, "test peer");
        send(-1);
    }

    void sendAddRegion(final int index, final long size, final int fd)
    {
        begin(MSG_ADD_REGION);
        message.putShort(ADD_REGION_INDEX_OFFSET, (short)index);
        message.putLong(ADD_REGION_SIZE_OFFSET, size);
        send(fd);
    }

    void sendAddRing(final boolean s2m, final int index, final int regionIndex, final long offset, final int log2Size,
        final int fd)
    {
        begin(MSG_ADD_RING);
        message.putShort(ADD_RING_FLAGS_OFFSET, (short)(s2m ? ADD_RING_FLAG_S2M : 0));
        message.putShort(ADD_RING_INDEX_OFFSET, (short)index);
        message.putShort(ADD_RING_REGION_OFFSET, (short)regionIndex);
        message.putInt(ADD_RING_OFFSET_OFFSET, (int)offset);
        message.putByte(ADD_RING_LOG2_RING_SIZE_OFFSET, (byte)log2Size);
        send(fd);
    }

    void sendConnect()
    {
        begin(MSG_CONNECT);
        putString(IF_NAME_OFFSET, "test_if");
        send(-1);
    }

    /**
     * Client: writes one frame on S2M ring {@code pair} from index {@code head}, chained over buffers of
     * {@link #bufferSize} when longer than one (does not publish head).
     *
     * @return descriptors used.
     */
    int writeS2m(final int pair, final int head, final byte[] frame)
    {
        return writeChain(regionBuffer(), ringOffset(pair), log2, head, frame, bufferSize);
    }

    /**
     * Writes one frame as the producer of a ring does, into the buffers its descriptors name (region 0 offsets):
     * {@code segment} bytes per descriptor, NEXT on all but the last, as DPDK's {@code eth_memif_tx} chains.
     *
     * @param region the ring's region as mapped here.
     * @param ring   offset of the ring in it.
     * @param log2   the ring's log2 size.
     * @param head   index of the first descriptor to write.
     * @return descriptors used (the producer's index moves by this much; not published here).
     */
    static int writeChain(
        final UnsafeBuffer region, final int ring, final int log2, final int head, final byte[] frame, final int segment)
    {
        final int mask = (1 << log2) - 1;
        int used = 0;
        int offset = 0;
        do
        {
            final int desc = ring + RING_HEADER_LENGTH + ((head + used) & mask) * DESC_LENGTH;
            final int length = Math.min(segment, frame.length - offset);
            region.putBytes(region.getInt(desc + DESC_OFFSET_OFFSET), frame, offset, length);
            region.putInt(desc + DESC_LENGTH_OFFSET, length);
            offset += length;
            region.putShort(desc + DESC_FLAGS_OFFSET, (short)(offset < frame.length ? DESC_FLAG_NEXT : 0));
            used++;
        }
        while (offset < frame.length);
        return used;
    }

    /**
     * Reads one frame as the consumer of a ring does: from descriptor {@code from}, following NEXT (at most a ring).
     *
     * @param descriptors receives, at index 0, the descriptors the frame took.
     * @return the frame.
     */
    static byte[] readChain(
        final UnsafeBuffer region, final int ring, final int log2, final int from, final int[] descriptors)
    {
        final int mask = (1 << log2) - 1;
        final java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        int used = 0;
        int flags;
        do
        {
            assertTrue(used < 1 << log2, "a chain ends within the ring");
            final int desc = ring + RING_HEADER_LENGTH + ((from + used) & mask) * DESC_LENGTH;
            final byte[] bytes = new byte[region.getInt(desc + DESC_LENGTH_OFFSET)];
            region.getBytes(region.getInt(desc + DESC_OFFSET_OFFSET), bytes);
            frame.writeBytes(bytes);
            flags = region.getShort(desc + DESC_FLAGS_OFFSET);
            used++;
        }
        while ((flags & DESC_FLAG_NEXT) != 0);
        descriptors[0] = used;
        return frame.toByteArray();
    }

    UnsafeBuffer ring(final int ring)
    {
        return new UnsafeBuffer(region.address() + ringOffset(ring), (int)ringLength(log2));
    }

    @Override
    public void close()
    {
        if (socket != null)
        {
            socket.close();
        }
        if (listener != null)
        {
            listener.close();
        }
        for (final EventFd e : eventFds)
        {
            e.close();
        }
        if (region != null)
        {
            region.close();
        }
        if (mappedRegion != null)
        {
            mappedRegion.close();
        }
        Fds.closeQuietly(regionFd);
        for (final int fd : receivedFds)
        {
            Fds.closeQuietly(fd);
        }
    }
}
