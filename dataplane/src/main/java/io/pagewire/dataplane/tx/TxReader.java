package io.pagewire.dataplane.tx;

import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.GsoSegmenter;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.dataplane.virtio.ScatterList;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

import static io.pagewire.dataplane.virtio.VirtioNetHeader.CSUM_OFFSET_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.CSUM_START_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.FLAGS_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.F_NEEDS_CSUM;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_NONE;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_SIZE_OFFSET;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV4;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TCPV6;
import static io.pagewire.dataplane.virtio.VirtioNetHeader.GSO_TYPE_OFFSET;

/**
 * Collects frames from a guest's transmit virtqueue (virtio 1.2 §5.1.6.2): each available chain holds a virtio-net
 * header followed by one frame, split across any number of device-readable descriptors or an indirect table. The
 * header may itself straddle descriptors (VERSION_1 / ANY_LAYOUT allow any layout).
 * <p>
 * Frames are copied once, straight from guest memory into the sink. A chain shorter than the header breaks the
 * queue ({@link QueueError#HEADER_TRUNCATED}); a frame the device cannot send (shorter than an Ethernet header, too
 * long, or GSO that was never offered) is returned to the guest as used and counted, so the guest's buffer is not lost.
 * Each call is one burst of the queue's {@linkplain DeviceVirtqueue#burstReadBudget descriptor read budget}: chains
 * left when it is spent wait for the next call.
 * <p>
 * Offloads (the driver negotiated CSUM, and HOST_TSO4/HOST_TSO6 for GSO; {@code features.host_tso}): a frame whose
 * header asks for one ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}, gso_type TCPV4/TCPV6) is validated first (§5.1.6.2):
 * csum_start at or after the Ethernet header and csum_start + csum_offset + 2 inside the frame; for GSO a negotiated
 * TCP type without ECN (HOST_ECN is never offered), NEEDS_CSUM set (the driver MUST, §5.1.6.2.1), gso_size at least
 * {@link GsoSegmenter#MIN_GSO_SIZE} and below 0xFFFF, Ethernet/IP/TCP headers that add up and a checksum at the TCP
 * checksum field (hdr_len is only a hint, not relied on, §5.1.6.2.2); segments of gso_size must fit the port's frames
 * (else {@link #droppedTooLong()}), also when the kernel is to cut them. A frame that fails is returned unsent and counted
 * ({@link #droppedBadHeader()}): the spec names no queue error for it, and one bad frame must not stop the queue.
 * Unknown flag bits are ignored, as the device MUST (§5.1.6.2.2). The rules are {@link GsoSegmenter}'s, which judges
 * frames from the kernel into the guest by them too. A valid frame goes to a sink that takes offloads
 * ({@link TxSink#maxOffloadFrameLength()}) whole, with a header rebuilt from the validated values (hdr_len exact); any
 * other sink gets its checksum completed, or its segments, in software ({@link GsoSegmenter}).
 * <p>
 * What is validated is the copy that is sent, never a second read of guest memory, which the guest may rewrite at any
 * time: a GSO frame passed whole is copied into the sink's claimed room and parsed there (when it does not validate,
 * the claim is {@linkplain TxSink#abandon() given back}); one to segment is copied into a scratch area and cut from
 * there; a partial checksum is completed in the sink's room. When the sink fills between two segments of a frame, the
 * frame stays in the guest's queue and the next poll goes on from the scratch copy at the segment that did not fit
 * (the same chain still heads the queue), so no segment is sent twice or lost and the frame is not copied again.
 */
public final class TxReader
{
    /** Where in {@link #header} the header handed to the sink is built (the guest's copy is at 0, up to 12 bytes). */
    private static final int OFFLOAD_HEADER_AT = 32;
    /** Frames shorter than this (an Ethernet header: two MACs and the EtherType) are dropped as runts. */
    public static final int MIN_FRAME_LENGTH = 14;
    /** {@link #collectChain}: the chain was sent or dropped. */
    private static final int CONSUMED = 1;
    /** {@link #collectChain}: the sink was full; the chain stays in the guest's queue. */
    private static final int SINK_FULL = 0;
    /** {@link #collectChain}: the chain could not be read; the queue is broken. */
    private static final int QUEUE_BROKEN = -1;

