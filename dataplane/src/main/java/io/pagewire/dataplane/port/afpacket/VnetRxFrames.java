package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.memory.MemoryCopy;
import org.agrona.UnsafeApi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.pagewire.dataplane.virtio.VirtioNetHeader.CSUM_OFFSET_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.CSUM_START_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.F_DATA_VALID;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.F_NEEDS_CSUM;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_ECN;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_NONE;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_SIZE_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV4;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV6;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TYPE_OFFSET;

/**
 * Received frames that arrive with a virtio_net_hdr ({@code PACKET_VNET_HDR}: the kernel writes the 10-byte legacy
 * header right before each frame), made into frames a guest without checksum or segmentation offload can take:
 * <ul>
 *   <li>{@code VIRTIO_NET_HDR_F_NEEDS_CSUM} without GSO: the checksum from {@code csum_start} to the end is computed
 *       and stored at {@code csum_start + csum_offset} (the field holds the pseudo-header sum, as Linux leaves it for
 *       {@code CHECKSUM_PARTIAL}), in place in the kernel's block, which is ours until handed back;</li>
 *   <li>{@code GSO_TCPV4}/{@code GSO_TCPV6}: the frame is cut into segments of {@code gso_size} payload bytes,
 *       each with copied Ethernet/IP/TCP headers (IPv4 total length, id + i and header checksum; IPv6 payload
 *       length; TCP sequence number; FIN and PSH only on the last segment, CWR only on the first; a full TCP
 *       checksum), written into a scratch area owned by this object;</li>
 *   <li>anything else with GSO (UDP fragmentation offload, UDP_L4; the ECN bit is accepted), a header that does not
 *       validate ({@code csum_start}/{@code csum_offset} outside the frame, {@code gso_size} 0, unknown flags or GSO
 *       type, an IPv6 extension header, headers that do not add up), or a segment longer than the slot size is
 *       dropped (length -1) and counted in {@link #dropped()}.</li>
 * </ul>
 * The header is validated before anything in it is trusted; every offset is checked against the frame length.
 * One receive block is processed at a time, when the first frame of it is asked for; the block goes back to the
 * kernel when every frame made from it is released. Allocation-free after construction; one thread.
 */
public final class VnetRxFrames
{
    /** Bytes of the virtio_net_hdr the kernel puts before each frame (no num_buffers). */
    public static final int VNET_HDR_LENGTH = 10;

    private static final int ETH_P_IPV4 = 0x0800;
    private static final int ETH_P_IPV6 = 0x86DD;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_FIN = 0x01;
    private static final int TCP_PSH = 0x08;
    private static final int TCP_CWR = 0x80;
    private static final int MIN_GSO_SIZE = 8;

    private final TpacketV3RxRing ring;
    private final int maxFrameLength;
    private final MemorySegment scratchSegment;
    private final long scratch;
    private final long scratchLength;
    private final long[] addresses;
    private final int[] lengths;

    private int frames;
    private int released;
    private long scratchUsed;

    private long checksumsCompleted;
    private long segmented;
    private long dropped;

    /**
     * @param ring           the receive ring, made with headroom {@link #VNET_HDR_LENGTH} and no frame length limit
     *                       of its own.
     * @param blockSize      the ring's block size (scratch for segments is sized from it).
     * @param maxFrameLength the longest frame handed on (nic.slot_size - 8).
     */
    public VnetRxFrames(final TpacketV3RxRing ring, final int blockSize, final int maxFrameLength)
    {
        this.ring = ring;
        this.maxFrameLength = maxFrameLength;
        // Segments repeat up to ~100 bytes of headers per gso_size (>= 8) payload bytes; beyond this, drop.
        this.scratchLength = 4L * blockSize;
        // Hold the segment: an automatic arena frees the memory once its segments are unreachable, and a raw
        // address alone does not keep them reachable.
        this.scratchSegment = Arena.ofAuto().allocate(scratchLength, 64);
        this.scratch = scratchSegment.address();
        final int capacity = blockSize / 8;
        this.addresses = new long[capacity];
        this.lengths = new int[capacity];
    }

