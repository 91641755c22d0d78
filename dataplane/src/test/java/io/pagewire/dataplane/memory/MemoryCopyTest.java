package io.pagewire.dataplane.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

/** Copies of every length around the inline/stub boundary, at odd alignments, move exactly the bytes asked for. */
class MemoryCopyTest
{
    @Test
    void everyLengthAndAlignmentCopiesExactlyItsBytes()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment source = arena.allocate(512, 64);
            final MemorySegment destination = arena.allocate(512, 64);
            for (int i = 0; i < 512; i++)
            {
                source.set(ValueLayout.JAVA_BYTE, i, (byte)(i * 7 + 3));
            }
            for (int length = 0; length <= 2 * MemoryCopy.SMALL_COPY_MAX + 3; length++)
            {
                for (int sourceOffset = 0; sourceOffset < 9; sourceOffset += 3)
                {
                    for (int destinationOffset = 0; destinationOffset < 9; destinationOffset += 4)
                    {
                        destination.fill((byte)0x5A);
                        MemoryCopy.copy(source.address() + sourceOffset, destination.address() + destinationOffset,
                            length);
                        for (int i = 0; i < 256; i++)
                        {
                            final byte expected = i >= destinationOffset && i < destinationOffset + length ?
                                source.get(ValueLayout.JAVA_BYTE, sourceOffset + i - destinationOffset) : 0x5A;
                            assertEquals(expected, destination.get(ValueLayout.JAVA_BYTE, i),
                                "length " + length + " from +" + sourceOffset + " to +" + destinationOffset +
                                    ", byte " + i);
                        }
                    }
                }
            }
        }
    }
}
