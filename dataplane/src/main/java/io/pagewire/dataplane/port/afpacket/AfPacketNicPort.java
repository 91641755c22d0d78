package io.pagewire.dataplane.port.afpacket;

import io.pagewire.config.NicConfig;
import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.os.OsException;
import io.pagewire.dataplane.os.PacketSocket;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.port.NicPortSet;
import io.pagewire.dataplane.virtio.GsoSegmenter;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.util.concurrent.TimeUnit;

/**
 * A kernel network interface as a NIC port ({@code nic.type=af_packet}): one {@link PacketSocket} with a
 * {@code TPACKET_V3} receive ring ({@link TpacketV3RxRing}) and transmit ring ({@link TpacketTxRing}) in one mapping.
 * The dataplane reads received frames in place from the kernel's blocks and copies transmitted frames into the
 * kernel's slots; the only system call on the hot path is the transmit kick ({@code sendto}), once per burst, in
 * {@link #flush()}.
 * <p>
 * Geometry: the receive ring is {@code nic.af_packet.block_count} blocks of {@code nic.af_packet.block_size} bytes
 * with retire timeout {@code nic.af_packet.retire_timeout_ms} (with vnet_hdr at least {@link #VNET_HDR_MIN_BLOCK_SIZE}
 * bytes per block, so a 64 KiB GSO frame fits one); the transmit ring has at least {@code nic.ring.size}
 * slots of {@code nic.slot_size + 64} bytes, packed into blocks of {@code nic.af_packet.block_size} bytes (or the
 * next power of two that holds a slot); with vnet_hdr the slots are {@link #VNET_HDR_TX_FRAME_SIZE} (64 KiB) so a
 * guest's GSO frame leaves whole for the kernel to segment ({@link #commitOffload}), and there are at most
 * {@link #VNET_HDR_MAX_TX_SLOTS}. Frames up to {@code nic.slot_size - 8} bytes pass both ways (with vnet_hdr, GSO
 * frames go up to 64 KiB both ways); longer received frames are dropped and counted
 * ({@link AfPacketCounter#RX_TOO_LONG}); the guest may transmit frames without an offload up to the interface's MTU
 * plus the 14-byte Ethernet header (longer ones the kernel would refuse, so the dataplane drops and counts them as
 * too long).
 * <p>
 * Send buffer: a kick sends requested frames only while the socket's write memory has room, and each frame is
 * charged to it until the kernel frees it; {@link PacketSocket} sizes it to the transmit ring at open, so one kick
 * sends the whole ring (the description shows the size in force). When the kernel grants less
 * ({@link #sendBufferShort()}), a kick may stop early without an error, and {@link #claim} kicks again once per
 * 64 refused claims while the ring is full.
 * <p>
 * One queue pair ({@link #pairs()} is 1). Counters: the dataplane thread publishes its own (truncated, too long, bad,
 * ring full, kicks, sent, refused, on the ring) from {@link #flush()}; the control thread reads the kernel's
 * {@code PACKET_STATISTICS} in {@link #poll()} at most once a second.
 * <p>
 * Every transmitted frame is accounted for: after each kick the port learns from the ring what the kernel did with
 * the frames it was asked to send ({@link TpacketTxRing#reap}): taken for sending ({@link AfPacketCounter#TX_SENT}),
 * refused ({@link AfPacketCounter#TX_REFUSED}: the socket runs without {@code PACKET_LOSS}, so the kernel marks a
 * frame it refuses {@code TP_STATUS_WRONG_FORMAT} instead of skipping it unseen; the port drops it and the next kick
 * goes on with the frames after it), or still on the ring ({@link AfPacketCounter#TX_ON_RING}). The port refuses the
 * causes it knows itself first (frames longer than {@link #maxFrameLength()}, offload headers the guest's transmit
 * path validates); the kernel refuses what changed since (an MTU lowered while running) or what the port does not
 * check (a frame shorter than the Ethernet header).
 */