    private final DeviceVirtqueue queue;
    private final int headerLength;
    private final ScatterList scatter;
    private final UnsafeBuffer header = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
    private final boolean csum;
    private final boolean tso4;
    private final boolean tso6;
    private final GsoSegmenter segmenter;
    private final UnsafeBuffer frameScratch;

    /**
     * {@link #frameScratch} holds the validated frame of the chain at {@link #resumeHead} (available ring index
     * {@link #resumeAvailIdx}), whose segments from {@link #resumeSegment} on the sink had no room for yet.
     */
    private boolean resuming;
    private int resumeHead;
    private int resumeAvailIdx;
    private int resumeSegment;
    private int resumeLength;
    private int resumeMss;

    private long takenFrames;
    private long nicFrames;
    private long sentFrames;
    private long sentBytes;
    private long sinkFull;
    private long droppedTooLong;
    private long droppedGso;
    private long droppedBadHeader;
    private long droppedRunt;
    private long checksumsCompleted;
    private long segmented;
    private long offloadsPassed;

    /**
     * @param queue        the guest's transmit queue.
     * @param headerLength 10 or 12, from {@link VirtioNetHeader#length(long)}.
     */
    public TxReader(final DeviceVirtqueue queue, final int headerLength)
    {
        this(queue, headerLength, 0);
    }

    /**
     * @param queue              the guest's transmit queue.
     * @param headerLength       10 or 12, from {@link VirtioNetHeader#length(long)}.
     * @param negotiatedFeatures the driver's features: CSUM, HOST_TSO4 and HOST_TSO6 decide which offloads frames may
     *                           ask for (§5.1.3.1: the TSO bits require CSUM); without CSUM the header is not read
     *                           beyond gso_type.
     */
    public TxReader(final DeviceVirtqueue queue, final int headerLength, final long negotiatedFeatures)
    {
        this.queue = queue;
        this.headerLength = headerLength;
        this.scatter = new ScatterList(2 * queue.size(), 1);
        this.csum = FeatureBit.CSUM.isSetIn(negotiatedFeatures);
        this.tso4 = csum && FeatureBit.HOST_TSO4.isSetIn(negotiatedFeatures);
        this.tso6 = csum && FeatureBit.HOST_TSO6.isSetIn(negotiatedFeatures);
        this.segmenter = csum ? new GsoSegmenter() : null;
        // A whole GSO frame, for segmenting it from one contiguous copy (the guest's may be scattered anywhere).
        this.frameScratch = tso4 || tso6 ?
            new UnsafeBuffer(BufferUtil.allocateDirectAligned(VirtioNetHeader.MAX_FRAME_LENGTH + 1, 64)) : null;
    }

    /**
     * Moves up to {@code burst} frames from the guest to {@code sink} and adds their used elements; the caller
     * publishes them with {@link DeviceVirtqueue#publishUsed()} once per burst.
     *
     * @return chains consumed (frames sent plus frames dropped), or 0 when there was nothing, the sink was full or
     * the queue is broken.
     */
    public int collectFromGuest(final TxSink sink, final int burst)
    {
        queue.beginBurst();
        int available = queue.availableChains();
        if (available >= 0 && available < burst)
        {
            // The cached count may be stale: one acquire-load of avail.idx per burst picks up newer chains.
            available = queue.refreshAvailableChains();
        }
        if (available <= 0)
        {
            return 0;
        }
        final int limit = Math.min(available, burst);
        final DeviceVirtqueue queue = this.queue;
        int consumed = 0;
        while (consumed < limit)
        {
            final int head = queue.availHead(0);
            if (head < 0)
            {
                break;
            }
            if (resuming && head == resumeHead && queue.lastAvailIdx() == resumeAvailIdx)
            {
                // The chain whose segments did not all fit still heads the queue: go on from the copy that was
                // validated, without reading its 64 KiB from guest memory again.
                if (!sendSegments(sink))
                {
                    sinkFull++;
                    break;
                }
            }
            else
            {
                resuming = false;
                final int result = collectChain(sink, head);
                if (result != CONSUMED)
                {
                    if (result == SINK_FULL)
                    {
                        sinkFull++;
                        // A frame cut short between segments is resumed from frameScratch, for this chain only.
                        resumeHead = head;
                        resumeAvailIdx = queue.lastAvailIdx();
                    }
                    break;
                }
            }
            resuming = false;
            queue.consume(1);
            queue.addUsed(head, 0);
            consumed++;
        }
        takenFrames += consumed;
        return consumed;
    }

