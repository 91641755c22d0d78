package io.pagewire.dataplane.bridge;

import java.util.Arrays;

/**
 * What a bridge port admits and how its frames leave: its VLAN mode and port security. Immutable; built when a port
 * is configured, never on the data path.
 * <ul>
 * <li><b>transparent</b> (no {@code vlan}, no {@code trunk}: today's single-guest ports): VLAN-unaware. Every frame,
 *   tagged or not, is admitted and leaves unchanged; these ports form one domain of their own, learned under VLAN 0
 *   (VID 0 is never a VLAN, 802.1Q Table 9-2, so the domain cannot meet a configured VLAN).</li>
 * <li><b>access</b> ({@code vlan=ID}): untagged frames (and priority-tagged ones, VID 0) belong to VLAN ID; frames
 *   tagged with a VID are dropped and counted. Frames leave untagged.</li>
 * <li><b>trunk</b> ({@code trunk=ID,ID,...}): frames tagged with an allowed VID belong to that VLAN; other tagged
 *   frames are dropped and counted. Untagged frames are dropped and counted unless a native VLAN is set, as OVS
 *   does for a trunk port whose {@code trunks} lack VLAN 0 and Junos without {@code native-vlan-id}. Cisco and a
 *   VLAN-filtering Linux bridge put them in VLAN 1 by default; pagewire has no implicit VLAN, and on a multi-tenant
 *   host an untagged frame silently joining some tenant's VLAN 1 is the leak port security exists to prevent.
 *   Frames leave tagged, except in the native VLAN (untagged).</li>
 * </ul>
 * <b>MAC pinning</b> ({@code mac=...}): the port may send only from that source address; other frames are dropped
 * and counted, before learning, so a pinned guest can neither claim another address nor fill the fdb.
 * <b>{@code mac_limit}</b>: most addresses the port may have in the fdb (see {@link Fdb}).
 */
public final class PortPolicy
{
    /** VLAN-unaware port. */
    public static final int TRANSPARENT = 0;
    /** Access port. */
    public static final int ACCESS = 1;
    /** Trunk port. */
    public static final int TRUNK = 2;

    /** No VLAN (no native VLAN; the transparent domain's fdb VLAN). */
    public static final int NO_VLAN = 0;
    /** No pinned MAC. */
    public static final long NO_MAC = -1;
    /** Lowest VID a port may be configured with. */
    public static final int MIN_VID = 1;
    /** Highest VID a port may be configured with (4095 is reserved). */
    public static final int MAX_VID = 4094;

    private static final PortPolicy TRANSPARENT_POLICY = new PortPolicy(TRANSPARENT, NO_VLAN, new long[64], NO_VLAN,
        NO_MAC, Fdb.NO_LIMIT);

    private final int mode;
    private final int accessVlan;
    private final long[] allowed;
    private final int nativeVlan;
    private final long pinnedMac;
    private final int macLimit;

    private PortPolicy(
        final int mode,
        final int accessVlan,
        final long[] allowed,
        final int nativeVlan,
        final long pinnedMac,
        final int macLimit)
    {
        this.mode = mode;
        this.accessVlan = accessVlan;
        this.allowed = allowed;
        this.nativeVlan = nativeVlan;
        this.pinnedMac = pinnedMac;
        this.macLimit = macLimit;
    }

    /** @return a VLAN-transparent port, no pinning, no limit. */
    public static PortPolicy transparent()
    {
        return TRANSPARENT_POLICY;
    }

    /**
     * @param vlan the port's VLAN, 1..4094.
     * @return an access port.
     */
    public static PortPolicy access(final int vlan)
    {
        checkVid("vlan", vlan);
        return new PortPolicy(ACCESS, vlan, new long[64], NO_VLAN, NO_MAC, Fdb.NO_LIMIT);
    }

    /**
     * @param vlans the VLANs the trunk carries tagged, each 1..4094, at least one.
     * @return a trunk port with no native VLAN.
     */
    public static PortPolicy trunk(final int... vlans)
    {
        if (vlans.length == 0)
        {
            throw new IllegalArgumentException("trunk=: must list at least one VLAN in " + MIN_VID + ".." + MAX_VID);
        }
        final long[] allowed = new long[64];
        for (final int vlan : vlans)
        {
            checkVid("trunk", vlan);
            allowed[vlan >>> 6] |= 1L << vlan;
        }
        return new PortPolicy(TRUNK, NO_VLAN, allowed, NO_VLAN, NO_MAC, Fdb.NO_LIMIT);
    }