public final class AfPacketNicPort implements NicPort, NicPortSet
{
    private static final long STATISTICS_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    private static final int TX_SLOT_EXTRA = 64;
    /**
     * Smallest receive block with vnet_hdr: a GSO frame of a 64 KiB IP packet (65535 + 14 bytes) plus the block
     * descriptor, tpacket3_hdr and virtio_net_hdr must fit one block whole, or the kernel cuts it short
     * ({@code tp_snaplen < tp_len}); 64 KiB blocks are just too small, so the next power of two.
     */
    public static final int VNET_HDR_MIN_BLOCK_SIZE = 1 << 17;
    /**
     * Transmit slot with vnet_hdr: 64 KiB, so a guest's TCP GSO frame of up to {@link #VNET_HDR_MAX_TX_FRAME} bytes
     * fits one slot whole with its tpacket header and virtio_net_hdr (the kernel takes a frame from one slot only).
     */
    public static final int VNET_HDR_TX_FRAME_SIZE = 1 << 16;
    /**
     * Longest frame the guest may transmit with an offload header (vnet_hdr): the 64 KiB slot less the 48-byte
     * tpacket header and the 10-byte virtio_net_hdr. A Linux guest's TSO frames stay below it (its GSO limit is
     * 65536 bytes including the headroom TCP keeps for headers); longer ones are segmented in software.
     */
    public static final int VNET_HDR_MAX_TX_FRAME = VNET_HDR_TX_FRAME_SIZE - TpacketLayout.TX_DATA_OFFSET -
        VnetRxFrames.VNET_HDR_LENGTH;
    /** Transmit slots with vnet_hdr: at most this many of 64 KiB (16 MiB of kernel memory), even for a bigger ring. */
    public static final int VNET_HDR_MAX_TX_SLOTS = 256;

    private final PacketSocket socket;
    private final TpacketV3RxRing rx;
    private final TpacketTxRing tx;
    private final VnetRxFrames vnet;
    private final int txHeadroom;
    private final int txMaxFrameLength;
    private final AtomicCounter[] counters;
    private final long[] kernel = new long[3];
    private final long sendBufferWanted;
    private long nextStatisticsNs;
    /**
     * While the transmit ring is full and the socket's send buffer is smaller than the ring's
     * ({@link #sendBufferShort()}), one kick per this many refused claims (a power of two).
     */
    private static final int KICK_WHILE_FULL_EVERY = 64;

    private boolean kickAgain;
    private long txFullClaims;
    private long txClaimed;
    private long kicks;
    private long kickErrors;
    private final long[] published = new long[AfPacketCounter.values().length];
    private boolean closed;

    private AfPacketNicPort(final PacketSocket socket, final TpacketV3RxRing rx, final TpacketTxRing tx,
        final int txMaxFrameLength, final VnetRxFrames vnet, final AtomicCounter[] counters)
    {
        this.txMaxFrameLength = txMaxFrameLength;
        this.socket = socket;
        this.rx = rx;
        this.tx = tx;
        this.vnet = vnet;
        this.txHeadroom = vnet == null ? 0 : VnetRxFrames.VNET_HDR_LENGTH;
        this.counters = counters;
        final PacketSocket.Options o = socket.options();
        // The kernel doubles the size it is asked for (PacketSocket.sizeSendBuffer asks for the ring's length).
        this.sendBufferWanted = 2 * Math.min(o.txRingLength(), Integer.MAX_VALUE / 2);
    }

    /**
     * Whether the socket's send buffer is smaller than twice the transmit ring, i.e. the kernel did not grant the
     * size asked for at open ({@code net.core.wmem_max} capped it without CAP_NET_ADMIN, or it refused it). Then a
     * kick can stop before the ring's end with frames still requested (see {@link PacketSocket}) and nothing else
     * would kick again once the ring is full; with the whole size one kick sends the whole ring.
     *
     * @return true when a kick may leave requested frames behind.
     */
    public boolean sendBufferShort()
    {
        return socket.sendBuffer() < sendBufferWanted;
    }

