package io.pagewire.dataplane.guest;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * The test traffic's frame: a valid Ethernet frame whose payload proves its own integrity, so whoever receives it
 * (the guest model, the NIC-side sink, a test) can detect loss, duplication, reordering and corruption of any byte.
 * <pre>
 *   0            6            12       14            22               30           38
 *   +------------+------------+--------+-------------+----------------+------------+-------------...
 *   | dst MAC    | src MAC    | 0x88B5 | sequence    | intended send  | check      | payload
 *   |            |            |        | (u64 LE)    | time ns (u64)  | (u64)      | (random)
 *   +------------+------------+--------+-------------+----------------+------------+-------------...
 * </pre>
 * {@code check} is a 64-bit FNV-1a style hash of the payload mixed with the sequence and the send time. EtherType
 * 0x88B5 is IEEE's "local experimental" type. Frames are at least {@link #MIN_FRAME_LENGTH} bytes.
 */
public final class FrameFormat
{
    /** Smallest Ethernet frame without FCS. */
    public static final int MIN_FRAME_LENGTH = 60;
    /** Offset of the sequence number. */
    public static final int SEQUENCE_OFFSET = 14;
    /** Offset of the intended send time (System.nanoTime of the source). */
    public static final int SEND_TIME_OFFSET = 22;
    /** Offset of the check value. */
    public static final int CHECK_OFFSET = 30;
    /** Offset of the payload. */
    public static final int PAYLOAD_OFFSET = 38;
    /** IEEE 802 local experimental EtherType. */
    public static final int ETHER_TYPE = 0x88B5;

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private FrameFormat()
    {
    }

    /**
     * Writes the Ethernet header and a pseudo-random payload for a template frame (sequence, time and check are
     * stamped per send with {@link #stamp}).
     *
     * @return the payload hash to pass to {@link #stamp}.
     */
    public static long writeTemplate(final UnsafeBuffer frame, final int length, final long seed)
    {
        final byte[] destination = {0x02, 0, 0, 0, 0, 0x02};
        final byte[] source = {0x02, 0, 0, 0, 0, 0x01};
        frame.putBytes(0, destination);
        frame.putBytes(6, source);
        frame.putByte(12, (byte)(ETHER_TYPE >>> 8));
        frame.putByte(13, (byte)ETHER_TYPE);
        long state = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = PAYLOAD_OFFSET; i < length; i++)
        {
            state ^= state << 13;
            state ^= state >>> 7;
            state ^= state << 17;
            frame.putByte(i, (byte)state);
        }
        return payloadHash(frame, 0, length);
    }

    /**
     * Stamps a frame (already holding a template's bytes) with its sequence number and intended send time.
     */
    public static void stamp(
        final UnsafeBuffer buffer, final int frameOffset, final long payloadHash, final long sequence,
        final long sendTimeNs)
    {
        buffer.putLong(frameOffset + SEQUENCE_OFFSET, sequence);
        buffer.putLong(frameOffset + SEND_TIME_OFFSET, sendTimeNs);
        buffer.putLong(frameOffset + CHECK_OFFSET, check(payloadHash, sequence, sendTimeNs));
    }

    /**
     * @return whether a frame claims to be a test frame: long enough and of {@link #ETHER_TYPE}. Frames that do not
     * are someone else's traffic and cannot be verified.
     */
    public static boolean isOurs(final UnsafeBuffer buffer, final int frameOffset, final int length)
    {
        return length >= MIN_FRAME_LENGTH &&
            (buffer.getByte(frameOffset + 12) & 0xFF) == (ETHER_TYPE >>> 8) &&
            (buffer.getByte(frameOffset + 13) & 0xFF) == (ETHER_TYPE & 0xFF);
    }

    /**
     * @return whether a received frame is intact: right EtherType, long enough, and its check matches its bytes.
     */
    public static boolean isIntact(final UnsafeBuffer buffer, final int frameOffset, final int length)
    {
        if (length < MIN_FRAME_LENGTH ||
            (buffer.getByte(frameOffset + 12) & 0xFF) != (ETHER_TYPE >>> 8) ||
            (buffer.getByte(frameOffset + 13) & 0xFF) != (ETHER_TYPE & 0xFF))
        {
            return false;
        }
        final long expected = check(payloadHash(buffer, frameOffset, length),
            buffer.getLong(frameOffset + SEQUENCE_OFFSET), buffer.getLong(frameOffset + SEND_TIME_OFFSET));
        return expected == buffer.getLong(frameOffset + CHECK_OFFSET);
    }

    /** @return the sequence number of a frame. */
    public static long sequence(final UnsafeBuffer buffer, final int frameOffset)
    {
        return buffer.getLong(frameOffset + SEQUENCE_OFFSET);
    }

    /** @return the intended send time of a frame. */
    public static long sendTimeNs(final UnsafeBuffer buffer, final int frameOffset)
    {
        return buffer.getLong(frameOffset + SEND_TIME_OFFSET);
    }

    static long payloadHash(final UnsafeBuffer buffer, final int frameOffset, final int length)
    {
        long hash = FNV_OFFSET ^ length;
        int i = frameOffset + PAYLOAD_OFFSET;
        final int end = frameOffset + length;
        for (; i + 8 <= end; i += 8)
        {
            hash = (hash ^ buffer.getLong(i)) * FNV_PRIME;
        }
        for (; i < end; i++)
        {
            hash = (hash ^ buffer.getByte(i)) * FNV_PRIME;
        }
        return hash;
    }

    private static long check(final long payloadHash, final long sequence, final long sendTimeNs)
    {
        long hash = payloadHash;
        hash = (hash ^ sequence) * FNV_PRIME;
        hash = (hash ^ sendTimeNs) * FNV_PRIME;
        return hash ^ (hash >>> 29);
    }
}