    /**
     * Reads the chain at {@code head} and sends its frame, or drops and counts it.
     *
     * @return {@link #CONSUMED}, {@link #SINK_FULL} or {@link #QUEUE_BROKEN}.
     */
    private int collectChain(final TxSink sink, final int head)
    {
        final ScatterList scatter = this.scatter;
        scatter.reset();
        final long chainLength = queue.readChain(head, false, scatter);
        if (chainLength < 0)
        {
            return QUEUE_BROKEN;
        }
        if (chainLength < headerLength)
        {
            queue.markBroken(QueueError.HEADER_TRUNCATED);
            return QUEUE_BROKEN;
        }
        final long frameLength = chainLength - headerLength;
        if (frameLength < MIN_FRAME_LENGTH)
        {
            // Shorter than an Ethernet header (a chain holding only the virtio-net header sends 0 bytes): no port can
            // put it on a wire. Returned to the guest and counted, as a too-long frame is.
            droppedRunt++;
            return CONSUMED;
        }
        scatter.copyOut(0, header.addressOffset(), headerLength);
        final int gsoType = header.getByte(GSO_TYPE_OFFSET) & 0xFF;
        if (csum && ((header.getByte(FLAGS_OFFSET) & F_NEEDS_CSUM) != 0 || gsoType != GSO_NONE))
        {
            if (frameLength > VirtioNetHeader.MAX_FRAME_LENGTH)
            {
                droppedTooLong++;
            }
            else if (!collectOffload(sink, (int)frameLength, gsoType))
            {
                return SINK_FULL;
            }
        }
        else if (frameLength > VirtioNetHeader.MAX_FRAME_LENGTH || frameLength > sink.maxFrameLength())
        {
            droppedTooLong++;
        }
        else if (gsoType != GSO_NONE)
        {
            droppedGso++;
        }
        else
        {
            final long destination = sink.claim((int)frameLength);
            if (destination == 0)
            {
                return SINK_FULL;
            }
            scatter.copyOut(headerLength, destination, (int)frameLength);
            sink.commit((int)frameLength);
            nicFrames++;
            sent((int)frameLength);
        }
        return CONSUMED;
    }