    /**
     * @return frames not yet released, processing the next block when none are left.
     */
    public int available()
    {
        final int available = frames - released;
        if (available > 0)
        {
            return available;
        }
        if (frames > 0)
        {
            ring.release(ring.available());
            frames = 0;
            released = 0;
        }
        final int raw = ring.available();
        if (raw == 0)
        {
            return 0;
        }
        scratchUsed = 0;
        for (int i = 0; i < raw; i++)
        {
            process(ring.frameAddress(i), ring.frameLength(i), ring.vlanInserted(i) ? 4 : 0);
        }
        if (frames == 0)
        {
            // Every frame of the block was dropped: hand it back now.
            ring.release(raw);
        }
        return frames;
    }

    /** @return address of the {@code i}-th unreleased frame. */
    public long frameAddress(final int i)
    {
        return addresses[released + i];
    }

    /** @return length of the {@code i}-th unreleased frame, -1 for a dropped one. */
    public int frameLength(final int i)
    {
        return lengths[released + i];
    }

    /** Releases frames; the block goes back to the kernel with the last of them. */
    public void release(final int count)
    {
        released += count;
        if (released >= frames && frames > 0)
        {
            ring.release(ring.available());
            frames = 0;
            released = 0;
        }
    }

    private void add(final long address, final int length)
    {
        if (frames < addresses.length)
        {
            addresses[frames] = address;
            lengths[frames] = length;
            frames++;
        }
        else
        {
            dropped++;
        }
    }

    private void drop()
    {
        // Counted once: add() counts only a frame it has no room for, and a full table needs no -1 entry either.
        dropped++;
        if (frames < addresses.length)
        {
            add(0, -1);
        }
    }

    /**
     * @param vlanShift 4 when the ring put a VLAN tag back into the frame: the kernel counted csum_start from the
     *                  untagged frame.
     */
    private void process(final long frame, final int length, final int vlanShift)
    {
        if (length < 0)
        {
            add(frame, -1);
            return;
        }
        final long hdr = frame - VNET_HDR_LENGTH;
        final int flags = UnsafeApi.getByte(hdr) & 0xFF;
        final int gsoType = UnsafeApi.getByte(hdr + GSO_TYPE_OFFSET) & 0xFF;
        final int gsoSize = UnsafeApi.getShort(hdr + GSO_SIZE_OFFSET) & 0xFFFF;
        final int csumStart = (UnsafeApi.getShort(hdr + CSUM_START_OFFSET) & 0xFFFF) + vlanShift;
        final int csumOffset = UnsafeApi.getShort(hdr + CSUM_OFFSET_OFFSET) & 0xFFFF;
        if ((flags & ~(F_NEEDS_CSUM | F_DATA_VALID)) != 0)
        {
            drop();
            return;
        }
        final boolean needsCsum = (flags & F_NEEDS_CSUM) != 0;
        if (needsCsum && (csumStart + csumOffset + 2 > length || csumStart < 14))
        {
            drop();
            return;
        }
        if (gsoType == GSO_NONE)
        {
            if (length > maxFrameLength)
            {
                drop();
                return;
            }
            if (needsCsum)
            {
                final int sum = finish(sum(frame + csumStart, length - csumStart, 0));
                UnsafeApi.putShort(frame + csumStart + csumOffset,
                    Short.reverseBytes((short)(sum == 0 && csumOffset == 6 ? 0xFFFF : sum)));
                checksumsCompleted++;
            }
            add(frame, length);
            return;
        }
        final int baseType = gsoType & ~GSO_ECN;
        if ((baseType != GSO_TCPV4 && baseType != GSO_TCPV6) || gsoSize < MIN_GSO_SIZE)
        {
            drop();
            return;
        }
        segment(frame, length, baseType, gsoSize);
    }

    private static int be16(final long address)
    {
        return Short.reverseBytes(UnsafeApi.getShort(address)) & 0xFFFF;
    }

    private static void putBe16(final long address, final int value)
    {
        UnsafeApi.putShort(address, Short.reverseBytes((short)value));
    }

