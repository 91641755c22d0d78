package io.pagewire.dataplane.bridge;

import io.pagewire.dataplane.memory.MemoryCopy;
import org.agrona.UnsafeApi;

/**
 * The VLAN edit a frame gets on its way to one egress port, applied during the one copy from where the frame
 * arrived to where it leaves: no frame is edited in place and none is copied twice.
 * <p>
 * An edit is an {@code int}, so a decision holds one per egress port without objects: the operation in bits 17..16,
 * the TCI to write in bits 15..0.
 * <pre>
 *   NONE     out = in                                           length unchanged
 *   PUSH     out = in[0..12) + tag(TCI) + in[12..)              length + 4   (untagged in, tagged out)
 *   POP      out = in[0..12) + in[16..)                         length - 4   (tagged in, untagged out)
 *   REWRITE  out = in[0..12) + tag(TCI) + in[16..)              length       (a priority tag gets its VLAN)
 * </pre>
 * where tag(TCI) is the 4 bytes {@code 81 00 TCI-high TCI-low} (IEEE 802.1Q §9.5). The output is, in general,
 * three pieces: the 12 MAC bytes, the tag (0 or 4 bytes), the rest of the frame. {@link #copy} writes them into one
 * contiguous destination; {@link #copyRange} writes any byte range of the output, so a writer that scatters a frame
 * over several buffers (a guest's merged receive buffers) applies the edit buffer by buffer.
 * <p>
 * A frame with an offload in its virtio-net header (virtio 1.2 §5.1.6.2: {@code csum_start}, {@code hdr_len}
 * count from the frame's first byte) needs those offsets moved by {@link #lengthChange} when it is pushed or popped;
 * the header is the port's, not the bridge's, so the writer adjusts it.
 * <p>
 * A shortened frame is not padded: frames between a host's ports carry no FCS and no minimum length (virtio-net has
 * none; a NIC or the kernel pads on the wire), as the Linux bridge does when it pops a tag.
 */
public final class VlanEdit
{
    /** Copy as is. */
    public static final int NONE = 0;
    /** Operation: insert a tag after the MAC addresses. */
    public static final int OP_PUSH = 1;
    /** Operation: remove the tag after the MAC addresses. */
    public static final int OP_POP = 2;
    /** Operation: replace the tag's TCI. */
    public static final int OP_REWRITE = 3;

    private static final int MAC_BYTES = EthernetFrame.ETHER_TYPE_OFFSET;
    private static final int TAG = EthernetFrame.TAG_LENGTH;

    private VlanEdit()
    {
    }

    /** @return an edit that inserts a tag with this TCI (PCP, DEI, VID). */
    public static int push(final int tci)
    {
        return (OP_PUSH << 16) | (tci & 0xFFFF);
    }

    /** @return an edit that removes the tag. */
    public static int pop()
    {
        return OP_POP << 16;
    }

    /** @return an edit that replaces the tag's TCI. */
    public static int rewrite(final int tci)
    {
        return (OP_REWRITE << 16) | (tci & 0xFFFF);
    }

    /** @return the operation of an edit: {@link #NONE}, {@link #OP_PUSH}, {@link #OP_POP}, {@link #OP_REWRITE}. */
    public static int op(final int edit)
    {
        return edit >>> 16;
    }

    /** @return the TCI an edit writes (PUSH, REWRITE). */
    public static int tci(final int edit)
    {
        return edit & 0xFFFF;
    }

    /**
     * @param edit        the edit.
     * @param frameLength the frame's length before it (a POP needs a tagged frame, at least 18 bytes; a PUSH at
     *                    least 12).
     * @return the frame's length after it.
     */
    public static int editedLength(final int edit, final int frameLength)
    {
        return frameLength + lengthChange(edit);
    }

    /** @return what an edit adds to a frame's length: 4, -4 or 0. */
    public static int lengthChange(final int edit)
    {
        return switch (op(edit))
        {
            case OP_PUSH -> TAG;
            case OP_POP -> -TAG;
            default -> 0;
        };
    }

    /**
     * Copies a frame from {@code source} to {@code destination} (not overlapping), applying the edit.
     *
     * @param edit        the edit.
     * @param source      host address of the frame.
     * @param frameLength its length, at least 12 (18 for POP and REWRITE: the caller has classified the frame).
     * @param destination host address with room for {@link #editedLength} bytes.
     * @return the length written.
     */
    public static int copy(final int edit, final long source, final int frameLength, final long destination)
    {
        final int op = op(edit);
        if (op == NONE)
        {
            MemoryCopy.copy(source, destination, frameLength);
            return frameLength;
        }
        MemoryCopy.copy(source, destination, MAC_BYTES);
        final int tagBytes = op == OP_POP ? 0 : TAG;
        if (tagBytes != 0)
        {
            putTag(destination + MAC_BYTES, edit);
        }
        final int sourceRest = op == OP_PUSH ? MAC_BYTES : MAC_BYTES + TAG;
        MemoryCopy.copy(source + sourceRest, destination + MAC_BYTES + tagBytes, frameLength - sourceRest);
        return frameLength - sourceRest + MAC_BYTES + tagBytes;
    }

    /**
     * Copies bytes {@code [outOffset, outOffset + length)} of the edited frame to {@code destination}: the edited
     * frame is never built, each byte is read once from the source (or from the edit, for the tag).
     *
     * @param edit        the edit.
     * @param source      host address of the frame.
     * @param frameLength its length (as {@link #copy}).
     * @param outOffset   first byte of the edited frame to write.
     * @param destination host address of where that byte goes.
     * @param length      bytes to write; {@code outOffset + length <= editedLength(edit, frameLength)}.
     */
    public static void copyRange(
        final int edit,
        final long source,
        final int frameLength,
        final int outOffset,
        final long destination,
        final int length)
    {
        final int op = op(edit);
        if (op == NONE)
        {
            MemoryCopy.copy(source + outOffset, destination, length);
            return;
        }
        final int tagEnd = op == OP_POP ? MAC_BYTES : MAC_BYTES + TAG;
        final int sourceRest = op == OP_PUSH ? MAC_BYTES : MAC_BYTES + TAG;
        int out = outOffset;
        long to = destination;
        final int end = outOffset + length;
        if (out < MAC_BYTES && out < end)
        {
            final int n = Math.min(MAC_BYTES, end) - out;
            MemoryCopy.copy(source + out, to, n);
            out += n;
            to += n;
        }
        while (out < tagEnd && out < end)
        {
            UnsafeApi.putByte(to, tagByte(edit, out - MAC_BYTES));
            out++;
            to++;
        }
        if (out < end)
        {
            MemoryCopy.copy(source + sourceRest + (out - tagEnd), to, end - out);
        }
    }

    private static void putTag(final long address, final int edit)
    {
        for (int i = 0; i < TAG; i++)
        {
            UnsafeApi.putByte(address + i, tagByte(edit, i));
        }
    }

    private static byte tagByte(final int edit, final int i)
    {
        // Network order: TPID 0x8100 then the TCI.
        return (byte)switch (i)
        {
            case 0 -> EthernetFrame.TPID_8021Q >>> 8;
            case 1 -> EthernetFrame.TPID_8021Q & 0xFF;
            case 2 -> tci(edit) >>> 8;
            default -> tci(edit) & 0xFF;
        };
    }
}
