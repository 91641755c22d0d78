package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.memory.MemoryCopy;
import org.agrona.UnsafeApi;

import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_LEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_NEXT_OFFSET_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_SNAPLEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_AVAILABLE;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_SEND_REQUEST;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_WRONG_FORMAT;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TX_DATA_OFFSET;

/**
 * The producer side of a kernel {@code TPACKET_V3} transmit ring: {@code blockCount} blocks of {@code blockSize}
 * bytes, each holding {@code blockSize / frameSize} frame slots of {@code frameSize} bytes (the remainder of a block
 * is unused, as in the kernel's {@code packet_lookup_frame}). Slot {@code n} is frame {@code n % framesPerBlock} of
 * block {@code n / framesPerBlock}; we and the kernel both walk the slots in order.
 * <p>
 * {@link #claim} looks at the next slot's {@code tp_status}: {@code TP_STATUS_AVAILABLE} means it is ours (the kernel
 * sets it when the frame's skb is freed, i.e. sent); anything else means the ring is full. {@link #commit} writes
 * {@code tp_len}/{@code tp_snaplen} and {@code tp_next_offset = 0} (required for V3 transmit), then stores
 * {@code TP_STATUS_SEND_REQUEST} with release semantics so the kernel, which reads the status before the frame,
 * sees the whole frame. The kernel sends requested frames when kicked ({@code sendto}, once per burst, by the
 * port), in slot order, as long as the socket's send buffer has room for them (the port sizes it to the ring).
 * <p>
 * What became of every committed frame is known (the port runs without {@code PACKET_LOSS}, see
 * {@code PacketSocket}): the slots from the oldest committed one the kernel has not taken yet ({@code tail}) to
 * {@code head} are "on the ring". After each kick {@link #reap} walks them in order, as the kernel's
 * {@code tpacket_snd} did (net/packet/af_packet.c): a slot it moved on from ({@code TP_STATUS_SENDING}, or
 * {@code TP_STATUS_AVAILABLE} once the skb was freed) was taken for sending ({@link #sent()}); one still
 * {@code TP_STATUS_SEND_REQUEST} is where the kernel stopped (send buffer full, or a qdisc drop it retries), and the
 * walk stops there too; one {@code TP_STATUS_WRONG_FORMAT} is a frame the kernel refused ({@link #refused()}: longer
 * than the device's MTU, a virtio_net_hdr it rejects, shorter than the Ethernet header). Without {@code PACKET_LOSS}
 * the kernel's own index stays at a refused slot, so every later kick would stop there: the ring would stall until
 * the producer came round to that slot again a whole ring later. So {@link #reap} drops the refused frame by moving
 * the frames committed after it one slot back (in order; the kernel reads none of them before the next kick) and
 * giving the last of those slots back; the next kick starts at the frame that followed the refused one. The cost is
 * one copy of the frames committed after a refused one, on the ring at that moment (with the send buffer sized to the
 * ring, the rest of that burst); a refusal is rare, as the port refuses the causes it knows before the ring.
 * <p>
 * Single producer thread only (claims, commits, kicks and reaps on one thread).
 */
public final class TpacketTxRing
{
    private final long address;
    private final int blockSize;
    private final int frameSize;
    private final int framesPerBlock;
    private final int frameCount;
    private final int headroom;
    private final int maxFrameLength;

    private int head;
    private int headBlock;
    private int headFrame;
    /** Oldest committed slot the kernel has not moved on from (the kernel's own index, after a {@link #reap}). */
    private int tail;
    private int tailBlock;
    private int tailFrame;
    /** Committed slots from {@link #tail} to {@link #head}. */
    private int onRing;
    private long claimed;
    private int committedSinceFlush;
    private long ringFull;
    private long committed;
    private long sent;
    private long refused;

