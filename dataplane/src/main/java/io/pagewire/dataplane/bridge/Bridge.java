package io.pagewire.dataplane.bridge;

import io.pagewire.dataplane.virtio.VirtioNetHeader;

import java.util.Arrays;

import static io.pagewire.dataplane.bridge.BridgeDecision.*;

/**
 * The decision of a learning bridge for one frame from one ingress port: admit it (VLAN policy, port security),
 * learn its source, and choose its egress ports with the VLAN edit each needs. The bridge decides; the ports copy.
 * <p>
 * Per frame, in order (IEEE 802.1Q §8.6 ingress, learning, forwarding; Snabb's {@code apps/bridge/learning.lua};
 * VPP's {@code l2-learn} and {@code l2-fwd} nodes):
 * <ol>
 * <li>a patched port ({@link #patch}) sends to its peer, unchanged: no lookup, no learning (the NFV wire);</li>
 * <li>admission: a runt, a group or zero source, a source other than the port's pinned MAC, or a frame its VLAN mode
 *   refuses ({@link PortPolicy}) is dropped with a reason ({@link BridgeDecision}) and counted;</li>
 * <li>learning of (source, VLAN) → ingress port; a port at its limit or a full fdb learns nothing, the frame still
 *   goes on (counted in the {@link Fdb});</li>
 * <li>a unicast destination found in the fdb goes to that one port, or is dropped if that is the ingress port (the
 *   frame has reached its segment already); a group destination (broadcast, multicast) or an unknown unicast one is
 *   flooded to every other port of the VLAN (split horizon: never back out of its ingress port);</li>
 * <li>each egress gets its VLAN edit: untagged out of access ports and a trunk's native VLAN, tagged out of a trunk
 *   (PCP kept, PCP 0 for a frame that came untagged), unchanged between transparent ports. An egress whose tag
 *   would take the frame above 65535 bytes is skipped and counted.</li>
 * </ol>
 * Flood lists are arrays of port indices per VLAN, rebuilt when ports change, never per frame. Nothing here
 * allocates per frame: the result goes into a caller's reusable {@link BridgeDecision}.
 * <p>
 * <b>Threads.</b> Like its {@link Fdb}, a bridge belongs to one thread: port changes ({@link #addPort},
 * {@link #removePort}, {@link #patch}) run on the thread that calls {@link #decide} (the agent applies them as
 * commands between bursts). The counters are plain fields for that thread to export.
 */
public final class Bridge
{
    /** Longest frame a port carries (a guest's is bounded by the 16-bit virtio length). */
    public static final int MAX_FRAME_LENGTH = VirtioNetHeader.MAX_FRAME_LENGTH;
    /** No patch peer. */
    public static final int NOT_PATCHED = -1;

    private static final int VLANS = 4096;
    private static final int[] NO_PORTS = new int[0];

    private final Fdb fdb;
    private final PortPolicy[] policy;
    private final int[] patchPeer;
    private final int[][] flood = new int[VLANS][];

    private long unicast;
    private long flooded;
    private long patched;
    private long egressTooLong;
    private final long[] drops = new long[TOO_LONG + 1];

    /**
     * @param fdb the forwarding database; its port count is the bridge's.
     */
    public Bridge(final Fdb fdb)
    {
        this.fdb = fdb;
        this.policy = new PortPolicy[fdb.ports()];
        this.patchPeer = new int[fdb.ports()];
        Arrays.fill(patchPeer, NOT_PATCHED);
        Arrays.fill(flood, NO_PORTS);
    }

    /**
     * Adds a port, or replaces the policy of one (its learned addresses are flushed: they were learned under the
     * old VLAN rules).
     *
     * @param port   the port index, {@code 0 .. ports() - 1}.
     * @param policy its VLAN mode and security.
     */
    public void addPort(final int port, final PortPolicy policy)
    {
        checkPort(port);
        if (this.policy[port] != null)
        {
            fdb.flush(port);
        }
        this.policy[port] = policy;
        fdb.macLimit(port, policy.macLimit());
        rebuildFloodLists();
    }

    /**
     * Removes a port: its fdb entries are flushed, it leaves every flood list, its patch (if any) is undone.
     *
     * @param port the port index.
     */
    public void removePort(final int port)
    {
        checkPort(port);
        if (policy[port] == null)
        {
            return;
        }
        unpatchOne(port);
        policy[port] = null;
        fdb.flush(port);
        fdb.macLimit(port, Fdb.NO_LIMIT);
        rebuildFloodLists();
    }

