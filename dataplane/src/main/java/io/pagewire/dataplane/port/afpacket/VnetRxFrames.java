package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.GsoSegmenter;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
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
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TYPE_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.MAX_FRAME_LENGTH;

/**
 * Received frames that arrive with a virtio_net_hdr ({@code PACKET_VNET_HDR}: the kernel writes the 10-byte legacy
 * header right before each frame), passed to the guest with their offload as far as it negotiated it, and made into
 * frames it can take otherwise.
 * <p>
 * Passed through (the frame goes to the guest whole, {@link #frameVnetHeader} gives the header it must receive,
 * rewritten in place in the kernel's headroom as virtio 1.2 §5.1.6.4 wants it from a device):
 * <ul>
 *   <li>{@code NEEDS_CSUM} without GSO, when the guest negotiated GUEST_CSUM: flags NEEDS_CSUM, csum_start and
 *       csum_offset as the kernel gave them (counted from the frame's first byte, 4 more when the ring put a VLAN tag
 *       back), the checksum field holding the pseudo-header sum as Linux leaves it ("the device MUST set the packet
 *       checksum ... to the TCP/UDP pseudo header");</li>
 *   <li>{@code GSO_TCPV4}/{@code GSO_TCPV6} when the guest negotiated GUEST_TSO4/GUEST_TSO6 (and GUEST_ECN for a
 *       frame with the ECN bit), up to {@link io.pagewire.dataplane.virtio.VirtioNetHeader#MAX_FRAME_LENGTH} bytes,
 *       with NEEDS_CSUM at the TCP checksum: gso_type and gso_size as given, hdr_len set to the exact length of the
 *       Ethernet, IP and TCP headers as parsed here (the kernel gives its linear length, only a hint);</li>
 *   <li>{@code DATA_VALID} (the kernel or the NIC checked the checksum) when the guest negotiated GUEST_CSUM, the
 *       only feature under which the spec lets a device set it.</li>
 * </ul>
 * Everything else is done here in software, as for a guest without offloads:
 * <ul>
 *   <li>{@code VIRTIO_NET_HDR_F_NEEDS_CSUM} without GSO: the checksum from {@code csum_start} to the end is computed
 *       and stored at {@code csum_start + csum_offset} (the field holds the pseudo-header sum, as Linux leaves it for
 *       {@code CHECKSUM_PARTIAL}), in place in the kernel's block, which is ours until handed back;</li>
 *   <li>{@code GSO_TCPV4}/{@code GSO_TCPV6}: the frame is cut into segments of {@code gso_size} payload bytes by
 *       {@link GsoSegmenter} (the helper the transmit direction uses too), written into a scratch area owned by this
 *       object;</li>
 *   <li>anything else with GSO (UDP fragmentation offload, UDP_L4; the ECN bit is accepted), a header that does not
 *       validate ({@code csum_start}/{@code csum_offset} outside the frame, {@code gso_size} below 8 or
 *       {@code GSO_BY_FRAGS}, unknown flags or GSO type, an IPv6 extension header, headers that do not add up), or a
 *       segment longer than the slot size is dropped (length -1) and counted in {@link #dropped()}.</li>
 * </ul>
 * The header is validated before anything in it is trusted, by the rules the transmit direction applies to a guest's
 * header ({@link GsoSegmenter#checksumFieldsValid}, {@link GsoSegmenter#checkTcpOffload}); every offset is checked
 * against the frame length.
 * One receive block is processed at a time, when the first frame of it is asked for; the block goes back to the
 * kernel when every frame made from it is released. Allocation-free after construction; one thread.
 */
public final class VnetRxFrames
{
    /** Bytes of the virtio_net_hdr the kernel puts before each frame (no num_buffers). */
    public static final int VNET_HDR_LENGTH = VirtioNetHeader.LEGACY_LENGTH;

    private final TpacketV3RxRing ring;
    private final int maxFrameLength;
    private final MemorySegment scratchSegment;
    private final long scratch;
    private final long scratchLength;
    private final long[] addresses;
    private final int[] lengths;
    private final long[] headers;
    private final GsoSegmenter segmenter = new GsoSegmenter();

    private int frames;
    private int released;
    private long scratchUsed;
    private long guestFeatures;
    private boolean guestCsum;
    private boolean guestTso4;
    private boolean guestTso6;
    private boolean guestEcn;

