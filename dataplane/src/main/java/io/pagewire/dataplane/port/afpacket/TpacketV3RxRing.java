package io.pagewire.dataplane.port.afpacket;

import org.agrona.UnsafeApi;

import static io.pagewire.dataplane.port.afpacket.TpacketLayout.BLOCK_DESC_LENGTH;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.BLOCK_STATUS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.NUM_PKTS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.OFFSET_TO_FIRST_PKT_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TPACKET3_HDR_LENGTH;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_LEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_MAC_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_NEXT_OFFSET_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_SNAPLEN_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_KERNEL;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_USER;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_VLAN_TPID_VALID;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_STATUS_VLAN_VALID;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_VLAN_TCI_OFFSET;
import static io.pagewire.dataplane.port.afpacket.TpacketLayout.TP_VLAN_TPID_OFFSET;

/**
 * The consumer side of a kernel {@code TPACKET_V3} receive ring: {@code blockCount} blocks of {@code blockSize}
 * bytes from {@code address}, which the kernel fills with packets and hands over whole ({@code block_status}
 * {@code TP_STATUS_USER}); we hand a block back by storing {@code TP_STATUS_KERNEL} to its status. Blocks are
 * used in order, so the next block to look at is always the one after the last handed back.
 * <p>
 * One block is open at a time: when every frame of the open block is released, the block goes back to the kernel
 * and the next one is looked at (one acquire load of its status while the ring is empty). Its packets are walked once,
 * when it opens ({@code offset_to_first_pkt}, then {@code tp_next_offset} per packet), into preallocated
 * arrays of frame addresses and lengths, so random access by index costs nothing and nothing is allocated.
 * <p>
 * Every number the kernel wrote is checked before it is used to address memory: a packet whose header, offset
 * or {@code tp_mac + tp_snaplen} would reach outside its block ends the walk of that block (the rest of the block's
 * packets are counted as {@link #badFrames()}), so a corrupt ring never makes us read outside the mapping. A frame cut
 * short by the kernel ({@code tp_len > tp_snaplen}) or longer than the NIC slot size is reported with length -1 (the
 * dataplane drops it as a bad NIC frame) and counted ({@link #truncatedFrames()}, {@link #tooLongFrames()}).
 * <p>
 * VLAN: Linux takes the 802.1Q tag off every received frame before packet sockets see it and reports it in
 * {@code tp_vlan_tci} ({@code TP_STATUS_VLAN_VALID}); the tag is put back in place so the guest gets the frame as
 * it was on the wire: the 12 MAC address bytes (and the headroom before them) move 4 bytes down into the gap the
 * kernel leaves before {@code tp_mac}, and TPID and TCI go after them ({@link #vlanInserted(int)} says which frames).
 * <p>
 * Memory ordering: the kernel stores {@code TP_STATUS_USER} with a full barrier after writing the block
 * ({@code smp_wmb} then flush in {@code prb_close_block}); our acquire load of the status orders every later read of
 * the block after it. Handing back is a release store, so all our reads of the block happen before the kernel may
 * reuse it. Single consumer thread only.
 */
public final class TpacketV3RxRing
{
    private final long address;
    private final int blockSize;
    private final int blockCount;
    private final int headroom;
    private final int maxFrameLength;
    private final long[] frameAddresses;
    private final int[] frameLengths;
    private final boolean[] vlanInserted;

    private int block;
    private boolean blockOpen;
    private int frames;
    private int released;

    private long truncatedFrames;
    private long tooLongFrames;
    private long badFrames;
    private long blocks;

    /**
     * @param address        the ring's first byte (the start of the packet socket's mapping).
     * @param blockSize      bytes per block, as given to {@code PACKET_RX_RING}: a multiple of 16, at least 4096.
     * @param blockCount     blocks, at least 1.
     * @param headroom       bytes that must precede every frame inside the block after its tpacket3_hdr (10 for the
     *                       virtio_net_hdr of {@code PACKET_VNET_HDR}, else 0).
     * @param maxFrameLength the longest frame delivered; longer ones are reported with length -1.
     */
    public TpacketV3RxRing(
        final long address, final int blockSize, final int blockCount, final int headroom, final int maxFrameLength)
    {
        if (blockSize < 4096 || blockSize % TpacketLayout.TPACKET_ALIGNMENT != 0)
        {
            throw new IllegalArgumentException("blockSize=" + blockSize + ": must be a multiple of 16, at least 4096");
        }
        if (blockCount < 1)
        {
            throw new IllegalArgumentException("blockCount=" + blockCount + ": must be at least 1");
        }
        this.address = address;
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.headroom = headroom;
        this.maxFrameLength = maxFrameLength;
        // A packet takes at least its 48-byte header plus a 14-byte Ethernet header, 8-aligned: more than 32 bytes.
        final int capacity = blockSize / 32;
        this.frameAddresses = new long[capacity];
        this.frameLengths = new int[capacity];
        this.vlanInserted = new boolean[capacity];
    }

    /**
     * @return frames not yet released; when none are left, hands the open block back and opens the next one if the
     * kernel has handed it over.
     */
    public int available()
    {
        int available = frames - released;
        if (available == 0)
        {
            available = openNextBlock();
        }
        return available;
    }

    /**
     * @param i index among the unreleased frames, {@code 0 <= i < available()}.
     * @return host address of the frame's first byte (its Ethernet header).
     */
    public long frameAddress(final int i)
    {
        return frameAddresses[released + i];
    }

    /**
     * @param i index among the unreleased frames, {@code 0 <= i < available()}.
     * @return the frame's length, or -1 when it was truncated or is longer than the slot size.
     */
    public int frameLength(final int i)
    {
        return frameLengths[released + i];
    }

