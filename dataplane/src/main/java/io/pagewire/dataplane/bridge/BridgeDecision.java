package io.pagewire.dataplane.bridge;

/**
 * Where one frame goes: the egress ports and the VLAN edit for each, or why it goes nowhere. One reusable object per
 * agent, filled by {@link Bridge#decide}; no allocation per frame.
 * <p>
 * The caller then copies the frame once per egress port, applying {@link #egressEdit(int)} during the copy
 * ({@link VlanEdit#copy}, {@link VlanEdit#copyRange}), and counts a drop reason against the ingress port.
 */
public final class BridgeDecision
{
    /** The frame goes to the egress ports listed (perhaps none: see {@link #NO_DESTINATION}). */
    public static final int FORWARD = 0;
    /** The ingress port is not a port of the bridge. */
    public static final int NO_PORT = 1;
    /** Shorter than an Ethernet header (14 bytes). */
    public static final int RUNT = 2;
    /** Source MAC is a group address or all zeros. */
    public static final int INVALID_SOURCE = 3;
    /** Source MAC is not the one pinned to the ingress port. */
    public static final int MAC_PINNED = 4;
    /** A frame tagged with a VID arrived on an access port. */
    public static final int ACCESS_TAGGED = 5;
    /** A frame tagged with a VID the trunk does not carry arrived on a trunk port. */
    public static final int VLAN_NOT_ALLOWED = 6;
    /** An untagged frame arrived on a trunk port with no native VLAN. */
    public static final int UNTAGGED_ON_TRUNK = 7;
    /** The destination was learned on the ingress port itself: the frame is already where it is going. */
    public static final int SAME_PORT = 8;
    /** Flooded, but no other port is in the VLAN (or every one was skipped as {@link #TOO_LONG}). */
    public static final int NO_DESTINATION = 9;
    /** Every egress needed a tag that would take the frame above 65535 bytes. */
    public static final int TOO_LONG = 10;

    private static final String[] NAMES = {
        "forward", "no_port", "runt", "invalid_source", "mac_pinned", "access_tagged", "vlan_not_allowed",
        "untagged_on_trunk", "same_port", "no_destination", "too_long"};

    final int[] ports;
    final int[] edits;
    int count;
    int reason;
    int vlan;
    boolean flooded;

    /**
     * @param ports the bridge's port count: the most egress ports a frame can have.
     */
    public BridgeDecision(final int ports)
    {
        this.ports = new int[ports];
        this.edits = new int[ports];
    }

    /** @return egress ports for this frame, 0 if dropped. */
    public int egressCount()
    {
        return count;
    }

    /** @return the {@code i}-th egress port index. */
    public int egressPort(final int i)
    {
        return ports[i];
    }

    /** @return the VLAN edit ({@link VlanEdit}) for the {@code i}-th egress port. */
    public int egressEdit(final int i)
    {
        return edits[i];
    }

    /** @return {@link #FORWARD} or why the frame goes nowhere. */
    public int reason()
    {
        return reason;
    }

    /** @return the VLAN the frame was classified to (0: the transparent domain, or not classified). */
    public int vlan()
    {
        return vlan;
    }

    /** @return true if the frame was flooded (group or unknown destination), false for known unicast or patch. */
    public boolean flooded()
    {
        return flooded;
    }

    /**
     * @param reason a reason code.
     * @return its name, for counters and messages.
     */
    public static String describe(final int reason)
    {
        return reason >= 0 && reason < NAMES.length ? NAMES[reason] : "unknown_" + reason;
    }

    void reset()
    {
        count = 0;
        reason = FORWARD;
        vlan = 0;
        flooded = false;
    }

    int drop(final int reason)
    {
        this.reason = reason;
        this.count = 0;
        return 0;
    }

    void add(final int port, final int edit)
    {
        ports[count] = port;
        edits[count] = edit;
        count++;
    }
}
