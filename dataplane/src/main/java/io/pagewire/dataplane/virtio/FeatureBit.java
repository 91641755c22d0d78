package io.pagewire.dataplane.virtio;

/**
 * Feature bits pagewire knows by name: the virtio-net device bits (virtio 1.2 §5.1.3) and the reserved
 * device-independent bits (§6). Names are the spec's without the {@code VIRTIO_NET_F_} / {@code VIRTIO_F_} /
 * {@code VIRTIO_RING_F_} prefix, as they appear in summaries.
 */
public enum FeatureBit
{
    CSUM(0),
    GUEST_CSUM(1),
    CTRL_GUEST_OFFLOADS(2),
    MTU(3),
    MAC(5),
    GUEST_TSO4(7),
    GUEST_TSO6(8),
    GUEST_ECN(9),
    GUEST_UFO(10),
    HOST_TSO4(11),
    HOST_TSO6(12),
    HOST_ECN(13),
    HOST_UFO(14),
    MRG_RXBUF(15),
    STATUS(16),
    CTRL_VQ(17),
    CTRL_RX(18),
    CTRL_VLAN(19),
    GUEST_ANNOUNCE(21),
    MQ(22),
    CTRL_MAC_ADDR(23),
    NOTIFY_ON_EMPTY(24),
    ANY_LAYOUT(27),
    INDIRECT_DESC(28),
    EVENT_IDX(29),
    /** VHOST_USER_F_PROTOCOL_FEATURES: not a virtio bit but carried in the same word by vhost-user. */
    PROTOCOL_FEATURES(30),
    VERSION_1(32),
    ACCESS_PLATFORM(33),
    RING_PACKED(34),
    IN_ORDER(35),
    ORDER_PLATFORM(36),
    SR_IOV(37),
    NOTIFICATION_DATA(38),
    RING_RESET(40);

    private static final FeatureBit[] VALUES = values();

    private final int bit;

    FeatureBit(final int bit)
    {
        this.bit = bit;
    }

    /** @return the bit number in the 64-bit feature word. */
    public int bit()
    {
        return bit;
    }

    /** @return the single-bit mask. */
    public long mask()
    {
        return 1L << bit;
    }

    /** @return whether this bit is set in {@code features}. */
    public boolean isSetIn(final long features)
    {
        return (features & mask()) != 0;
    }

    /**
     * Names the bits set in a feature word, known bits by name and others as {@code BIT_n}.
     *
     * @param features the 64-bit feature word.
     * @param out      appended to, in bit order.
     */
    public static void names(final long features, final java.util.List<String> out)
    {
        for (int bit = 0; bit < 64; bit++)
        {
            if ((features & (1L << bit)) != 0)
            {
                final FeatureBit known = byBit(bit);
                out.add(known != null ? known.name() : "BIT_" + bit);
            }
        }
    }

    /** @return the named bit with this number, or null. */
    public static FeatureBit byBit(final int bit)
    {
        for (final FeatureBit value : VALUES)
        {
            if (value.bit == bit)
            {
                return value;
            }
        }
        return null;
    }
}
