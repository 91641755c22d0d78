package io.pagewire.dataplane.bridge;

import org.agrona.UnsafeApi;

import java.nio.ByteOrder;

/**
 * Reads what a bridge needs from an Ethernet frame at a raw host address (the frame as the port holds it: a NIC
 * slot, guest TX buffers mapped into the process, a staging buffer), with no object per frame.
 * <pre>
 *   0                6                12               14/16
 *   +----------------+----------------+----------------+----------------+----------
 *   | destination    | source         | TPID 0x8100    | TCI            | EtherType ...   (802.1Q tagged)
 *   +----------------+----------------+----------------+----------------+----------
 *                                     | EtherType      | payload ...                     (untagged)
 * </pre>
 * MACs are returned as 48-bit longs in network order (the first octet in bits 47..40), the form the {@link Fdb}
 * keys. The caller has checked the frame holds {@link #HEADER_LENGTH} bytes ({@link #TAGGED_HEADER_LENGTH} before
 * reading a tag).
 * <p>
 * Only TPID 0x8100 (the C-tag, IEEE 802.1Q §9.5) is a VLAN tag here. pagewire's bridge is a C-VLAN bridge: an
 * 802.1ad S-tag (TPID 0x88a8) is, to a C-VLAN component, an ordinary EtherType, so such a frame is untagged for
 * classification and travels unchanged as the payload of whatever VLAN its port puts it in (a provider's QinQ
 * frames cross an access port intact).
 */
public final class EthernetFrame
{
    /** Destination, source, EtherType. */
    public static final int HEADER_LENGTH = 14;
    /** Destination, source, 802.1Q tag, EtherType. */
    public static final int TAGGED_HEADER_LENGTH = 18;
    /** Offset of the EtherType, or of the TPID of a tagged frame. */
    public static final int ETHER_TYPE_OFFSET = 12;
    /** Offset of the TCI of a tagged frame. */
    public static final int TCI_OFFSET = 14;
    /** Bytes of an 802.1Q tag (TPID and TCI). */
    public static final int TAG_LENGTH = 4;
    /** TPID of an 802.1Q C-tag. */
    public static final int TPID_8021Q = 0x8100;
    /** TPID of an 802.1ad S-tag: not a tag to this bridge (see the class comment). */
    public static final int TPID_8021AD = 0x88A8;
    /** The broadcast address ff:ff:ff:ff:ff:ff. */
    public static final long BROADCAST = 0xFFFF_FFFF_FFFFL;
    /** The VID bits of a TCI. */
    public static final int VID_MASK = 0x0FFF;
    /** VID 0: a priority tag, no VLAN (802.1Q Table 9-2); the frame belongs to its port's VLAN. */
    public static final int VID_PRIORITY = 0;
    /** VID 4095: reserved, never a frame's VLAN (802.1Q Table 9-2). */
    public static final int VID_RESERVED = 0xFFF;

    private static final boolean BIG_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;

    private EthernetFrame()
    {
    }

    /** @return the destination MAC of the frame at {@code address}. */
    public static long destinationMac(final long address)
    {
        return mac(address);
    }

    /** @return the source MAC of the frame at {@code address}. */
    public static long sourceMac(final long address)
    {
        return mac(address + 6);
    }

    /** @return the 16 bits at offset 12: the EtherType, or the TPID of a tagged frame. */
    public static int etherType(final long address)
    {
        return u16(address + ETHER_TYPE_OFFSET);
    }

    /**
     * @param address     the frame.
     * @param frameLength its length.
     * @return true if the frame carries an 802.1Q tag (TPID 0x8100) and is long enough to hold it.
     */
    public static boolean isTagged(final long address, final int frameLength)
    {
        return frameLength >= TAGGED_HEADER_LENGTH && u16(address + ETHER_TYPE_OFFSET) == TPID_8021Q;
    }

    /** @return the TCI (PCP 3 bits, DEI 1, VID 12) of a tagged frame. */
    public static int tci(final long address)
    {
        return u16(address + TCI_OFFSET);
    }

    /** @return the VID of a TCI. */
    public static int vid(final int tci)
    {
        return tci & VID_MASK;
    }

    /** @return true for a group address (multicast or broadcast): the I/G bit, the low bit of the first octet. */
    public static boolean isGroup(final long mac)
    {
        return (mac & (1L << 40)) != 0;
    }

    /** @return true for ff:ff:ff:ff:ff:ff. */
    public static boolean isBroadcast(final long mac)
    {
        return mac == BROADCAST;
    }

    /**
     * @return true if {@code mac} may be a source address: not a group address and not all zeros (Linux's
     * {@code is_valid_ether_addr}; a bridge learns and forwards nothing from others).
     */
    public static boolean isValidSource(final long mac)
    {
        return mac != 0 && !isGroup(mac);
    }

    /**
     * @param text "aa:bb:cc:dd:ee:ff" (hex digits, either case).
     * @return the MAC as a 48-bit long in network order.
     * @throws IllegalArgumentException if the text is not six colon-separated octets.
     */
    public static long parseMac(final String text)
    {
        if (text.length() != 17)
        {
            throw new IllegalArgumentException("MAC " + text + ": must be six octets aa:bb:cc:dd:ee:ff");
        }
        long mac = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text.charAt(3 * i - 1) != ':')
            {
                throw new IllegalArgumentException("MAC " + text + ": must be six octets aa:bb:cc:dd:ee:ff");
            }
            final int high = Character.digit(text.charAt(3 * i), 16);
            final int low = Character.digit(text.charAt(3 * i + 1), 16);
            if (high < 0 || low < 0)
            {
                throw new IllegalArgumentException("MAC " + text + ": must be six octets aa:bb:cc:dd:ee:ff");
            }
            mac = (mac << 8) | (high << 4) | low;
        }
        return mac;
    }

    /**
     * @param mac 48 bits, network order.
     * @return "aa:bb:cc:dd:ee:ff" (control use: {@code fdb show}, messages; allocates).
     */
    public static String formatMac(final long mac)
    {
        final StringBuilder text = new StringBuilder(17);
        for (int shift = 40; shift >= 0; shift -= 8)
        {
            final int octet = (int)(mac >>> shift) & 0xFF;
            text.append(Character.forDigit(octet >>> 4, 16)).append(Character.forDigit(octet & 0xF, 16));
            if (shift > 0)
            {
                text.append(':');
            }
        }
        return text.toString();
    }

    private static long mac(final long address)
    {
        final int high = UnsafeApi.getInt(address);
        final short low = UnsafeApi.getShort(address + 4);
        return BIG_ENDIAN ?
            ((high & 0xFFFF_FFFFL) << 16) | (low & 0xFFFF) :
            ((Integer.reverseBytes(high) & 0xFFFF_FFFFL) << 16) | (Short.reverseBytes(low) & 0xFFFF);
    }

    private static int u16(final long address)
    {
        final short value = UnsafeApi.getShort(address);
        return (BIG_ENDIAN ? value : Short.reverseBytes(value)) & 0xFFFF;
    }
}
