package io.pagewire.dataplane.port.afpacket;

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
 * Single producer thread only.
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
    private long claimed;
    /** The claimed slot held a frame the kernel refused (counted in {@link #wrongFormat}). */
    private boolean claimedWrongFormat;
    private int committedSinceFlush;
    private long ringFull;
    private long wrongFormat;

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
        // Acquire: the kernel is done with the slot's bytes before it stores AVAILABLE (skb destructor).
        final int status = UnsafeApi.getIntAcquire(null, slot + TP_STATUS_OFFSET);
        if (status != TP_STATUS_AVAILABLE)
        {
            if ((status & TP_STATUS_WRONG_FORMAT) == 0)
            {
                ringFull++;
                return 0;
            }
            // Only without PACKET_LOSS: the kernel refused the frame and stopped there; take the slot back.
            wrongFormat++;
        }
        claimedWrongFormat = status != TP_STATUS_AVAILABLE;
        claimed = slot;
        return slot + TX_DATA_OFFSET;
    }

    /**
     * Gives the claimed slot back unsent: its status is left as it was, so the next {@link #claim} takes the same slot
     * (and counts a refused frame in it then, not twice).
     */
    public void abandon()
    {
        if (claimedWrongFormat)
        {
            claimedWrongFormat = false;
            wrongFormat--;
        }
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
        claimedWrongFormat = false;
        committedSinceFlush++;
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
     * @return slots found with {@code TP_STATUS_WRONG_FORMAT} (frames the kernel refused) and taken back; only
     * without {@code PACKET_LOSS}: with it the kernel skips a refused frame and frees its slot, unseen here.
     */
    public long wrongFormat()
    {
        return wrongFormat;
    }
}