    private long checksumsCompleted;
    private long segmented;
    private long dropped;
    private long checksumsPassed;
    private long gsoPassed;
    private long dataValidPassed;

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
        this.headers = new long[capacity];
    }

    /**
     * Sets which offloads frames may be passed to the guest with: its negotiated features, on the dataplane thread
     * when its queue pair attaches, 0 when it detaches (until then every frame is made plain). Frames already made
     * with an offload for the old features and not yet released are dropped and counted: the next guest may not
     * take it (this happens only around a reattach).
     *
     * @param negotiatedFeatures the features the guest's driver accepted.
     */
    public void guestFeatures(final long negotiatedFeatures)
    {
        if (negotiatedFeatures == guestFeatures)
        {
            return;
        }
        guestFeatures = negotiatedFeatures;
        guestCsum = FeatureBit.GUEST_CSUM.isSetIn(negotiatedFeatures);
        // §5.1.3.1: GUEST_TSO4/6 and GUEST_ECN require GUEST_CSUM.
        guestTso4 = guestCsum && FeatureBit.GUEST_TSO4.isSetIn(negotiatedFeatures);
        guestTso6 = guestCsum && FeatureBit.GUEST_TSO6.isSetIn(negotiatedFeatures);
        guestEcn = guestCsum && FeatureBit.GUEST_ECN.isSetIn(negotiatedFeatures);
        for (int i = released; i < frames; i++)
        {
            if (headers[i] != 0)
            {
                headers[i] = 0;
                lengths[i] = -1;
                dropped++;
            }
        }
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

    /**
     * @return address of the 10-byte virtio_net_hdr the guest must receive with the {@code i}-th unreleased frame
     * (an offload it negotiated), or 0 for a plain frame (flags 0, GSO_NONE).
     */
    public long frameVnetHeader(final int i)
    {
        return headers[released + i];
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
        add(address, length, 0);
    }

    private void add(final long address, final int length, final long header)
    {
        if (frames < addresses.length)
        {
            addresses[frames] = address;
            lengths[frames] = length;
            headers[frames] = header;
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
        if (!GsoSegmenter.checksumFieldsValid(needsCsum, csumStart, csumOffset, length))
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
                if (guestCsum)
                {
                    add(frame, length, VirtioNetHeader.write(hdr, F_NEEDS_CSUM, GSO_NONE, 0, 0, csumStart, csumOffset));
                    checksumsPassed++;
                    return;
                }
                GsoSegmenter.completeChecksum(frame, length, csumStart, csumOffset);
                checksumsCompleted++;
            }
            else if ((flags & F_DATA_VALID) != 0 && guestCsum)
            {
                add(frame, length, VirtioNetHeader.write(hdr, F_DATA_VALID, GSO_NONE, 0, 0, 0, 0));
                dataValidPassed++;
                return;
            }
            add(frame, length);
            return;
        }
        final GsoSegmenter segmenter = this.segmenter;
        final int verdict = segmenter.checkTcpOffload(frame, length, gsoType, gsoSize, needsCsum, csumStart, csumOffset);
        if (verdict == GsoSegmenter.TCP_OFFLOAD_INVALID)
        {
            drop();
            return;
        }
        final int baseType = gsoType & ~GSO_ECN;
        if (verdict == GsoSegmenter.TCP_OFFLOAD_VALID && (baseType == GSO_TCPV4 ? guestTso4 : guestTso6) &&
            (gsoType == baseType || guestEcn) && length > segmenter.headersLength() && length <= MAX_FRAME_LENGTH)
        {
            add(frame, length, VirtioNetHeader.write(hdr, F_NEEDS_CSUM, gsoType, segmenter.headersLength(), gsoSize, csumStart,
                csumOffset));
            gsoPassed++;
            return;
        }
        segment(frame, length, gsoSize);
    }

    /** Cuts a TCP GSO frame whose headers {@link GsoSegmenter#parseTcp} checked into segments of {@code mss}. */
    private void segment(final long frame, final int length, final int mss)
    {
        final GsoSegmenter segmenter = this.segmenter;
        if (segmenter.headersLength() + mss > maxFrameLength)
        {
            drop();
            return;
        }
        final int count = segmenter.segmentCount(length, mss);
        final long needed = (long)count * ((segmenter.headersLength() + mss + 63) & ~63L);
        if (needed > scratchLength - scratchUsed || count > addresses.length - frames)
        {
            drop();
            return;
        }
        for (int i = 0; i < count; i++)
        {
            final long out = scratch + scratchUsed;
            final int segmentLength = segmenter.writeSegment(frame, length, mss, i, out);
            add(out, segmentLength);
            scratchUsed += (segmentLength + 63) & ~63L;
        }
        segmented++;
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

    /** @return frames passed to the guest with NEEDS_CSUM and no GSO (it negotiated GUEST_CSUM). */
    public long checksumsPassed()
    {
        return checksumsPassed;
    }

    /** @return TCP GSO frames passed to the guest whole (it negotiated GUEST_TSO4/6). */
    public long gsoPassed()
    {
        return gsoPassed;
    }

    /** @return frames passed to the guest with DATA_VALID (it negotiated GUEST_CSUM). */
    public long dataValidPassed()
    {
        return dataValidPassed;
    }

    /** @return frames dropped: bad header, unsupported GSO, too long. */
    public long dropped()
    {
        return dropped;
    }
}