    /**
     * Cross-connects two ports (patch mode): every frame from one goes to the other, unchanged; no lookup, no
     * learning. Both leave the learning bridge (flood lists, fdb) while patched.
     *
     * @param a a port added before.
     * @param b another port added before.
     */
    public void patch(final int a, final int b)
    {
        checkPort(a);
        checkPort(b);
        if (a == b || policy[a] == null || policy[b] == null)
        {
            throw new IllegalArgumentException("patch " + a + "-" + b + ": needs two different ports of the bridge");
        }
        unpatchOne(a);
        unpatchOne(b);
        patchPeer[a] = b;
        patchPeer[b] = a;
        fdb.flush(a);
        fdb.flush(b);
        rebuildFloodLists();
    }

    /**
     * Undoes the patch of a port (and of its peer): both rejoin the learning bridge.
     *
     * @param port a patched port.
     */
    public void unpatch(final int port)
    {
        checkPort(port);
        unpatchOne(port);
        rebuildFloodLists();
    }

    /** @return the patch peer of a port, or {@link #NOT_PATCHED}. */
    public int patchPeer(final int port)
    {
        return patchPeer[port];
    }

    /** @return the policy of a port, null if it is not a port of the bridge. */
    public PortPolicy policy(final int port)
    {
        return policy[port];
    }

    /** @return the ports that flood lists of a VLAN hold (0: the transparent domain); a copy (control use). */
    public int[] floodList(final int vlan)
    {
        return flood[vlan].clone();
    }

    /** @return the forwarding database. */
    public Fdb fdb()
    {
        return fdb;
    }

    /** @return the port count (port indices {@code 0 .. ports() - 1}). */
    public int ports()
    {
        return policy.length;
    }

    /** @return a decision object large enough for this bridge (one per thread that calls {@link #decide}). */
    public BridgeDecision newDecision()
    {
        return new BridgeDecision(policy.length);
    }

    /**
     * Ages the fdb by a bounded number of slots ({@link Fdb#age}); the agent calls it once per duty cycle.
     *
     * @return entries removed.
     */
    public int age(final long nowNs, final int maxSlots)
    {
        return fdb.age(nowNs, maxSlots);
    }

    /**
     * Decides where one frame goes.
     *
     * @param ingress     the port the frame arrived on.
     * @param frame       host address of the frame (destination MAC first), readable for its whole length.
     * @param frameLength its length in bytes.
     * @param nowNs       the clock now (read once per duty cycle).
     * @param decision    filled with the egress ports and edits, or the drop reason ({@link #newDecision()}).
     * @return the number of egress ports, 0 if the frame goes nowhere ({@link BridgeDecision#reason()} says why).
     */
    public int decide(
        final int ingress,
        final long frame,
        final int frameLength,
        final long nowNs,
        final BridgeDecision decision)
    {
        decision.reset();
        if (ingress < 0 || ingress >= policy.length || policy[ingress] == null)
        {
            return drop(decision, NO_PORT);
        }
        final int peer = patchPeer[ingress];
        if (peer != NOT_PATCHED)
        {
            patched++;
            decision.add(peer, VlanEdit.NONE);
            return 1;
        }
        if (frameLength < EthernetFrame.HEADER_LENGTH)
        {
            return drop(decision, RUNT);
        }
        final PortPolicy in = policy[ingress];
        final long source = EthernetFrame.sourceMac(frame);
        if (!EthernetFrame.isValidSource(source))
        {
            return drop(decision, INVALID_SOURCE);
        }
        if (in.pinnedMac() != PortPolicy.NO_MAC && source != in.pinnedMac())
        {
            return drop(decision, MAC_PINNED);
        }

        final boolean tagged = EthernetFrame.isTagged(frame, frameLength);
        final int tci = tagged ? EthernetFrame.tci(frame) : 0;
        final int vid = tci & EthernetFrame.VID_MASK;
        final int vlan;
        switch (in.mode())
        {
            case PortPolicy.ACCESS:
                if (vid != EthernetFrame.VID_PRIORITY)
                {
                    return drop(decision, ACCESS_TAGGED);
                }
                vlan = in.accessVlan();
                break;
            case PortPolicy.TRUNK:
                if (vid != EthernetFrame.VID_PRIORITY)
                {
                    if (!in.trunkAllows(vid))
                    {
                        return drop(decision, VLAN_NOT_ALLOWED);
                    }
                    vlan = vid;
                }
                else if (in.nativeVlan() != PortPolicy.NO_VLAN)
                {
                    vlan = in.nativeVlan();
                }
                else
                {
                    return drop(decision, UNTAGGED_ON_TRUNK);
                }
                break;
            default:
                vlan = PortPolicy.NO_VLAN;
                break;
        }
        decision.vlan = vlan;

        fdb.learn(source, vlan, ingress, nowNs);

        final long destination = EthernetFrame.destinationMac(frame);
        if (!EthernetFrame.isGroup(destination))
        {
            final int egress = fdb.lookup(destination, vlan);
            if (egress == ingress)
            {
                return drop(decision, SAME_PORT);
            }
            if (egress != Fdb.MISS)
            {
                final int edit = edit(policy[egress], vlan, tagged, tci);
                if (VlanEdit.editedLength(edit, frameLength) > MAX_FRAME_LENGTH)
                {
                    egressTooLong++;
                    return drop(decision, TOO_LONG);
                }
                unicast++;
                decision.add(egress, edit);
                return 1;
            }
        }

        flooded++;
        decision.flooded = true;
        final int[] members = flood[vlan];
        boolean skippedTooLong = false;
        for (final int egress : members)
        {
            if (egress != ingress)
            {
                final int edit = edit(policy[egress], vlan, tagged, tci);
                if (VlanEdit.editedLength(edit, frameLength) > MAX_FRAME_LENGTH)
                {
                    egressTooLong++;
                    skippedTooLong = true;
                    continue;
                }
                decision.add(egress, edit);
            }
        }
        if (decision.count == 0)
        {
            return drop(decision, skippedTooLong ? TOO_LONG : NO_DESTINATION);
        }
        return decision.count;
    }