    /**
     * Opens the interface {@code nic.af_packet.interface} and registers the port's counters.
     *
     * @param nic      the NIC config (type af_packet).
     * @param counters where the port's counters go; null for none.
     * @return the port, ready for the dataplane.
     * @throws NicPortException when the interface does not exist (message:
     *                          {@code nic.af_packet.interface="x": no such interface}) or the socket cannot be set up
     *                          (no CAP_NET_RAW, the kernel refuses the ring geometry: the message names the step and
     *                          the errno).
     */
    public static AfPacketNicPort open(final NicConfig nic, final CountersManager counters)
    {
        final NicConfig.AfPacket config = nic.afPacket();
        final int slotSize = nic.slotSize();
        final int txFrameSize = config.vnetHdr() ? Math.max(VNET_HDR_TX_FRAME_SIZE, slotSize + TX_SLOT_EXTRA) :
            slotSize + TX_SLOT_EXTRA;
        final int txSlots = config.vnetHdr() ? Math.min(nic.ringSize(), VNET_HDR_MAX_TX_SLOTS) : nic.ringSize();
        final int txBlockSize = Math.max(config.blockSize(), Integer.highestOneBit(txFrameSize - 1) << 1);
        final int txFramesPerBlock = txBlockSize / txFrameSize;
        final int txBlockCount = (txSlots + txFramesPerBlock - 1) / txFramesPerBlock;
        final int rxBlockSize = config.vnetHdr() ? Math.max(config.blockSize(), VNET_HDR_MIN_BLOCK_SIZE) :
            config.blockSize();
        final PacketSocket.Options options = new PacketSocket.Options(
            config.interfaceName(), rxBlockSize, config.blockCount(), Math.min(slotSize, rxBlockSize),
            config.retireTimeoutMs(), txBlockSize, txBlockCount, txFrameSize, config.promiscuous(), config.vnetHdr());
        final PacketSocket socket;
        try
        {
            socket = PacketSocket.open(options);
        }
        catch (final OsException ex)
        {
            final String key = "nic.af_packet.interface=\"" + config.interfaceName() + "\": ";
            if (PacketSocket.isNoSuchInterface(ex))
            {
                throw new NicPortException(key + "no such interface", ex);
            }
            throw new NicPortException(key + ex.getMessage(), ex);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new NicPortException(
                "nic.af_packet.interface=\"" + config.interfaceName() + "\": " + ex.getMessage(), ex);
        }
        AtomicCounter[] allocated = null;
        try
        {
            final int maxFrame = nic.slotSize() - NicConfig.SLOT_HEADER_BYTES;
            final int headroom = config.vnetHdr() ? VnetRxFrames.VNET_HDR_LENGTH : 0;
            // With vnet_hdr, GSO frames longer than a slot arrive whole and are segmented; VnetRxFrames limits.
            final TpacketV3RxRing rx = new TpacketV3RxRing(socket.rxRingAddress(), options.rxBlockSize(),
                options.rxBlockCount(), headroom, config.vnetHdr() ? Integer.MAX_VALUE : maxFrame);
            // Plain frames: the MTU; with vnet_hdr the ring takes offloaded frames up to the slot (GSO, 64 KiB).
            final int txMaxFrame = Math.min(maxFrame, socket.mtu() + GsoSegmenter.ETHERNET_HEADER_LENGTH);
            final TpacketTxRing tx = new TpacketTxRing(socket.txRingAddress(), txBlockSize, txBlockCount, txFrameSize,
                headroom, config.vnetHdr() ? txFrameSize - TpacketLayout.TX_DATA_OFFSET - headroom : txMaxFrame);
            final VnetRxFrames vnet = config.vnetHdr() ? new VnetRxFrames(rx, options.rxBlockSize(), maxFrame) : null;
            allocated = allocate(counters);
            return new AfPacketNicPort(socket, rx, tx, txMaxFrame, vnet, allocated);
        }
        catch (final RuntimeException ex)
        {
            freeCounters(allocated);
            socket.close();
            throw ex;
        }
    }

    private static AtomicCounter[] allocate(final CountersManager manager)
    {
        final AfPacketCounter[] all = AfPacketCounter.values();
        final AtomicCounter[] counters = new AtomicCounter[all.length];
        if (manager == null)
        {
            return counters;
        }
        try
        {
            for (int i = 0; i < all.length; i++)
            {
                counters[i] = all[i].allocate(manager, 0); // one queue pair: key (0, 0), as the pcap port's
            }
        }
        catch (final RuntimeException ex)
        {
            freeCounters(counters);
            throw ex;
        }
        return counters;
    }

    private static void freeCounters(final AtomicCounter[] counters)
    {
        if (counters != null)
        {
            for (final AtomicCounter counter : counters)
            {
                if (counter != null)
                {
                    counter.close();
                }
            }
        }
    }

    /** Frames received and not released (the open receive block's). */
    @Override
    public int rxAvailable()
    {
        return vnet == null ? rx.available() : vnet.available();
    }

    /** Address of the {@code i}-th unreleased received frame, in the kernel's block. */
    @Override
    public long rxFrameAddress(final int i)
    {
        return vnet == null ? rx.frameAddress(i) : vnet.frameAddress(i);
    }

    /** Length of the {@code i}-th unreleased received frame, -1 when truncated or too long. */
    @Override
    public int rxFrameLength(final int i)
    {
        return vnet == null ? rx.frameLength(i) : vnet.frameLength(i);
    }

    /** The header of a frame passed to the guest with its offload (vnet_hdr), else 0. */
    @Override
    public long rxFrameVnetHeader(final int i)
    {
        return vnet == null ? 0 : vnet.frameVnetHeader(i);
    }

