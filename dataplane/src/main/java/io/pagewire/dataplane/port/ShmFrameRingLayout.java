package io.pagewire.dataplane.port;

/**
 * Byte layout of one shared-memory frame ring: a single-producer single-consumer ring of fixed-size slots, the
 * shape of a NIC descriptor ring with its buffers inline. All fields are little-endian; offsets are from the start
 * of the ring, which is 64-byte aligned.
 * <pre>
 * Ring header (192 bytes)
 *   0               8       12      16      20                                                  64
 *   +---------------+-------+-------+-------+---------------------------------------------------+
 *   | magic (u64)   |version|slot   |slot   | reserved, zero                                    |
 *   | "PWFRRING"    | (u32) |count  |size   |                                                   |
 *   +---------------+-------+-------+-------+---------------------------------------------------+
 *   64              72                                                                          128
 *   +---------------+---------------------------------------------------------------------------+
 *   | producer index| padding: the producer's cache line, written only by the producer           |
 *   | (u64)         |                                                                           |
 *   +---------------+---------------------------------------------------------------------------+
 *   128             136                                                                         192
 *   +---------------+---------------------------------------------------------------------------+
 *   | consumer index| padding: the consumer's cache line, written only by the consumer           |
 *   | (u64)         |                                                                           |
 *   +---------------+---------------------------------------------------------------------------+
 *
 * Slots: slotCount slots of slotSize bytes each, from offset 192 (64-byte aligned)
 *   slot i starts at 192 + i * slotSize
 *   0       4          8                                                              slotSize
 *   +-------+----------+--------------------------------------------------------------+
 *   |length |reserved  | frame bytes (length of them; at most slotSize - 8)           |
 *   | (u32) |(u32)     |                                                              |
 *   +-------+----------+--------------------------------------------------------------+
 * </pre>
 * The producer and consumer indices are free-running u64 counts of frames committed and released since the ring was
 * formatted; they are never wrapped or masked in memory (u64 lasts centuries at any packet rate, and the arithmetic
 * {@code producer - consumer} stays correct across a u64 wrap anyway). Frame {@code n} lives in slot
 * {@code n & (slotCount - 1)}. Invariant: {@code 0 <= producer - consumer <= slotCount}.
 * <p>
 * Each index has a cache line of its own so the producer's stores do not invalidate the line the consumer writes
 * and vice versa; the header fields before them are written once, at format, and then only read.
 */
public final class ShmFrameRingLayout
{
    /** "PWFRRING" in ASCII, read as a little-endian u64: a hex dump of the file shows the letters. */
    public static final long MAGIC = asciiMagic("PWFRRING");
    /** Layout version; bumped on any incompatible change. */
    public static final int VERSION = 1;

    /** Cache line length the layout pads to. */
    public static final int CACHE_LINE_LENGTH = 64;

    /** Offset of the magic (u64). */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the version (u32). */
    public static final int VERSION_OFFSET = 8;
    /** Offset of the slot count (u32, a power of two). */
    public static final int SLOT_COUNT_OFFSET = 12;
    /** Offset of the slot size (u32, a multiple of 64). */
    public static final int SLOT_SIZE_OFFSET = 16;
    /** Offset of the producer index (u64): frames committed since format. Written only by the producer. */
    public static final int PRODUCER_INDEX_OFFSET = CACHE_LINE_LENGTH;
    /** Offset of the consumer index (u64): frames released since format. Written only by the consumer. */
    public static final int CONSUMER_INDEX_OFFSET = 2 * CACHE_LINE_LENGTH;
    /** Length of the ring header; the first slot starts here. */
    public static final int HEADER_LENGTH = 3 * CACHE_LINE_LENGTH;
    /** Offset of slot 0. */
    public static final int SLOTS_OFFSET = HEADER_LENGTH;

    /** Offset of {@code length} (u32) in a slot: bytes of frame that follow the slot header. */
    public static final int SLOT_LENGTH_OFFSET = 0;
    /** Length of the slot header ({@code length u32, reserved u32}); the frame starts here. */
    public static final int SLOT_HEADER_LENGTH = 8;
    /** Offset of the frame bytes in a slot. */
    public static final int SLOT_FRAME_OFFSET = SLOT_HEADER_LENGTH;

