package io.pagewire.dataplane.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A Linux {@code AF_PACKET} socket bound to one network interface, with a {@code TPACKET_V3} receive ring and a
 * {@code TPACKET_V3} transmit ring mapped in one {@code mmap} (packet(7), Documentation/networking/packet_mmap.rst):
 * the receive ring first ({@code rxBlockSize * rxBlockCount} bytes), the transmit ring right after it. What the rings
 * hold is read and written by {@code io.pagewire.dataplane.port.afpacket.TpacketV3RxRing} / {@code TpacketTxRing}; this class
 * only sets them up, kicks the transmit ring and reads the socket's statistics.
 * <p>
 * Setup, in this order (each step's failure is an {@link OsException} naming the step and the interface):
 * <ol>
 *   <li>{@code if_nametoindex(interface)}: {@code ENODEV} is reported as "no such interface";</li>
 *   <li>{@code socket(AF_PACKET, SOCK_RAW, 0)}: protocol 0 so nothing is queued before the rings exist
 *       ({@code EPERM} without {@code CAP_NET_RAW});</li>
 *   <li>{@code PACKET_VERSION = TPACKET_V3}, {@code PACKET_VNET_HDR} if asked; not {@code PACKET_LOSS}: with it
 *       the kernel's {@code tpacket_snd} skips a transmit frame it refuses (longer than the MTU, a virtio_net_hdr it
 *       rejects, shorter than the link header), makes its slot available again and counts it nowhere, so the frame
 *       would be lost without a trace. Without it the kernel leaves such a slot {@code TP_STATUS_WRONG_FORMAT} and
 *       stops there, and the ring's producer counts and drops it ({@code TpacketTxRing.reap}). The alternative,
 *       comparing a kick's byte count with the frames requested, fails exactly when it is needed: a kick that ends
 *       with an error (a qdisc drop it retries) returns the error, not the bytes it sent before;</li>
 *   <li>{@code PACKET_RX_RING} and {@code PACKET_TX_RING} ({@code struct tpacket_req3}; the kernel requires a V3
 *       transmit ring's retire timeout, private size and feature word to be 0), then one {@code mmap} of both;</li>
 *   <li>{@code PACKET_IGNORE_OUTGOING = 1} so frames this socket transmits do not come back on its receive ring;</li>
 *   <li>{@code bind} to the interface with protocol {@code ETH_P_ALL}, then
 *       {@code PACKET_ADD_MEMBERSHIP(PACKET_MR_PROMISC)} if asked (the kernel drops it when the socket closes);</li>
 *   <li>{@code SIOCGIFMTU}, so the port can refuse frames the kernel would reject;</li>
 *   <li>the send buffer sized to the transmit ring ({@link #sizeSendBuffer}): {@code SO_SNDBUFFORCE}, else
 *       {@code SO_SNDBUF}, read back with {@code getsockopt}. This step never fails the open: a refused or capped
 *       size is reported by {@link #sendBufferNote()}.</li>
 * </ol>
 * Why the send buffer: every frame the kernel takes off the transmit ring is charged, whole, to the socket's write
 * memory until its skb is freed (sent, or dropped), and a kick ({@code tpacket_snd}) stops walking the ring as soon
 * as the next skb would not fit ({@code sock_alloc_send_skb} refuses), leaving the remaining frames marked
 * {@code TP_STATUS_SEND_REQUEST} until the next kick. The default ({@code net.core.wmem_default}, 208 KiB) holds
 * three 64 KiB vnet_hdr slots; a buffer as large as the ring lets one kick send the whole ring.
 * <pre>
 * struct tpacket_req3 (28)          struct sockaddr_ll (20)          struct packet_mreq (16)
 *   0 u32 tp_block_size               0 u16 sll_family = AF_PACKET     0 int mr_ifindex
 *   4 u32 tp_block_nr                 2 u16 sll_protocol (big-endian)  4 u16 mr_type = PACKET_MR_PROMISC
 *   8 u32 tp_frame_size               4 int sll_ifindex                6 u16 mr_alen
 *  12 u32 tp_frame_nr                 8 u16 sll_hatype                 8 u8  mr_address[8]
 *  16 u32 tp_retire_blk_tov          10 u8  sll_pkttype
 *  20 u32 tp_sizeof_priv             11 u8  sll_halen                struct tpacket_stats_v3 (12)
 *  24 u32 tp_feature_req_word        12 u8  sll_addr[8]                0 u32 tp_packets
 *                                                                      4 u32 tp_drops
 * struct ifreq (40): ifr_name[16], then the union (int ifr_mtu at 16)  8 u32 tp_freeze_q_cnt
 * </pre>
 * Threading: {@link #kick()} is for the one thread that produces on the transmit ring and allocates nothing;
 * {@link #readStatistics} is for one (control) thread; {@link #close()} after both stopped.
 */
public final class PacketSocket implements AutoCloseable
{
    static final int AF_PACKET = 17;
    static final int SOCK_RAW = 3;
    static final int SOL_PACKET = 263;
    static final int ETH_P_ALL = 0x0003;
    static final int PACKET_ADD_MEMBERSHIP = 1;
    static final int PACKET_MR_PROMISC = 1;
    static final int PACKET_RX_RING = 5;
    static final int PACKET_STATISTICS = 6;
    static final int PACKET_VERSION = 10;
    static final int PACKET_TX_RING = 13;
    /** Not set (see the class comment): a refused transmit frame must stay visible to be counted. */
    static final int PACKET_LOSS = 14;
    static final int PACKET_VNET_HDR = 15;
    static final int PACKET_IGNORE_OUTGOING = 23;
    static final int TPACKET_V3 = 2;
    static final long SIOCGIFMTU = 0x8921;
    static final int IFNAMSIZ = 16;
    static final int SO_SNDBUF = 7;
    static final int SO_SNDBUFFORCE = 32;

    private static final int TPACKET_REQ3_LENGTH = 28;
    private static final int SOCKADDR_LL_LENGTH = 20;
    private static final int PACKET_MREQ_LENGTH = 16;
    private static final int IFREQ_LENGTH = 40;
    private static final int STATS_V3_LENGTH = 12;

    /**
     * What to ask the kernel for.
     *
     * @param interfaceName   the interface, at most 15 bytes.
     * @param rxBlockSize     bytes per receive block: a multiple of the page size (a power of two from 4096).
     * @param rxBlockCount    receive blocks.
     * @param rxFrameSize     the receive ring's nominal frame size (V3 packs frames of any size; the kernel only
     *                        checks it divides into blocks): a multiple of 16 from 64, at most rxBlockSize.
     * @param retireTimeoutMs ms after which the kernel hands over a partly filled block; 0 = the kernel's choice.
     * @param txBlockSize     bytes per transmit block: a multiple of the page size.
     * @param txBlockCount    transmit blocks.
     * @param txFrameSize     bytes per transmit frame slot, a multiple of 16, at most txBlockSize.
     * @param promiscuous     join {@code PACKET_MR_PROMISC}.
     * @param vnetHdr         {@code PACKET_VNET_HDR}: a 10-byte virtio_net_hdr before every frame, both ways.
     */
    public record Options(
        String interfaceName,
        int rxBlockSize,
        int rxBlockCount,
        int rxFrameSize,
        int retireTimeoutMs,
        int txBlockSize,
        int txBlockCount,
        int txFrameSize,
        boolean promiscuous,
        boolean vnetHdr)
    {
        /**
         * @return frames per transmit block.
         */
        public int txFramesPerBlock()
        {
            return txBlockSize / txFrameSize;
        }

        /**
         * @return bytes of the receive ring.
         */
        public long rxRingLength()
        {
            return (long)rxBlockSize * rxBlockCount;
        }

        /**
         * @return bytes of the transmit ring.
         */
        public long txRingLength()
        {
            return (long)txBlockSize * txBlockCount;
        }
    }

    private final Options options;
    private final int fd;
    private final int ifindex;
    private final int mtu;
    private final Mapping rings;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MemorySegment kickState;
    private final MemorySegment statsState;
    private final MemorySegment stats;
    private final MemorySegment statsLength;
    private int sendBuffer;
    private String sendBufferNote = "";

    private PacketSocket(final Options options, final int fd, final int ifindex, final int mtu, final Mapping rings)
    {
        this.options = options;
        this.fd = fd;
        this.ifindex = ifindex;
        this.mtu = mtu;
        this.rings = rings;
        final Arena arena = Arena.ofAuto();
        kickState = Libc.callState(arena);
        statsState = Libc.callState(arena);
        stats = arena.allocate(STATS_V3_LENGTH, 8);
        statsLength = arena.allocate(ValueLayout.JAVA_INT);
    }

    /**
     * @param ex a failure of {@link #open}.
     * @return whether it failed because the interface does not exist ({@code ENODEV}, {@code ENXIO}).
     */
    public static boolean isNoSuchInterface(final OsException ex)
    {
        return isNoSuchInterface(ex.errno());
    }

    private static boolean isNoSuchInterface(final int errno)
    {
        return errno == Libc.ENODEV || errno == Libc.ENXIO;
    }

    /**
     * Opens, sets up and binds the socket and maps its rings (see the class comment for the steps).
     *
     * @param options what to ask for.
     * @return the bound socket.
     * @throws IllegalArgumentException when the interface name is empty or longer than 15 bytes.
     * @throws OsException              when a step fails; its message names the step and the interface, its
     *                                  {@link OsException#errno()} says why (ENODEV: no such interface).
     */
    public static PacketSocket open(final Options options)
    {
        final String name = options.interfaceName();
        final byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        if (nameBytes.length == 0 || nameBytes.length >= IFNAMSIZ)
        {
            throw new IllegalArgumentException("interface name \"" + name + "\": must be 1.." + (IFNAMSIZ - 1) +
                " bytes");
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment cName = arena.allocate(IFNAMSIZ);
            cName.copyFrom(MemorySegment.ofArray(nameBytes));
            final int ifindex = Libc.ifNameToIndex(state, cName);
            if (ifindex == 0)
            {
                final int errno = Libc.errno(state);
                throw new OsException("if_nametoindex(" + name + ")", errno,
                    isNoSuchInterface(errno) ? "no such interface" : null);
            }
            final int fd = Libc.socket(state, AF_PACKET, SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                final int errno = Libc.errno(state);
                throw new OsException("socket(AF_PACKET, SOCK_RAW) for " + name, errno,
                    errno == Libc.EPERM ? "AF_PACKET needs CAP_NET_RAW (run as root or grant the capability)" : null);
            }
            Mapping rings = null;
            try
            {
                setInt(arena, state, fd, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION=TPACKET_V3", name);
                if (options.vnetHdr())
                {
                    setInt(arena, state, fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", name);
                }
                setRing(arena, state, fd, PACKET_RX_RING, options.rxBlockSize(), options.rxBlockCount(),
                    options.rxFrameSize(), options.retireTimeoutMs(), "PACKET_RX_RING", name);
                setRing(arena, state, fd, PACKET_TX_RING, options.txBlockSize(), options.txBlockCount(),
                    options.txFrameSize(), 0, "PACKET_TX_RING", name);
                rings = Mapping.map(fd, 0, options.rxRingLength() + options.txRingLength());
                setInt(arena, state, fd, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", name);

                final MemorySegment address = arena.allocate(SOCKADDR_LL_LENGTH, 8);
                address.set(ValueLayout.JAVA_SHORT, 0, (short)AF_PACKET);
                address.set(ValueLayout.JAVA_SHORT, 2, Short.reverseBytes((short)ETH_P_ALL));
                address.set(ValueLayout.JAVA_INT, 4, ifindex);
                if (Libc.bind(state, fd, address, SOCKADDR_LL_LENGTH) != 0)
                {
                    throw new OsException("bind(AF_PACKET, " + name + ")", Libc.errno(state));
                }
                if (options.promiscuous())
                {
                    final MemorySegment mreq = arena.allocate(PACKET_MREQ_LENGTH, 8);
                    mreq.set(ValueLayout.JAVA_INT, 0, ifindex);
                    mreq.set(ValueLayout.JAVA_SHORT, 4, (short)PACKET_MR_PROMISC);
                    if (Libc.setsockopt(state, fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, PACKET_MREQ_LENGTH) != 0)
                    {
                        throw new OsException("PACKET_ADD_MEMBERSHIP(PACKET_MR_PROMISC) on " + name,
                            Libc.errno(state));
                    }
                }
                final MemorySegment ifreq = arena.allocate(IFREQ_LENGTH, 8);
                ifreq.copyFrom(cName);
                if (Libc.ioctl(state, fd, SIOCGIFMTU, ifreq) != 0)
                {
                    throw new OsException("ioctl(SIOCGIFMTU, " + name + ")", Libc.errno(state));
                }
                final int mtu = ifreq.get(ValueLayout.JAVA_INT, IFNAMSIZ);
                final PacketSocket socket = new PacketSocket(options, fd, ifindex, mtu, rings);
                socket.sizeSendBuffer((int)Math.min(options.txRingLength(), Integer.MAX_VALUE / 2));
                return socket;
            }
            catch (final RuntimeException ex)
            {
                if (rings != null)
                {
                    rings.close();
                }
                Fds.closeQuietly(fd);
                throw ex;
            }
        }
    }

    private static void setInt(final Arena arena, final MemorySegment state, final int fd, final int option,
        final int value, final String what, final String name)
    {
        final MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
        v.set(ValueLayout.JAVA_INT, 0, value);
        if (Libc.setsockopt(state, fd, SOL_PACKET, option, v, Integer.BYTES) != 0)
        {
            throw new OsException("setsockopt(" + what + ") on " + name, Libc.errno(state));
        }
    }

    private static void setRing(final Arena arena, final MemorySegment state, final int fd, final int option,
        final int blockSize, final int blockCount, final int frameSize, final int retireTimeoutMs, final String what,
        final String name)
    {
        final MemorySegment req = arena.allocate(TPACKET_REQ3_LENGTH, 8);
        req.set(ValueLayout.JAVA_INT, 0, blockSize);
        req.set(ValueLayout.JAVA_INT, 4, blockCount);
        req.set(ValueLayout.JAVA_INT, 8, frameSize);
        req.set(ValueLayout.JAVA_INT, 12, (blockSize / frameSize) * blockCount);
        req.set(ValueLayout.JAVA_INT, 16, retireTimeoutMs);
        if (Libc.setsockopt(state, fd, SOL_PACKET, option, req, TPACKET_REQ3_LENGTH) != 0)
        {
            throw new OsException("setsockopt(" + what + ", block size " + blockSize + " x " + blockCount +
                ", frame size " + frameSize + ") on " + name, Libc.errno(state));
        }
    }

    /**
     * Sizes the socket's send buffer: {@code SO_SNDBUFFORCE} first (needs {@code CAP_NET_ADMIN}; not capped by
     * {@code net.core.wmem_max}), else {@code SO_SNDBUF} (which the kernel silently caps at
     * {@code net.core.wmem_max}), then reads back the size in force. The kernel doubles what it is given for its
     * bookkeeping, and the read-back shows the doubled value; that margin covers each frame's skb overhead beyond
     * its slot. Never throws for a refused size: the socket keeps what it had and {@link #sendBufferNote()} says
     * why. Setup (or test) time only, not for the dataplane's path.
     *
     * @param bytes the size to ask for (open asks for the transmit ring's length).
     * @return the size in force ({@code getsockopt(SO_SNDBUF)}), also {@link #sendBuffer()}.
     */
    public int sizeSendBuffer(final int bytes)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = Libc.callState(arena);
            final MemorySegment value = arena.allocate(ValueLayout.JAVA_INT);
            value.set(ValueLayout.JAVA_INT, 0, bytes);
            String how = "SO_SNDBUFFORCE";
            if (Libc.setsockopt(state, fd, Libc.SOL_SOCKET, SO_SNDBUFFORCE, value, Integer.BYTES) != 0)
            {
                final int forceErrno = Libc.errno(state);
                how = "SO_SNDBUF (SO_SNDBUFFORCE: " + errno(forceErrno) + ", so net.core.wmem_max caps it)";
                if (Libc.setsockopt(state, fd, Libc.SOL_SOCKET, SO_SNDBUF, value, Integer.BYTES) != 0)
                {
                    how = "kept: SO_SNDBUFFORCE " + errno(forceErrno) + ", SO_SNDBUF " +
                        errno(Libc.errno(state));
                }
            }
            final MemorySegment length = arena.allocate(ValueLayout.JAVA_INT);
            length.set(ValueLayout.JAVA_INT, 0, Integer.BYTES);
            if (Libc.getsockopt(state, fd, Libc.SOL_SOCKET, SO_SNDBUF, value, length) != 0)
            {
                sendBuffer = -1;
                sendBufferNote = "send buffer unknown (getsockopt(SO_SNDBUF): " + errno(Libc.errno(state)) +
                    "; asked for " + bytes + " B by " + how + ")";
                return sendBuffer;
            }
            sendBuffer = value.get(ValueLayout.JAVA_INT, 0);
            sendBufferNote = "send buffer " + sendBuffer + " B (asked for " + bytes + " B by " + how + ")";
            return sendBuffer;
        }
    }

    private static String errno(final int errno)
    {
        final String name = OsException.errnoName(errno);
        return name != null ? name : "errno " + errno;
    }

    /**
     * @return the socket's send buffer in bytes as the kernel reports it ({@code getsockopt(SO_SNDBUF)}, already
     * doubled), -1 when it could not be read.
     */
    public int sendBuffer()
    {
        return sendBuffer;
    }

    /**
     * @return how the send buffer was sized, for the port's description: the size in force, what was asked for and
     * by which option, and why the stronger option was refused if it was.
     */
    public String sendBufferNote()
    {
        return sendBufferNote;
    }

    /**
     * @return the options the socket was opened with.
     */
    public Options options()
    {
        return options;
    }

    /**
     * @return the socket's descriptor.
     */
    public int fd()
    {
        return fd;
    }

    /**
     * @return the interface index it is bound to.
     */
    public int ifindex()
    {
        return ifindex;
    }

    /**
     * @return the interface's MTU when the socket was opened.
     */
    public int mtu()
    {
        return mtu;
    }

    /**
     * @return address of the receive ring (the start of the mapping).
     */
    public long rxRingAddress()
    {
        return rings.address();
    }

    /**
     * @return address of the transmit ring (right after the receive ring).
     */
    public long txRingAddress()
    {
        return rings.address() + options.rxRingLength();
    }

    /**
     * Asks the kernel to send every frame marked {@code TP_STATUS_SEND_REQUEST} on the transmit ring:
     * {@code sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0)}. Allocates nothing.
     *
     * @return 0, or the errno it failed with ({@code EAGAIN}/{@code ENOBUFS}: the frames stay requested and the
     * next kick sends them; {@code ENETDOWN}/{@code ENXIO}: the interface is down or gone; {@code EMSGSIZE},
     * {@code EINVAL}: the kernel refused a frame, left it {@code TP_STATUS_WRONG_FORMAT} and stopped there).
     */
    public int kick()
    {
        final long result = Libc.sendto(kickState, fd, 0L, 0L, Libc.MSG_DONTWAIT, 0L, 0);
        return result < 0 ? Libc.errno(kickState) : 0;
    }

    /**
     * Reads and resets the kernel's counters ({@code PACKET_STATISTICS}; reading resets them, so the caller adds).
     *
     * @param into {@code into[0] += tp_packets}, {@code into[1] += tp_drops}, {@code into[2] += tp_freeze_q_cnt}.
     * @throws OsException when getsockopt fails (it does not on an open packet socket).
     */
    public void readStatistics(final long[] into)
    {
        statsLength.set(ValueLayout.JAVA_INT, 0, STATS_V3_LENGTH);
        if (Libc.getsockopt(statsState, fd, SOL_PACKET, PACKET_STATISTICS, stats, statsLength) != 0)
        {
            throw new OsException("getsockopt(PACKET_STATISTICS) on " + options.interfaceName(),
                Libc.errno(statsState));
        }
        into[0] += Integer.toUnsignedLong(stats.get(ValueLayout.JAVA_INT, 0));
        into[1] += Integer.toUnsignedLong(stats.get(ValueLayout.JAVA_INT, 4));
        into[2] += Integer.toUnsignedLong(stats.get(ValueLayout.JAVA_INT, 8));
    }

    /**
     * Unmaps the rings and closes the socket (idempotent); the interface leaves promiscuous mode if this socket
     * put it there.
     */
    @Override
    public void close()
    {
        if (closed.compareAndSet(false, true))
        {
            try
            {
                rings.close();
            }
            finally
            {
                Fds.closeQuietly(fd);
            }
        }
    }

    @Override
    public String toString()
    {
        return "PacketSocket[" + options.interfaceName() + " ifindex " + ifindex + ", fd " + fd + "]";
    }
}
