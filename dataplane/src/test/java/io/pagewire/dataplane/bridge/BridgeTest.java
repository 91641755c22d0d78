package io.pagewire.dataplane.bridge;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.pagewire.dataplane.bridge.BridgeDecision.*;
import static io.pagewire.dataplane.bridge.TestFrames.NO_TAG;
import static org.junit.jupiter.api.Assertions.*;

class BridgeTest
{
    private static final long SECOND = 1_000_000_000L;
    private static final long A = 0x02_00_00_00_00_0AL;
    private static final long B = 0x02_00_00_00_00_0BL;
    private static final long C = 0x02_00_00_00_00_0CL;
    private static final long BROADCAST = EthernetFrame.BROADCAST;
    private static final long MULTICAST = 0x01_00_5E_00_00_01L;

    private final TestFrames frames = new TestFrames();
    private final BridgeDecision decision = new BridgeDecision(8);
    private long now = 5 * SECOND;

    @AfterEach
    void close()
    {
        frames.close();
    }

    private static Bridge bridge(final PortPolicy... ports)
    {
        final Bridge bridge = new Bridge(new Fdb(1024, 8, 300 * SECOND, 42));
        for (int port = 0; port < ports.length; port++)
        {
            bridge.addPort(port, ports[port]);
        }
        return bridge;
    }