    /** With vnet_hdr, offloads the guest negotiated are passed to it rather than done in software. */
    @Override
    public void guestFeatures(final long negotiatedFeatures)
    {
        if (vnet != null)
        {
            vnet.guestFeatures(negotiatedFeatures);
        }
    }

    /** Releases received frames; a block goes back to the kernel when all its frames are released. */
    @Override
    public void rxRelease(final int count)
    {
        if (vnet == null)
        {
            rx.release(count);
        }
        else
        {
            vnet.release(count);
        }
    }

    /** Claims the next transmit slot, 0 when the kernel has not sent it yet. */
    @Override
    public long claim(final int frameLength)
    {
        final long address = tx.claim(frameLength);
        if (address == 0)
        {
            // Full: the kernel holds the slot. With a send buffer short of the ring a kick may have stopped early
            // without an error (64 KiB vnet_hdr slots fill a default buffer in three frames), leaving slots requested
            // but unsent, so kick again now and then while full; not every time, which would be a system call per
            // cycle at overload. With the buffer sized to the ring (the normal case) a kick sends every requested
            // frame, and the slots come back as the kernel frees them: no kick is needed.
            if (sendBufferShort() && (++txFullClaims & (KICK_WHILE_FULL_EVERY - 1)) == 0)
            {
                kickAgain = true;
            }
            return 0;
        }
        if (txHeadroom != 0)
        {
            // vnet_hdr: no offload asked for (flags 0, GSO_NONE) unless commitOffload writes one; the frame follows.
            MemoryCopy.fill(address, txHeadroom, (byte)0);
        }
        txClaimed = address;
        return address + txHeadroom;
    }

    /** Marks the claimed slot for sending; the kernel is kicked at the end of the burst ({@link #flush()}). */
    @Override
    public void commit(final int frameLength)
    {
        tx.commit(frameLength);
    }

    /** Gives the claimed transmit slot back unsent (the frame in it did not validate); the next claim takes it. */
    @Override
    public void abandon()
    {
        tx.abandon();
    }

    /** The longest frame the guest may transmit: nic.slot_size - 8, at most the MTU plus the Ethernet header. */
    @Override
    public int maxFrameLength()
    {
        return txMaxFrameLength;
    }

    /**
     * With vnet_hdr the kernel takes frames with their virtio_net_hdr and checksums and segments them itself (GSO on
     * the way out, {@code tpacket_snd} → {@code virtio_net_hdr_to_skb}): frames up to the 64 KiB slot; without, none.
     */
    @Override
    public int maxOffloadFrameLength()
    {
        return txHeadroom == 0 ? 0 : tx.maxFrameLength();
    }

    /**
     * Writes the validated virtio_net_hdr into the slot's headroom, where the kernel reads it with
     * {@code PACKET_VNET_HDR} (the transmit frame starts with the header), and marks the slot for sending.
     */
    @Override
    public void commitOffload(final int frameLength, final long vnetHeader)
    {
        MemoryCopy.copy(vnetHeader, txClaimed, txHeadroom);
        tx.commit(frameLength);
    }

    /**
     * Kicks the kernel ({@code sendto(MSG_DONTWAIT)}) when frames were committed since the last flush or the last kick
     * failed (it leaves frames requested but unsent), and publishes the dataplane's counters that changed.
     */
    @Override
    public void flush()
    {
        if (tx.takeCommitted() > 0 || kickAgain)
        {
            kicks++;
            kickAgain = false;
            final int errno = socket.kick();
            // Without PACKET_LOSS a refused frame stops the kick there (EMSGSIZE, EINVAL): the reap drops it and the
            // next cycle kicks the frames after it. Any other failure leaves the frames requested, for the next kick.
            if (tx.reap() > 0)
            {
                kickAgain = true;
            }
            else if (errno != 0)
            {
                kickErrors++;
                kickAgain = true;
            }
        }
        publish(AfPacketCounter.RX_TRUNCATED, rx.truncatedFrames());
        publish(AfPacketCounter.RX_TOO_LONG, rx.tooLongFrames());
        publish(AfPacketCounter.BAD_FRAMES, rx.badFrames());
        publish(AfPacketCounter.TX_RING_FULL, tx.ringFull());
        publish(AfPacketCounter.TX_REFUSED, tx.refused());
        publish(AfPacketCounter.TX_SENT, tx.sent());
        publish(AfPacketCounter.TX_ON_RING, tx.onRing());
        publish(AfPacketCounter.TX_KICKS, kicks);
        publish(AfPacketCounter.TX_KICK_ERRORS, kickErrors);
        if (vnet != null)
        {
            publish(AfPacketCounter.RX_CSUM_COMPLETED, vnet.checksumsCompleted());
            publish(AfPacketCounter.RX_GSO_SEGMENTED, vnet.segmented());
            publish(AfPacketCounter.RX_VNET_DROPS, vnet.dropped());
            publish(AfPacketCounter.RX_CSUM_PASSED, vnet.checksumsPassed());
            publish(AfPacketCounter.RX_GSO_PASSED, vnet.gsoPassed());
            publish(AfPacketCounter.RX_DATA_VALID_PASSED, vnet.dataValidPassed());
        }
    }

