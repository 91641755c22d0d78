package io.pagewire.dataplane.bridge;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static io.pagewire.dataplane.bridge.TestFrames.NO_TAG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Frame classification and the VLAN edits, byte for byte: the edited frame is the expected array exactly, at the
 * shortest classifiable lengths, at Ethernet's minimum and at 65535 bytes, whole and in scattered pieces.
 */
class VlanEditTest
{
    private static final long DST = 0x01_00_5E_00_00_FBL;
    private static final long SRC = 0x52_54_00_12_34_56L;

    @Test
    void classifiesAddressesAndTags()
    {
        try (TestFrames frames = new TestFrames())
        {
            final MemorySegment untagged = frames.frame(DST, SRC, NO_TAG, 60);
            final long at = untagged.address();
            assertEquals(DST, EthernetFrame.destinationMac(at));
            assertEquals(SRC, EthernetFrame.sourceMac(at));
            assertEquals(0x0800, EthernetFrame.etherType(at));
            assertFalse(EthernetFrame.isTagged(at, 60));
            assertTrue(EthernetFrame.isGroup(DST));
            assertFalse(EthernetFrame.isBroadcast(DST));
            assertTrue(EthernetFrame.isBroadcast(EthernetFrame.BROADCAST));
            assertTrue(EthernetFrame.isGroup(EthernetFrame.BROADCAST));
            assertFalse(EthernetFrame.isGroup(SRC));
            assertTrue(EthernetFrame.isValidSource(SRC));
            assertFalse(EthernetFrame.isValidSource(0));
            assertFalse(EthernetFrame.isValidSource(DST));

            final MemorySegment tagged = frames.frame(DST, SRC, 0xA00A, 64);
            assertTrue(EthernetFrame.isTagged(tagged.address(), 64));
            assertEquals(0xA00A, EthernetFrame.tci(tagged.address()));
            assertEquals(10, EthernetFrame.vid(EthernetFrame.tci(tagged.address())));
            assertFalse(EthernetFrame.isTagged(tagged.address(), 17), "too short to hold the tag");

            final MemorySegment sTagged = frames.frame(DST, SRC, NO_TAG, 64);
            TestFrames.putShort(sTagged, 12, EthernetFrame.TPID_8021AD);
            assertFalse(EthernetFrame.isTagged(sTagged.address(), 64), "an S-tag is an EtherType to a C-VLAN bridge");
        }
    }

    @Test
    void parsesAndFormatsMacs()
    {
        assertEquals(SRC, EthernetFrame.parseMac("52:54:00:12:34:56"));
        assertEquals(SRC, EthernetFrame.parseMac("52:54:00:12:34:56".toUpperCase()));
        assertEquals("52:54:00:12:34:56", EthernetFrame.formatMac(SRC));
        assertEquals("ff:ff:ff:ff:ff:ff", EthernetFrame.formatMac(EthernetFrame.BROADCAST));
        assertThrows(IllegalArgumentException.class, () -> EthernetFrame.parseMac("52:54:00:12:34"));
        assertThrows(IllegalArgumentException.class, () -> EthernetFrame.parseMac("52-54-00-12-34-56"));
        assertThrows(IllegalArgumentException.class, () -> EthernetFrame.parseMac("52:54:00:12:34:5g"));
    }

    @Test
    void pushWritesTheMacsTheTagThenTheRest()
    {
        for (final int length : new int[] {14, 60, 1514, 65531, 65535})
        {
            checkEdit(VlanEdit.push(0x6064), NO_TAG, length);
        }
    }

    @Test
    void popSkipsTheFourTagBytes()
    {
        for (final int length : new int[] {18, 64, 1518, 65535})
        {
            checkEdit(VlanEdit.pop(), 0x0005, length);
        }
    }

    @Test
    void rewriteReplacesTheTci()
    {
        for (final int length : new int[] {18, 64, 65535})
        {
            checkEdit(VlanEdit.rewrite(0xE123), 0xE000, length);
        }
    }