    /**
     * Validates the offload the header in {@link #header} asks for and sends the frame (whole with its header, or done
     * in software), or drops and counts it.
     *
     * @return false when the sink was full (the chain stays in the guest's queue), true when the frame was sent or
     * dropped.
     */
    private boolean collectOffload(final TxSink sink, final int frameLength, final int gsoType)
    {
        final UnsafeBuffer header = this.header;
        final boolean needsCsum = (header.getByte(FLAGS_OFFSET) & F_NEEDS_CSUM) != 0;
        final int csumStart = header.getShort(CSUM_START_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int csumOffset = header.getShort(CSUM_OFFSET_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (!GsoSegmenter.checksumFieldsValid(needsCsum, csumStart, csumOffset, frameLength))
        {
            droppedBadHeader++;
            return true;
        }
        if (gsoType == GSO_NONE)
        {
            return sendChecksummed(sink, frameLength, csumStart, csumOffset);
        }
        if (!tso4 && !tso6)
        {
            droppedGso++;
            return true;
        }
        // gso_type is exactly a negotiated TCP type: no ECN bit (HOST_ECN is never offered), no UDP, nothing unknown.
        // The rest of the rules are those of GsoSegmenter.checkTcpOffload; the header sent on is rebuilt from what it
        // parsed (hdr_len exact, §5.1.6.2.2: the guest's is only a hint).
        if (gsoType == GSO_TCPV4 ? !tso4 : gsoType != GSO_TCPV6 || !tso6)
        {
            droppedBadHeader++;
            return true;
        }
        final int gsoSize = header.getShort(GSO_SIZE_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        // The frame is copied once and its headers are checked in that copy: in the sink's room when it goes whole,
        // else in frameScratch, first the headers and, once they passed, the rest behind them.
        final boolean whole = frameLength <= sink.maxOffloadFrameLength();
        final long frame;
        final int copied;
        if (whole)
        {
            frame = sink.claim(frameLength);
            if (frame == 0)
            {
                return false;
            }
            copied = frameLength;
        }
        else
        {
            frame = frameScratch.addressOffset();
            copied = Math.min(frameLength, GsoSegmenter.MAX_HEADERS_LENGTH);
        }
        scatter.copyOut(headerLength, frame, copied);
        final GsoSegmenter segmenter = this.segmenter;
        final int verdict = segmenter.checkTcpOffload(frame, copied, gsoType, gsoSize, needsCsum, csumStart, csumOffset);
        // Each segment must fit the port's frame limit (MTU + 14) whoever cuts it: with the frame passed whole, the
        // kernel would put segments of gso_size on the wire without checking them against the MTU.
        final boolean tooLong = verdict == GsoSegmenter.TCP_OFFLOAD_VALID &&
            segmenter.segmentLength(frameLength, gsoSize, 0) > sink.maxFrameLength();
        if (verdict != GsoSegmenter.TCP_OFFLOAD_VALID || tooLong)
        {
            if (tooLong)
            {
                droppedTooLong++;
            }
            else
            {
                droppedBadHeader++;
            }
            if (whole)
            {
                sink.abandon();
            }
            return true;
        }
        if (whole)
        {
            sink.commitOffload(frameLength,
                offloadHeader(F_NEEDS_CSUM, gsoType, segmenter.headersLength(), gsoSize, csumStart, csumOffset));
            nicFrames++;
            offloadsPassed++;
            sent(frameLength);
            return true;
        }
        scatter.copyOut(headerLength + copied, frame + copied, frameLength - copied);
        resumeLength = frameLength;
        resumeMss = gsoSize;
        resumeSegment = 0;
        return sendSegments(sink);
    }

    /** Sends a frame with NEEDS_CSUM and no GSO: with its header to a sink that takes it, else checksummed here. */
    private boolean sendChecksummed(final TxSink sink, final int frameLength, final int csumStart, final int csumOffset)
    {
        final boolean pass = frameLength <= sink.maxOffloadFrameLength();
        if (frameLength > sink.maxFrameLength())
        {
            droppedTooLong++;
            return true;
        }
        final long destination = sink.claim(frameLength);
        if (destination == 0)
        {
            return false;
        }
        scatter.copyOut(headerLength, destination, frameLength);
        if (pass)
        {
            sink.commitOffload(frameLength, offloadHeader(F_NEEDS_CSUM, GSO_NONE, 0, 0, csumStart, csumOffset));
            nicFrames++;
            offloadsPassed++;
        }
        else
        {
            GsoSegmenter.completeChecksum(destination, frameLength, csumStart, csumOffset);
            sink.commit(frameLength);
            nicFrames++;
            checksumsCompleted++;
        }
        sent(frameLength);
        return true;
    }

    /**
     * Sends the segments of the frame in {@link #frameScratch} (parsed last by {@link #segmenter}) from
     * {@link #resumeSegment} on.
     *
     * @return false when the sink filled before the last one: {@link #resuming}, and {@link #resumeSegment} says
     * where to go on.
     */
    private boolean sendSegments(final TxSink sink)
    {
        final GsoSegmenter segmenter = this.segmenter;
        final long scratch = frameScratch.addressOffset();
        final int length = resumeLength;
        final int mss = resumeMss;
        final int count = segmenter.segmentCount(length, mss);
        for (int i = resumeSegment; i < count; i++)
        {
            final int segmentLength = segmenter.segmentLength(length, mss, i);
            final long destination = sink.claim(segmentLength);
            if (destination == 0)
            {
                resumeSegment = i;
                resuming = true;
                return false;
            }
            segmenter.writeSegment(scratch, length, mss, i, destination);
            sink.commit(segmentLength);
            nicFrames++;
        }
        resumeSegment = 0;
        segmented++;
        sent(length);
        return true;
    }

    private void sent(final int frameLength)
    {
        sentFrames++;
        sentBytes += frameLength;
    }

    /** @return the address of a header rebuilt from validated values, for {@link TxSink#commitOffload}. */
    private long offloadHeader(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset)
    {
        return VirtioNetHeader.write(header.addressOffset() + OFFLOAD_HEADER_AT, flags, gsoType, hdrLen, gsoSize,
            csumStart, csumOffset);
    }

    /**
     * Continues the totals of a reader this one replaces (the queue restarted). Not a frame the old one was sending
     * in segments: its copy belongs to the queue as it was, so the new reader reads the chain afresh (the segments
     * already sent go again; TCP takes duplicates).
     */
    public void continueFrom(final TxReader previous)
    {
        takenFrames = previous.takenFrames;
        nicFrames = previous.nicFrames;
        sentFrames = previous.sentFrames;
        sentBytes = previous.sentBytes;
        sinkFull = previous.sinkFull;
        droppedTooLong = previous.droppedTooLong;
        droppedGso = previous.droppedGso;
        droppedBadHeader = previous.droppedBadHeader;
        droppedRunt = previous.droppedRunt;
        checksumsCompleted = previous.checksumsCompleted;
        segmented = previous.segmented;
        offloadsPassed = previous.offloadsPassed;
    }

    /**
     * @return frames taken from the guest's queue (chains consumed), whatever became of them: every one is in
     * {@link #sentFrames()} or in one drop count.
     */
    public long takenFrames()
    {
        return takenFrames;
    }

    /** @return frames committed to the sink: {@link #sentFrames()}, but a frame segmented here once per segment. */
    public long nicFrames()
    {
        return nicFrames;
    }

    /** @return frames of the guest handed to the sink (a frame segmented here counts once). */
    public long sentFrames()
    {
        return sentFrames;
    }

    /**
     * @return bytes of the guest's frames handed to the sink (virtio-net headers excluded; a frame segmented here
     * counts as the guest sent it, without the headers its segments repeat).
     */
    public long sentBytes()
    {
        return sentBytes;
    }

    /** @return times the sink was full, leaving frames in the guest's queue (a count of polls, not of frames). */
    public long sinkFull()
    {
        return sinkFull;
    }

    /** @return frames dropped because they exceeded {@link VirtioNetHeader#MAX_FRAME_LENGTH} or the sink's limit. */
    public long droppedTooLong()
    {
        return droppedTooLong;
    }

    /** @return frames dropped because the guest asked for segmentation offload it did not negotiate. */
    public long droppedGso()
    {
        return droppedGso;
    }

    /** @return frames dropped because their virtio-net header asked for an offload and did not validate. */
    public long droppedBadHeader()
    {
        return droppedBadHeader;
    }

    /**
     * @return frames dropped because they were shorter than {@link #MIN_FRAME_LENGTH} bytes after the virtio-net
     * header (a chain holding only the header among them): returned to the guest unsent.
     */
    public long droppedRunt()
    {
        return droppedRunt;
    }

    /** @return frames with NEEDS_CSUM whose checksum was completed here (the sink takes no offloads). */
    public long checksumsCompleted()
    {
        return checksumsCompleted;
    }

    /** @return TCP GSO frames cut into segments here (the sink takes no offloads or not that long). */
    public long segmented()
    {
        return segmented;
    }

    /** @return frames handed to the sink with their offload header ({@link TxSink#commitOffload}). */
    public long offloadsPassed()
    {
        return offloadsPassed;
    }
}