    private void publish(final AfPacketCounter counter, final long value)
    {
        final int i = counter.ordinal();
        if (published[i] != value)
        {
            published[i] = value;
            final AtomicCounter c = counters[i];
            if (c != null)
            {
                c.setRelease(value);
            }
        }
    }

    /** @return 1: one socket, one queue pair. */
    @Override
    public int pairs()
    {
        return 1;
    }

    /** @return this port for pair 0. */
    @Override
    public NicPort port(final int pair)
    {
        if (pair != 0)
        {
            throw new IndexOutOfBoundsException("pair=" + pair + ": an af_packet port has one queue pair");
        }
        return this;
    }

    /** Reads the kernel's statistics at most once a second (control thread). */
    @Override
    public void poll()
    {
        final long nowNs = System.nanoTime();
        if (nowNs - nextStatisticsNs < 0)
        {
            return;
        }
        nextStatisticsNs = nowNs + STATISTICS_INTERVAL_NS;
        readKernelStatistics();
    }

    private void readKernelStatistics()
    {
        socket.readStatistics(kernel);
        set(AfPacketCounter.KERNEL_PACKETS, kernel[0]);
        set(AfPacketCounter.KERNEL_DROPS, kernel[1]);
        set(AfPacketCounter.KERNEL_FREEZE_QUEUE, kernel[2]);
    }

    private void set(final AfPacketCounter counter, final long value)
    {
        final AtomicCounter c = counters[counter.ordinal()];
        if (c != null)
        {
            c.setRelease(value);
        }
    }

    /**
     * @return the kernel's totals so far: packets, drops, freeze-queue count (control thread; as of the last poll).
     */
    public long[] kernelStatistics()
    {
        return kernel.clone();
    }

    /**
     * @return the interface, the ring geometry and the send buffer in force (with, when it is short of the ring,
     * what that means for kicks).
     */
    @Override
    public String describe()
    {
        final PacketSocket.Options o = socket.options();
        return "af_packet " + o.interfaceName() + " (ifindex " + socket.ifindex() + ", mtu " + socket.mtu() +
            ", TPACKET_V3 rx " + o.rxBlockCount() + " x " + o.rxBlockSize() + " B blocks, tx " + tx.frameCount() +
            " x " + o.txFrameSize() + " B slots, " + socket.sendBufferNote() +
            (sendBufferShort() ? ", SHORT of the ring's " + sendBufferWanted + " B (twice the ring's " +
                o.txRingLength() + " B, as the kernel counts; set net.core.wmem_max to at least " + o.txRingLength() +
                " or grant CAP_NET_ADMIN): a kick may stop before the ring's end, so the port kicks again while the " +
                "ring is full" : "") +
            (o.promiscuous() ? ", promiscuous" : "") + (o.vnetHdr() ? ", vnet_hdr" : "") + ")";
    }

    /**
     * @return GSO frames segmented in software (vnet_hdr), 0 without vnet_hdr; dataplane thread or after it stopped.
     */
    public long rxGsoSegmented()
    {
        return vnet == null ? 0 : vnet.segmented();
    }

    /**
     * @return GSO frames passed to the guest whole (vnet_hdr), 0 without vnet_hdr; dataplane thread or after it
     * stopped.
     */
    public long rxGsoPassed()
    {
        return vnet == null ? 0 : vnet.gsoPassed();
    }

    /** @return the socket (tests, diagnostics). */
    public PacketSocket socket()
    {
        return socket;
    }

    /** Reads the kernel's statistics a last time, frees the counters, unmaps the rings and closes the socket. */
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
            readKernelStatistics();
        }
        catch (final RuntimeException ignore)
        {
            // Closing anyway; the statistics are only lost.
        }
        finally
        {
            freeCounters(counters);
            socket.close();
        }
    }
}