    /** @return known-unicast frames sent to one port. */
    public long unicast()
    {
        return unicast;
    }

    /** @return frames flooded (group destinations and unknown unicast), once per frame whatever the egress count. */
    public long flooded()
    {
        return flooded;
    }

    /** @return frames through patched ports. */
    public long patched()
    {
        return patched;
    }

    /** @return egress copies skipped because the tag would take the frame above 65535 bytes. */
    public long egressTooLong()
    {
        return egressTooLong;
    }

    /**
     * @param reason a {@link BridgeDecision} reason other than {@link BridgeDecision#FORWARD}.
     * @return frames dropped for it.
     */
    public long drops(final int reason)
    {
        return drops[reason];
    }

    private int drop(final BridgeDecision decision, final int reason)
    {
        drops[reason]++;
        return decision.drop(reason);
    }

    /**
     * The edit for a frame of {@code vlan} leaving through a port with policy {@code out}; {@code tagged} and
     * {@code tci} describe the frame as it arrived.
     */
    private static int edit(final PortPolicy out, final int vlan, final boolean tagged, final int tci)
    {
        if (out.mode() == PortPolicy.TRANSPARENT)
        {
            return VlanEdit.NONE;
        }
        if (out.egressUntagged(vlan))
        {
            return tagged ? VlanEdit.pop() : VlanEdit.NONE;
        }
        if (!tagged)
        {
            return VlanEdit.push(vlan);
        }
        // A tagged frame of this VLAN keeps its tag; a priority-tagged one (VID 0) gets the VLAN, its PCP and DEI
        // kept.
        return (tci & EthernetFrame.VID_MASK) == vlan ? VlanEdit.NONE :
            VlanEdit.rewrite((tci & ~EthernetFrame.VID_MASK) | vlan);
    }

    private void unpatchOne(final int port)
    {
        final int peer = patchPeer[port];
        if (peer != NOT_PATCHED)
        {
            patchPeer[peer] = NOT_PATCHED;
            patchPeer[port] = NOT_PATCHED;
        }
    }

    private void rebuildFloodLists()
    {
        final int[] members = new int[VLANS];
        for (int port = 0; port < policy.length; port++)
        {
            if (inBridge(port))
            {
                for (int vlan = 0; vlan < VLANS; vlan++)
                {
                    if (policy[port].isMember(vlan))
                    {
                        members[vlan]++;
                    }
                }
            }
        }
        final int[][] lists = new int[VLANS][];
        for (int vlan = 0; vlan < VLANS; vlan++)
        {
            lists[vlan] = members[vlan] == 0 ? NO_PORTS : new int[members[vlan]];
        }
        Arrays.fill(members, 0);
        for (int port = 0; port < policy.length; port++)
        {
            if (inBridge(port))
            {
                for (int vlan = 0; vlan < VLANS; vlan++)
                {
                    if (policy[port].isMember(vlan))
                    {
                        lists[vlan][members[vlan]++] = port;
                    }
                }
            }
        }
        System.arraycopy(lists, 0, flood, 0, VLANS);
    }

    private boolean inBridge(final int port)
    {
        return policy[port] != null && patchPeer[port] == NOT_PATCHED;
    }

    private void checkPort(final int port)
    {
        if (port < 0 || port >= policy.length)
        {
            throw new IllegalArgumentException("port " + port + ": must be in 0.." + (policy.length - 1));
        }
    }
}
