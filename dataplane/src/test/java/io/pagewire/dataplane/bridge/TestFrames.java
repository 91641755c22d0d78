package io.pagewire.dataplane.bridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Builds Ethernet frames in off-heap memory for the bridge tests: addresses, an optional 802.1Q tag, an EtherType
 * and a payload whose every byte is a function of its offset, so any shifted, lost or repeated byte shows.
 */
final class TestFrames implements AutoCloseable
{
    static final int NO_TAG = -1;

    private final Arena arena = Arena.ofShared();

    /** A frame of {@code length} bytes; {@code tci} is {@link #NO_TAG} for an untagged frame. */
    MemorySegment frame(final long destination, final long source, final int tci, final int length)
    {
        final MemorySegment frame = arena.allocate(Math.max(length, 1), 8);
        for (int i = 0; i < length; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte)(i * 7 + 3));
        }
        putMac(frame, 0, destination);
        putMac(frame, 6, source);
        if (tci != NO_TAG)
        {
            putShort(frame, 12, EthernetFrame.TPID_8021Q);
            putShort(frame, 14, tci);
            putShort(frame, 16, 0x0800);
        }
        else if (length >= 14)
        {
            putShort(frame, 12, 0x0800);
        }
        return frame;
    }

    MemorySegment allocate(final long length)
    {
        return arena.allocate(length, 8);
    }

    static void putMac(final MemorySegment frame, final int offset, final long mac)
    {
        for (int i = 0; i < 6; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, offset + i, (byte)(mac >>> (40 - 8 * i)));
        }
    }

    static void putShort(final MemorySegment frame, final int offset, final int value)
    {
        frame.set(ValueLayout.JAVA_BYTE, offset, (byte)(value >>> 8));
        frame.set(ValueLayout.JAVA_BYTE, offset + 1, (byte)value);
    }

    static byte[] bytes(final MemorySegment segment, final int length)
    {
        return segment.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