    @Test
    void noneCopiesAsIs()
    {
        for (final int length : new int[] {14, 60, 65535})
        {
            checkEdit(VlanEdit.NONE, NO_TAG, length);
        }
    }

    @Test
    void theEditIsAnIntWithItsOperationAndTci()
    {
        assertEquals(VlanEdit.OP_PUSH, VlanEdit.op(VlanEdit.push(0xFFFF)));
        assertEquals(0xFFFF, VlanEdit.tci(VlanEdit.push(0xFFFF)));
        assertEquals(VlanEdit.OP_POP, VlanEdit.op(VlanEdit.pop()));
        assertEquals(VlanEdit.OP_REWRITE, VlanEdit.op(VlanEdit.rewrite(7)));
        assertEquals(VlanEdit.NONE, VlanEdit.op(VlanEdit.NONE));
        assertEquals(65539, VlanEdit.editedLength(VlanEdit.push(1), 65535));
        assertEquals(14, VlanEdit.editedLength(VlanEdit.pop(), 18));
        assertEquals(64, VlanEdit.editedLength(VlanEdit.rewrite(1), 64));
    }

    /**
     * Applies {@code edit} to a frame of {@code length} bytes (tagged with {@code tci} unless {@link
     * TestFrames#NO_TAG}) both whole ({@link VlanEdit#copy}) and in random pieces ({@link VlanEdit#copyRange}, as a
     * writer scattering over guest buffers does), and compares both with the expected bytes built by hand.
     */
    private static void checkEdit(final int edit, final int tci, final int length)
    {
        try (TestFrames frames = new TestFrames())
        {
            final MemorySegment frame = frames.frame(0x02_00_00_00_00_01L, SRC, tci, length);
            final byte[] in = TestFrames.bytes(frame, length);
            final byte[] expected = expected(edit, in);
            final int outLength = VlanEdit.editedLength(edit, length);
            assertEquals(expected.length, outLength);

            final MemorySegment out = frames.allocate(outLength + 8);
            out.fill((byte)0x55);
            assertEquals(outLength, VlanEdit.copy(edit, frame.address(), length, out.address()));
            assertArrayEquals(expected, TestFrames.bytes(out, outLength), "copy, length " + length);
            assertEquals(0x55, out.get(ValueLayout.JAVA_BYTE, outLength), "nothing written past the end");

            final SplittableRandom random = new SplittableRandom(length);
            for (int round = 0; round < 20; round++)
            {
                out.fill((byte)0x55);
                int offset = 0;
                while (offset < outLength)
                {
                    final int piece = Math.min(outLength - offset, 1 + random.nextInt(round < 10 ? 20 : 5000));
                    VlanEdit.copyRange(edit, frame.address(), length, offset, out.address() + offset, piece);
                    offset += piece;
                }
                assertArrayEquals(expected, TestFrames.bytes(out, outLength), "pieces, length " + length);
                assertEquals(0x55, out.get(ValueLayout.JAVA_BYTE, outLength));
            }
        }
    }

    private static byte[] expected(final int edit, final byte[] in)
    {
        final byte[] tag = {(byte)0x81, 0x00, (byte)(VlanEdit.tci(edit) >>> 8), (byte)VlanEdit.tci(edit)};
        final byte[] macs = Arrays.copyOfRange(in, 0, Math.min(12, in.length));
        return switch (VlanEdit.op(edit))
        {
            case VlanEdit.OP_PUSH -> concat(macs, tag, Arrays.copyOfRange(in, 12, in.length));
            case VlanEdit.OP_POP -> concat(macs, Arrays.copyOfRange(in, 16, in.length));
            case VlanEdit.OP_REWRITE -> concat(macs, tag, Arrays.copyOfRange(in, 16, in.length));
            default -> in.clone();
        };
    }

    private static byte[] concat(final byte[]... parts)
    {
        int length = 0;
        for (final byte[] part : parts)
        {
            length += part.length;
        }
        final byte[] all = new byte[length];
        int at = 0;
        for (final byte[] part : parts)
        {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }
}