    /**
     * @param vlan the VLAN untagged frames on this trunk belong to, 1..4094 (it need not be in the trunk's list:
     *             it joins the port to that VLAN, untagged).
     * @return this trunk port with a native VLAN.
     */
    public PortPolicy withNativeVlan(final int vlan)
    {
        if (mode != TRUNK)
        {
            throw new IllegalArgumentException("native VLAN " + vlan + ": only a trunk port has one");
        }
        checkVid("native", vlan);
        return new PortPolicy(mode, accessVlan, allowed, vlan, pinnedMac, macLimit);
    }

    /**
     * @param mac the only source address the port may send from, 48 bits in network order, a valid unicast
     *            address.
     * @return this policy with the MAC pinned.
     */
    public PortPolicy withPinnedMac(final long mac)
    {
        if (!EthernetFrame.isValidSource(mac) || (mac >>> 48) != 0)
        {
            throw new IllegalArgumentException("mac=" + Long.toHexString(mac) +
                ": must be a unicast address, not all zeros");
        }
        return new PortPolicy(mode, accessVlan, allowed, nativeVlan, mac, macLimit);
    }

    /**
     * @param limit most addresses the port may have in the fdb, 0 or more, or {@link Fdb#NO_LIMIT}.
     * @return this policy with a learn limit.
     */
    public PortPolicy withMacLimit(final int limit)
    {
        if (limit < 0)
        {
            throw new IllegalArgumentException("mac_limit=" + limit + ": must be 0 or more");
        }
        return new PortPolicy(mode, accessVlan, allowed, nativeVlan, pinnedMac, limit);
    }

    /** @return {@link #TRANSPARENT}, {@link #ACCESS} or {@link #TRUNK}. */
    public int mode()
    {
        return mode;
    }

    /** @return the access VLAN, or {@link #NO_VLAN} if not an access port. */
    public int accessVlan()
    {
        return accessVlan;
    }

    /** @return the native VLAN of a trunk, or {@link #NO_VLAN}. */
    public int nativeVlan()
    {
        return nativeVlan;
    }

    /** @return the pinned source MAC, or {@link #NO_MAC}. */
    public long pinnedMac()
    {
        return pinnedMac;
    }

    /** @return the learn limit, or {@link Fdb#NO_LIMIT}. */
    public int macLimit()
    {
        return macLimit;
    }

    /** @return true if a trunk carries {@code vid} tagged. */
    public boolean trunkAllows(final int vid)
    {
        return (allowed[(vid >>> 6) & 63] & (1L << vid)) != 0;
    }

    /**
     * @param vlan a VLAN (or {@link #NO_VLAN}: the transparent domain).
     * @return true if the port is a member of {@code vlan}: frames of it may leave here.
     */
    public boolean isMember(final int vlan)
    {
        return switch (mode)
        {
            case ACCESS -> vlan == accessVlan;
            case TRUNK -> vlan != NO_VLAN && (vlan == nativeVlan || trunkAllows(vlan));
            default -> vlan == NO_VLAN;
        };
    }

    /**
     * @param vlan a VLAN the port is a member of.
     * @return true if frames of {@code vlan} leave this port untagged.
     */
    public boolean egressUntagged(final int vlan)
    {
        return mode != TRUNK || vlan == nativeVlan;
    }

    @Override
    public String toString()
    {
        final StringBuilder text = new StringBuilder(switch (mode)
        {
            case ACCESS -> "access vlan=" + accessVlan;
            case TRUNK -> "trunk";
            default -> "transparent";
        });
        if (mode == TRUNK)
        {
            String separator = " trunk=";
            for (int vid = MIN_VID; vid <= MAX_VID; vid++)
            {
                if (trunkAllows(vid))
                {
                    text.append(separator).append(vid);
                    separator = ",";
                }
            }
            if (nativeVlan != NO_VLAN)
            {
                text.append(" native=").append(nativeVlan);
            }
        }
        if (pinnedMac != NO_MAC)
        {
            text.append(" mac=").append(EthernetFrame.formatMac(pinnedMac));
        }
        if (macLimit != Fdb.NO_LIMIT)
        {
            text.append(" mac_limit=").append(macLimit);
        }
        return text.toString();
    }

    @Override
    public boolean equals(final Object other)
    {
        return other instanceof PortPolicy that && mode == that.mode && accessVlan == that.accessVlan &&
            nativeVlan == that.nativeVlan && pinnedMac == that.pinnedMac && macLimit == that.macLimit &&
            Arrays.equals(allowed, that.allowed);
    }

    @Override
    public int hashCode()
    {
        return ((mode * 31 + accessVlan) * 31 + nativeVlan) * 31 + Long.hashCode(pinnedMac) + Arrays.hashCode(allowed);
    }

    private static void checkVid(final String key, final int vlan)
    {
        if (vlan < MIN_VID || vlan > MAX_VID)
        {
            throw new IllegalArgumentException(key + "=" + vlan + ": must be a VLAN in " + MIN_VID + ".." + MAX_VID);
        }
    }
}