    /** Fewest slots a ring may have. */
    public static final int MIN_SLOT_COUNT = 2;
    /** Most slots a ring may have. */
    public static final int MAX_SLOT_COUNT = 65536;
    /** Smallest slot: header plus 120 bytes of frame, at least a minimum Ethernet frame with room to spare. */
    public static final int MIN_SLOT_SIZE = 128;
    /** Largest slot: a 64 KiB GSO frame plus headers fits. */
    public static final int MAX_SLOT_SIZE = 1 << 17;
    /** Slot sizes are multiples of this, so every slot (and its frame's cache lines) starts on a cache line. */
    public static final int SLOT_ALIGNMENT = CACHE_LINE_LENGTH;
    /**
     * Largest ring: 1 GiB, so the two rings of a port plus its header fit one mapping addressed by int offsets
     * (a {@code MappedByteBuffer} is limited to 2 GiB).
     */
    public static final int MAX_RING_LENGTH = 1 << 30;

    private ShmFrameRingLayout()
    {
    }

    /**
     * Checks a slot count.
     *
     * @param slotCount the count asked for.
     * @throws IllegalArgumentException naming the value when it is not a power of two in 2..65536.
     */
    public static void checkSlotCount(final int slotCount)
    {
        if (slotCount < MIN_SLOT_COUNT || slotCount > MAX_SLOT_COUNT || Integer.bitCount(slotCount) != 1)
        {
            throw new IllegalArgumentException(
                "slot count=" + slotCount + ": must be a power of two in " + MIN_SLOT_COUNT + ".." + MAX_SLOT_COUNT);
        }
    }

    /**
     * Checks a slot size.
     *
     * @param slotSize the size asked for, slot header included.
     * @throws IllegalArgumentException naming the value when it is not a multiple of 64 in 128..131072.
     */
    public static void checkSlotSize(final int slotSize)
    {
        if (slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE || (slotSize % SLOT_ALIGNMENT) != 0)
        {
            throw new IllegalArgumentException("slot size=" + slotSize + ": must be a multiple of " + SLOT_ALIGNMENT +
                " in " + MIN_SLOT_SIZE + ".." + MAX_SLOT_SIZE);
        }
    }

    /**
     * Bytes one ring takes, header included.
     *
     * @throws IllegalArgumentException naming the values when either is invalid or the ring would exceed
     *                                  {@link #MAX_RING_LENGTH}.
     */
    public static int requiredLength(final int slotCount, final int slotSize)
    {
        checkSlotCount(slotCount);
        checkSlotSize(slotSize);
        final long length = HEADER_LENGTH + (long)slotCount * slotSize;
        if (length > MAX_RING_LENGTH)
        {
            throw new IllegalArgumentException("slot count=" + slotCount + " x slot size=" + slotSize + " = " +
                length + " bytes: a ring may take at most " + MAX_RING_LENGTH);
        }
        return (int)length;
    }

    /** @return the longest frame a slot of this size holds. */
    public static int maxFrameLength(final int slotSize)
    {
        return slotSize - SLOT_HEADER_LENGTH;
    }

    /** @return offset from the ring start of the slot holding frame {@code index} ({@code mask = slotCount - 1}). */
    public static int slotOffset(final long index, final int mask, final int slotSize)
    {
        // No int overflow: a ring that passed requiredLength has slotCount * slotSize <= 1 GiB.
        return SLOTS_OFFSET + (int)(index & mask) * slotSize;
    }

    /** @return the u64 whose little-endian bytes are the 8 ASCII characters of {@code text}. */
    static long asciiMagic(final String text)
    {
        if (text.length() != 8)
        {
            throw new IllegalArgumentException("magic \"" + text + "\": must be 8 ASCII characters");
        }
        long value = 0;
        for (int i = 7; i >= 0; i--)
        {
            value = (value << 8) | (text.charAt(i) & 0xFF);
        }
        return value;
    }
}