    /**
     * @param i index among the unreleased frames, {@code 0 <= i < available()}.
     * @return whether a VLAN tag was put back into the frame (its headroom moved 4 bytes down with it).
     */
    public boolean vlanInserted(final int i)
    {
        return vlanInserted[released + i];
    }

    /**
     * Releases the first {@code count} unreleased frames; when they were the open block's last, the block goes back
     * to the kernel.
     *
     * @param count at most {@link #available()}.
     */
    public void release(final int count)
    {
        released += count;
        if (released >= frames && blockOpen)
        {
            closeBlock();
        }
    }

    private void closeBlock()
    {
        // Release: every read of this block's packets happens before the kernel may see it as its own again.
        UnsafeApi.putIntRelease(null, address + (long)block * blockSize + BLOCK_STATUS_OFFSET, TP_STATUS_KERNEL);
        blockOpen = false;
        frames = 0;
        released = 0;
        block = block + 1 == blockCount ? 0 : block + 1;
    }

    private int openNextBlock()
    {
        if (blockOpen)
        {
            closeBlock();
        }
        // Bounded: an empty block handed over goes straight back; at most one turn of the ring per call.
        for (int turn = 0; turn < blockCount; turn++)
        {
            final long blockAddress = address + (long)block * blockSize;
            // Acquire: pairs with the kernel's barrier before it stores TP_STATUS_USER; the packets are visible.
            final int status = UnsafeApi.getIntAcquire(null, blockAddress + BLOCK_STATUS_OFFSET);
            if ((status & TP_STATUS_USER) == 0)
            {
                return 0;
            }
            blockOpen = true;
            blocks++;
            walk(blockAddress);
            if (frames > 0)
            {
                return frames;
            }
            closeBlock();
        }
        return 0;
    }

    private void walk(final long blockAddress)
    {
        final long numPkts = Integer.toUnsignedLong(UnsafeApi.getInt(blockAddress + NUM_PKTS_OFFSET));
        final long capacity = frameAddresses.length;
        long offset = Integer.toUnsignedLong(UnsafeApi.getInt(blockAddress + OFFSET_TO_FIRST_PKT_OFFSET));
        int count = 0;
        while (count < numPkts)
        {
            // All in long arithmetic: offset, tp_mac and tp_snaplen are u32/u16, their sums cannot overflow a long.
            if (count == capacity || offset < BLOCK_DESC_LENGTH || offset > blockSize - TPACKET3_HDR_LENGTH)
            {
                break;
            }
            final long header = blockAddress + offset;
            final long mac = Short.toUnsignedLong(UnsafeApi.getShort(header + TP_MAC_OFFSET));
            final long snaplen = Integer.toUnsignedLong(UnsafeApi.getInt(header + TP_SNAPLEN_OFFSET));
            final long length = Integer.toUnsignedLong(UnsafeApi.getInt(header + TP_LEN_OFFSET));
            if (mac < TPACKET3_HDR_LENGTH + headroom || offset + mac + snaplen > blockSize)
            {
                break;
            }
            final int packetStatus = UnsafeApi.getInt(header + TP_STATUS_OFFSET);
            long frame = header + mac;
            long wireLength = length;
            long frameLength = snaplen;
            boolean tagged = false;
            if ((packetStatus & TP_STATUS_VLAN_VALID) != 0 && mac >= TPACKET3_HDR_LENGTH + headroom + 4 &&
                snaplen >= 12)
            {
                final int tci = UnsafeApi.getInt(header + TP_VLAN_TCI_OFFSET) & 0xFFFF;
                final int tpid = (packetStatus & TP_STATUS_VLAN_TPID_VALID) != 0 ?
                    UnsafeApi.getShort(header + TP_VLAN_TPID_OFFSET) & 0xFFFF : 0x8100;
                // Ascending byte moves to a lower address: safe although source and destination overlap.
                for (long k = -headroom; k < 12; k++)
                {
                    UnsafeApi.putByte(frame + k - 4, UnsafeApi.getByte(frame + k));
                }
                frame -= 4;
                UnsafeApi.putShort(frame + 12, Short.reverseBytes((short)tpid));
                UnsafeApi.putShort(frame + 14, Short.reverseBytes((short)tci));
                wireLength += 4;
                frameLength += 4;
                tagged = true;
            }
            frameAddresses[count] = frame;
            vlanInserted[count] = tagged;
            if (wireLength > frameLength)
            {
                truncatedFrames++;
                frameLengths[count] = -1;
            }
            else if (frameLength > maxFrameLength)
            {
                tooLongFrames++;
                frameLengths[count] = -1;
            }
            else
            {
                frameLengths[count] = (int)frameLength;
            }
            count++;
            final long next = Integer.toUnsignedLong(UnsafeApi.getInt(header + TP_NEXT_OFFSET_OFFSET));
            if (count < numPkts && next < TPACKET3_HDR_LENGTH)
            {
                break;
            }
            offset += next;
        }
        badFrames += numPkts - count;
        frames = count;
        released = 0;
    }

    /**
     * @return the longest frame delivered with its length.
     */
    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    /**
     * @return frames the kernel cut short ({@code tp_len > tp_snaplen}: longer than a block holds).
     */
    public long truncatedFrames()
    {
        return truncatedFrames;
    }

    /**
     * @return frames longer than {@link #maxFrameLength()}.
     */
    public long tooLongFrames()
    {
        return tooLongFrames;
    }

    /**
     * @return packets a block announced ({@code num_pkts}) that could not be walked: a header or frame outside
     * the block.
     */
    public long badFrames()
    {
        return badFrames;
    }

    /**
     * @return blocks taken from the kernel so far.
     */
    public long blocks()
    {
        return blocks;
    }
}