    /** Sends one frame into the bridge and describes the decision: "1 3:push(10)", or "drop same_port". */
    private String send(final Bridge bridge, final int port, final long dst, final long src, final int tci,
        final int length)
    {
        final MemorySegment frame = frames.frame(dst, src, tci, length);
        final int count = bridge.decide(port, frame.address(), length, now, decision);
        assertEquals(count, decision.egressCount());
        if (count == 0)
        {
            assertNotEquals(FORWARD, decision.reason());
            return "drop " + describe(decision.reason());
        }
        assertEquals(FORWARD, decision.reason());
        final List<String> egress = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final int edit = decision.egressEdit(i);
            egress.add(decision.egressPort(i) + switch (VlanEdit.op(edit))
            {
                case VlanEdit.OP_PUSH -> ":push(" + Integer.toHexString(VlanEdit.tci(edit)) + ")";
                case VlanEdit.OP_POP -> ":pop";
                case VlanEdit.OP_REWRITE -> ":rewrite(" + Integer.toHexString(VlanEdit.tci(edit)) + ")";
                default -> "";
            });
        }
        egress.sort(null);
        return String.join(" ", egress);
    }

    private String send(final Bridge bridge, final int port, final long dst, final long src)
    {
        return send(bridge, port, dst, src, NO_TAG, 60);
    }

    @Test
    void learnsSourcesAndSendsKnownUnicastToOnePortOnly()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent());
        assertEquals("1 2", send(bridge, 0, B, A), "unknown unicast floods, never back to its ingress");
        assertTrue(decision.flooded());
        assertEquals("0", send(bridge, 1, A, B), "A was learned on port 0");
        assertFalse(decision.flooded());
        assertEquals("1", send(bridge, 0, B, A), "and B on port 1");
        assertEquals("0 1", send(bridge, 2, C, C + 1), "an unknown address still floods");
        assertEquals(2, bridge.unicast());
        assertEquals(2, bridge.flooded());
        assertEquals(3, bridge.fdb().entries());
    }

    @Test
    void broadcastAndMulticastFloodToEveryOtherPort()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent(),
            PortPolicy.transparent());
        send(bridge, 1, BROADCAST, B);
        assertEquals("0 2 3", send(bridge, 1, BROADCAST, B));
        assertEquals("0 1 2", send(bridge, 3, MULTICAST, C));
        assertEquals("0 2 3", send(bridge, 1, MULTICAST, B), "a group address is never looked up");
    }

    @Test
    void aFrameForItsOwnIngressPortIsDropped()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent());
        send(bridge, 0, BROADCAST, A);
        assertEquals("drop same_port", send(bridge, 0, A, B));
        assertEquals(1, bridge.drops(SAME_PORT));
    }

    @Test
    void aMovedMacFollowsAtOnce()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent());
        send(bridge, 0, BROADCAST, A);
        assertEquals("0", send(bridge, 1, A, B));
        send(bridge, 2, BROADCAST, A); // the VM migrated behind port 2
        assertEquals("2", send(bridge, 1, A, B));
        assertEquals(1, bridge.fdb().moved());
    }

    @Test
    void floodsStayInTheirVlanWithTheEditEachEgressNeeds()
    {
        final Bridge bridge = bridge(
            PortPolicy.access(10),
            PortPolicy.access(10),
            PortPolicy.access(20),
            PortPolicy.trunk(10, 20),
            PortPolicy.trunk(20, 30),
            PortPolicy.transparent());
        assertEquals("1 3:push(a)", send(bridge, 0, BROADCAST, A));
        assertEquals("3:push(14) 4:push(14)", send(bridge, 2, BROADCAST, B));
        assertEquals("2:pop 4", send(bridge, 3, BROADCAST, C, 0x0014, 64), "tagged 20 in: trunk keeps the tag");
        assertEquals("0:pop 1:pop", send(bridge, 3, BROADCAST, C, 0x000A, 64));
        assertEquals("drop no_destination", send(bridge, 4, BROADCAST, C + 1, 0x001E, 64),
            "VLAN 30 has no other port");
        assertEquals("drop no_destination", send(bridge, 5, BROADCAST, C + 2), "the transparent domain neither");
        assertEquals(2, bridge.drops(NO_DESTINATION));

        assertEquals("1 3:push(a)", send(bridge, 0, A + 100, A), "unknown unicast floods in VLAN 10 only");
        assertEquals("0", send(bridge, 1, A, B));
        assertEquals("0:pop", send(bridge, 3, A, C, 0x000A, 64), "known unicast across trunk and access");
        assertEquals("3:push(a)", send(bridge, 0, C, A), "and back, tagged");

        assertArrayEquals(new int[] {0, 1, 3}, bridge.floodList(10));
        assertArrayEquals(new int[] {2, 3, 4}, bridge.floodList(20));
        assertArrayEquals(new int[] {4}, bridge.floodList(30));
        assertArrayEquals(new int[] {5}, bridge.floodList(0));
    }

    @Test
    void accessAndTrunkPortsDropWhatTheirVlanModeRefuses()
    {
        final Bridge bridge = bridge(PortPolicy.access(10), PortPolicy.trunk(10, 20),
            PortPolicy.trunk(20).withNativeVlan(10));
        assertEquals("drop access_tagged", send(bridge, 0, BROADCAST, A, 0x000A, 64));
        assertEquals("drop vlan_not_allowed", send(bridge, 1, BROADCAST, B, 0x001E, 64));
        assertEquals("drop vlan_not_allowed", send(bridge, 1, BROADCAST, B, 0x0FFF, 64), "VID 4095 is reserved");
        assertEquals("drop untagged_on_trunk", send(bridge, 1, BROADCAST, B));
        assertEquals("drop untagged_on_trunk", send(bridge, 1, BROADCAST, B, 0x2000, 64), "a priority tag too");
        assertEquals(1, bridge.drops(ACCESS_TAGGED));
        assertEquals(2, bridge.drops(VLAN_NOT_ALLOWED));
        assertEquals(2, bridge.drops(UNTAGGED_ON_TRUNK));
        assertEquals(0, bridge.fdb().entries(), "nothing learned from dropped frames");

        assertEquals("0 1:push(a)", send(bridge, 2, BROADCAST, C), "untagged on the native VLAN: VLAN 10");
        assertEquals(10, decision.vlan());
        assertEquals("0:pop 2:pop", send(bridge, 1, BROADCAST, B, 0x000A, 64), "VLAN 10 leaves port 2 untagged");
        assertEquals("1", send(bridge, 2, BROADCAST, C, 0x0014, 64), "and VLAN 20 tagged");
    }

    @Test
    void aPriorityTaggedFrameBelongsToItsPortsVlanAndKeepsItsPriority()
    {
        final Bridge bridge = bridge(PortPolicy.access(10), PortPolicy.access(10), PortPolicy.trunk(10));
        assertEquals("1:pop 2:rewrite(a00a)", send(bridge, 0, BROADCAST, A, 0xA000, 64));
        assertEquals(10, decision.vlan());
    }

    @Test
    void aPinnedPortSendsOnlyFromItsAddress()
    {
        final Bridge bridge = bridge(PortPolicy.transparent().withPinnedMac(A), PortPolicy.transparent());
        assertEquals("1", send(bridge, 0, BROADCAST, A));
        assertEquals("drop mac_pinned", send(bridge, 0, BROADCAST, B));
        assertEquals("drop mac_pinned", send(bridge, 0, C, B));
        assertEquals(2, bridge.drops(MAC_PINNED));
        assertEquals(Fdb.MISS, bridge.fdb().lookup(B, 0), "the spoofed address was not learned");
        assertEquals("0", send(bridge, 1, A, C));
    }

    @Test
    void aPortSprayingRandomSourcesHitsItsLimitAndLeavesOthersAlone()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent(),
            PortPolicy.transparent().withMacLimit(16));
        send(bridge, 0, BROADCAST, A);
        send(bridge, 1, BROADCAST, B);
        send(bridge, 2, BROADCAST, C);

        final SplittableRandom random = new SplittableRandom(7);
        final int sprayed = 5000;
        for (int i = 0; i < sprayed; i++)
        {
            final long source = random.nextLong() & 0xFEFF_FFFF_FFFFL | 0x02_00_00_00_00_00L;
            send(bridge, 3, random.nextBoolean() ? BROADCAST : A, source);
        }
        assertEquals(16, bridge.fdb().portEntries(3));
        assertEquals(sprayed - 16, bridge.fdb().limitHits());
        assertEquals(19, bridge.fdb().entries());
        assertEquals("0", send(bridge, 1, A, B), "the others' unicast stays unicast: no hub");
        assertEquals("1", send(bridge, 2, B, C));
        assertEquals("2", send(bridge, 0, C, A));
        assertEquals("1", send(bridge, 3, B, 0x02_00_00_00_99_99L), "the sprayer's frames still reach their port");
    }

    @Test
    void aFullFdbStillForwards()
    {
        final Bridge bridge = new Bridge(new Fdb(4, 2, 300 * SECOND, 1));
        bridge.addPort(0, PortPolicy.transparent());
        bridge.addPort(1, PortPolicy.transparent());
        for (int i = 0; i < 10; i++)
        {
            assertEquals("1", send(bridge, 0, BROADCAST, A + i));
        }
        assertEquals(4, bridge.fdb().entries());
        assertEquals(6, bridge.fdb().tableFull());
        assertEquals("0", send(bridge, 1, A, B), "learned before the table filled");
        assertEquals("0", send(bridge, 1, A + 9, B), "not learned: flooded, still delivered");
    }

    @Test
    void patchedPortsAreAWireWithoutLookupOrLearning()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent());
        bridge.patch(0, 1);
        assertEquals("1", send(bridge, 0, BROADCAST, A));
        assertEquals("0", send(bridge, 1, C, B));
        assertEquals("0", send(bridge, 1, MULTICAST, 0), "not even checked: a wire");
        assertEquals(0, bridge.fdb().entries());
        assertEquals(3, bridge.patched());
        assertEquals("drop no_destination", send(bridge, 2, BROADCAST, C), "patched ports leave the flood lists");
        assertEquals(1, bridge.patchPeer(0));

        bridge.unpatch(1);
        assertEquals(Bridge.NOT_PATCHED, bridge.patchPeer(0));
        assertEquals("0 1", send(bridge, 2, BROADCAST, C));
        assertThrows(IllegalArgumentException.class, () -> bridge.patch(2, 2));
        assertThrows(IllegalArgumentException.class, () -> bridge.patch(2, 7));
    }

    @Test
    void aRemovedPortLeavesTheFdbAndTheFloodLists()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent());
        send(bridge, 0, BROADCAST, A);
        send(bridge, 1, BROADCAST, B);
        bridge.removePort(1);
        assertNull(bridge.policy(1));
        assertEquals(Fdb.MISS, bridge.fdb().lookup(B, 0));
        assertEquals("0", send(bridge, 2, BROADCAST, C));
        assertEquals("drop no_port", send(bridge, 1, BROADCAST, B));
        assertEquals("0", send(bridge, 2, B, C).split(" ")[0], "B is unknown again: flooded");

        bridge.addPort(0, PortPolicy.access(10));
        assertEquals(Fdb.MISS, bridge.fdb().lookup(A, 0), "a changed policy flushes what the port learned");
    }

    @Test
    void malformedFramesAreDroppedAndCounted()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent());
        assertEquals("drop runt", send(bridge, 0, BROADCAST, A, NO_TAG, 13));
        assertEquals("drop invalid_source", send(bridge, 0, B, MULTICAST));
        assertEquals("drop invalid_source", send(bridge, 0, B, 0));
        assertEquals(1, bridge.drops(RUNT));
        assertEquals(2, bridge.drops(INVALID_SOURCE));
        assertEquals("drop no_port", send(bridge, 7, B, A));
        assertEquals("drop no_port", send(bridge, -1, B, A));
        assertEquals(0, bridge.fdb().entries());
    }

    @Test
    void aTagThatWouldPassTheLongestFrameSkipsThatEgressOnly()
    {
        final Bridge bridge = bridge(PortPolicy.access(10), PortPolicy.access(10), PortPolicy.trunk(10));
        assertEquals("1", send(bridge, 0, BROADCAST, A, NO_TAG, 65535));
        assertEquals(1, bridge.egressTooLong());
        assertEquals("1 2:push(a)", send(bridge, 0, BROADCAST, A, NO_TAG, 65531), "65535 once tagged: fits");
        assertEquals("0:pop 1:pop", send(bridge, 2, BROADCAST, B, 0x000A, 65535));
        send(bridge, 2, A, B, 0x000A, 64);
        bridge.removePort(1);
        assertEquals("drop too_long", send(bridge, 0, B, A, NO_TAG, 65535), "known unicast to the trunk");
        assertEquals(2, bridge.egressTooLong());
        assertEquals(1, bridge.drops(TOO_LONG));
    }

    @Test
    void entriesAgeOutThroughTheBridge()
    {
        final Bridge bridge = bridge(PortPolicy.transparent(), PortPolicy.transparent(), PortPolicy.transparent());
        send(bridge, 0, BROADCAST, A);
        assertEquals("0", send(bridge, 1, A, B));
        now += 301 * SECOND;
        int removed = 0;
        for (int i = 0; i < 2048 + 2; i++)
        {
            removed += bridge.age(now, 1);
        }
        assertEquals(2, removed);
        assertEquals("0 2", send(bridge, 1, A, B), "A aged out: flooded again");
    }
}