    private void segment(final long frame, final int length, final int gsoType, final int mss)
    {
        int l3 = 14;
        int etherType = be16(frame + 12);
        if (etherType == ETH_P_8021Q)
        {
            l3 = 18;
            etherType = be16(frame + 16);
        }
        final boolean v4 = gsoType == GSO_TCPV4;
        if (etherType != (v4 ? ETH_P_IPV4 : ETH_P_IPV6) || l3 + (v4 ? 20 : 40) > length)
        {
            drop();
            return;
        }
        final int l4;
        if (v4)
        {
            final int versionIhl = UnsafeApi.getByte(frame + l3) & 0xFF;
            if (versionIhl >> 4 != 4 || (versionIhl & 0xF) < 5 || (UnsafeApi.getByte(frame + l3 + 9) & 0xFF) != 6)
            {
                drop();
                return;
            }
            l4 = l3 + (versionIhl & 0xF) * 4;
        }
        else
        {
            if ((UnsafeApi.getByte(frame + l3) & 0xF0) != 0x60 || (UnsafeApi.getByte(frame + l3 + 6) & 0xFF) != 6)
            {
                drop();
                return;
            }
            l4 = l3 + 40;
        }
        if (l4 + 20 > length)
        {
            drop();
            return;
        }
        final int tcpLength = ((UnsafeApi.getByte(frame + l4 + 12) & 0xFF) >> 4) * 4;
        final int headers = l4 + tcpLength;
        if (tcpLength < 20 || headers > length || headers + mss > maxFrameLength)
        {
            drop();
            return;
        }
        final int payload = length - headers;
        final int count = payload == 0 ? 1 : (payload + mss - 1) / mss;
        final long needed = (long)count * ((headers + mss + 63) & ~63L);
        if (needed > scratchLength - scratchUsed || count > addresses.length - frames)
        {
            drop();
            return;
        }
        final long seq = Integer.toUnsignedLong(Integer.reverseBytes(UnsafeApi.getInt(frame + l4 + 4)));
        final int ipId = v4 ? be16(frame + l3 + 4) : 0;
        final int tcpFlags = UnsafeApi.getByte(frame + l4 + 13) & 0xFF;
        for (int i = 0; i < count; i++)
        {
            final int chunk = Math.min(mss, payload - i * mss);
            final int segmentLength = headers + chunk;
            final long out = scratch + scratchUsed;
            MemoryCopy.copy(frame, out, headers);
            MemoryCopy.copy(frame + headers + (long)i * mss, out + headers, chunk);
            if (v4)
            {
                putBe16(out + l3 + 2, segmentLength - l3);
                putBe16(out + l3 + 4, (ipId + i) & 0xFFFF);
                putBe16(out + l3 + 10, 0);
                putBe16(out + l3 + 10, finish(sum(out + l3, l4 - l3, 0)));
            }
            else
            {
                putBe16(out + l3 + 4, segmentLength - l4);
            }
            UnsafeApi.putInt(out + l4 + 4, Integer.reverseBytes((int)(seq + (long)i * mss)));
            int f = tcpFlags;
            if (i != count - 1)
            {
                f &= ~(TCP_FIN | TCP_PSH);
            }
            if (i != 0)
            {
                f &= ~TCP_CWR;
            }
            UnsafeApi.putByte(out + l4 + 13, (byte)f);
            putBe16(out + l4 + 16, 0);
            long pseudo = v4 ? sum(out + l3 + 12, 8, 0) : sum(out + l3 + 8, 32, 0);
            pseudo += IPPROTO_TCP + (segmentLength - l4);
            putBe16(out + l4 + 16, finish(sum(out + l4, segmentLength - l4, pseudo)));
            add(out, segmentLength);
            scratchUsed += (segmentLength + 63) & ~63L;
        }
        segmented++;
    }

    /**
     * @return the ones' complement sum (RFC 1071) of {@code length} bytes at {@code address}, big-endian 16-bit words,
     * added to {@code initial}, not folded.
     */
    static long sum(final long address, final int length, final long initial)
    {
        long sum = initial;
        int i = 0;
        for (; i + 1 < length; i += 2)
        {
            sum += Short.reverseBytes(UnsafeApi.getShort(address + i)) & 0xFFFF;
        }
        if (i < length)
        {
            sum += (UnsafeApi.getByte(address + i) & 0xFF) << 8;
        }
        return sum;
    }

    /** @return the folded, complemented 16-bit checksum of a {@link #sum}. */
    static int finish(final long sum)
    {
        long s = sum;
        while ((s >>> 16) != 0)
        {
            s = (s & 0xFFFF) + (s >>> 16);
        }
        return (int)(~s & 0xFFFF);
    }

    /** @return frames whose checksum was completed. */
    public long checksumsCompleted()
    {
        return checksumsCompleted;
    }

    /** @return GSO frames cut into segments. */
    public long segmented()
    {
        return segmented;
    }

    /** @return frames dropped: bad header, unsupported GSO, too long. */
    public long dropped()
    {
        return dropped;
    }
}