    /**
     * @param address        the ring's first byte.
     * @param blockSize      bytes per block as given to {@code PACKET_TX_RING}.
     * @param blockCount     blocks.
     * @param frameSize      bytes per frame slot, a multiple of 16 holding the 48-byte header and the data.
     * @param headroom       bytes written before each frame's data by the caller (10 for a virtio_net_hdr with
     *                       {@code PACKET_VNET_HDR}, else 0); they count in {@code tp_len}.
     * @param maxFrameLength longest frame {@link #claim} accepts (at most {@code frameSize - 48 - headroom}).
     */
    public TpacketTxRing(final long address, final int blockSize, final int blockCount, final int frameSize,
        final int headroom, final int maxFrameLength)
    {
        if (frameSize % TpacketLayout.TPACKET_ALIGNMENT != 0 || frameSize > blockSize ||
            frameSize < TX_DATA_OFFSET + headroom + 14)
        {
            throw new IllegalArgumentException("frameSize=" + frameSize + ": must be a multiple of 16 in " +
                (TX_DATA_OFFSET + headroom + 14) + ".." + blockSize + " (the block size)");
        }
        if (maxFrameLength > frameSize - TX_DATA_OFFSET - headroom)
        {
            throw new IllegalArgumentException("maxFrameLength=" + maxFrameLength + ": a " + frameSize +
                "-byte slot holds at most " + (frameSize - TX_DATA_OFFSET - headroom));
        }
        this.address = address;
        this.blockSize = blockSize;
        this.frameSize = frameSize;
        this.framesPerBlock = blockSize / frameSize;
        this.frameCount = framesPerBlock * blockCount;
        this.headroom = headroom;
        this.maxFrameLength = maxFrameLength;
    }

    /**
     * @return slots in the ring.
     */
    public int frameCount()
    {
        return frameCount;
    }

    /**
     * @return the longest frame accepted.
     */
    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    private long headAddress()
    {
        return address + (long)headBlock * blockSize + (long)headFrame * frameSize;
    }

    /**
     * Claims the next slot if the kernel is done with it.
     *
     * @param frameLength bytes of the frame (without the headroom).
     * @return address where the headroom (then the frame) goes, or 0 when the ring is full or the frame too long.
     */
    public long claim(final int frameLength)
    {
        if (frameLength > maxFrameLength || frameLength < 0)
        {
            return 0;
        }
        final long slot = headAddress();
        // Acquire: the kernel is done with the slot's bytes before it stores AVAILABLE (skb destructor). A ring whose
        // every slot is on it is full whatever the status says: the head slot is then the tail, still to be reaped.
        if (onRing == frameCount || UnsafeApi.getIntAcquire(null, slot + TP_STATUS_OFFSET) != TP_STATUS_AVAILABLE)
        {
            ringFull++;
            return 0;
        }
        claimed = slot;
        return slot + TX_DATA_OFFSET;
    }

    /**
     * Gives the claimed slot back unsent: nothing was written that the kernel reads, so the next {@link #claim} takes
     * the same slot.
     */
    public void abandon()
    {
        claimed = 0;
    }

    /**
     * Marks the claimed slot for sending and moves to the next.
     *
     * @param frameLength bytes of the frame written after the headroom.
     */
    public void commit(final int frameLength)
    {
        final long slot = claimed;
        final int length = frameLength + headroom;
        UnsafeApi.putInt(slot + TP_NEXT_OFFSET_OFFSET, 0);
        UnsafeApi.putInt(slot + TP_SNAPLEN_OFFSET, length);
        UnsafeApi.putInt(slot + TP_LEN_OFFSET, length);
        // Release: the frame and its lengths are visible before the kernel can see SEND_REQUEST.
        UnsafeApi.putIntRelease(null, slot + TP_STATUS_OFFSET, TP_STATUS_SEND_REQUEST);
        committedSinceFlush++;
        committed++;
        onRing++;
        head++;
        headFrame++;
        if (headFrame == framesPerBlock)
        {
            headFrame = 0;
            headBlock++;
        }
        if (head == frameCount)
        {
            head = 0;
            headBlock = 0;
            headFrame = 0;
        }
    }

    /**
     * Learns what the kernel did with the frames on the ring, after a kick (see the class comment): counts the ones
     * it took ({@link #sent()}) and stops at the first it has not taken; drops a refused one ({@link #refused()}),
     * moving the frames after it one slot back so the next kick goes on with them.
     *
     * @return frames refused by the kernel found in this walk (0 or 1: the kernel stops at the first), so the caller
     * kicks again for the frames after it.
     */
    public int reap()
    {
        int found = 0;
        while (onRing > 0)
        {
            final long slot = tailAddress();
            // Acquire: pairs with the kernel's status store after its skb took the frame (or refused it).
            final int status = UnsafeApi.getIntAcquire(null, slot + TP_STATUS_OFFSET);
            if (status == TP_STATUS_SEND_REQUEST)
            {
                break;
            }
            if ((status & TP_STATUS_WRONG_FORMAT) != 0)
            {
                refused++;
                found++;
                dropRefused();
                continue;
            }
            sent++;
            onRing--;
            tail++;
            tailFrame++;
            if (tailFrame == framesPerBlock)
            {
                tailFrame = 0;
                tailBlock++;
            }
            if (tail == frameCount)
            {
                tail = 0;
                tailBlock = 0;
                tailFrame = 0;
            }
        }
        return found;
    }

    /**
     * Drops the frame at {@link #tail}, which the kernel refused and will not move on from: each frame committed after
     * it moves one slot back (length, then the frame, then SEND_REQUEST), and the slot the last one leaves goes back to
     * the producer. The kernel reads none of these slots until the next kick on this thread.
     */
    private void dropRefused()
    {
        int to = tail;
        for (int i = 1; i < onRing; i++)
        {
            final int from = to + 1 == frameCount ? 0 : to + 1;
            final long source = slotAddress(from);
            final long destination = slotAddress(to);
            final int length = UnsafeApi.getInt(source + TP_LEN_OFFSET);
            MemoryCopy.copy(source + TX_DATA_OFFSET, destination + TX_DATA_OFFSET, length);
            UnsafeApi.putInt(destination + TP_NEXT_OFFSET_OFFSET, 0);
            UnsafeApi.putInt(destination + TP_SNAPLEN_OFFSET, length);
            UnsafeApi.putInt(destination + TP_LEN_OFFSET, length);
            // Release: the moved frame is whole before the kernel can see SEND_REQUEST.
            UnsafeApi.putIntRelease(null, destination + TP_STATUS_OFFSET, TP_STATUS_SEND_REQUEST);
            to = from;
        }
        UnsafeApi.putIntRelease(null, slotAddress(to) + TP_STATUS_OFFSET, TP_STATUS_AVAILABLE);
        onRing--;
        head = to;
        headBlock = to / framesPerBlock;
        headFrame = to % framesPerBlock;
    }

    private long tailAddress()
    {
        return address + (long)tailBlock * blockSize + (long)tailFrame * frameSize;
    }

    private long slotAddress(final int slot)
    {
        return address + (long)(slot / framesPerBlock) * blockSize + (long)(slot % framesPerBlock) * frameSize;
    }

    /**
     * @return frames committed since the last call, which resets the count (the kick decision).
     */
    public int takeCommitted()
    {
        final int committed = committedSinceFlush;
        committedSinceFlush = 0;
        return committed;
    }

    /**
     * @return claims refused because the next slot was not sent yet.
     */
    public long ringFull()
    {
        return ringFull;
    }

    /**
     * @return frames committed (each a slot the kernel was asked to send).
     */
    public long committed()
    {
        return committed;
    }

    /**
     * @return committed frames the kernel took off the ring for sending, as of the last {@link #reap}.
     */
    public long sent()
    {
        return sent;
    }

    /**
     * @return committed frames the kernel refused ({@code TP_STATUS_WRONG_FORMAT}) and {@link #reap} dropped.
     */
    public long refused()
    {
        return refused;
    }

    /**
     * @return committed frames the kernel has not taken yet, as of the last {@link #reap}: {@link #committed()} less
     * {@link #sent()} less {@link #refused()}.
     */
    public int onRing()
    {
        return onRing;
    }
}
