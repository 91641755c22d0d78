package io.pagewire.dataplane.bridge;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PortPolicyTest
{
    @Test
    void membershipAndEgressTaggingFollowTheMode()
    {
        final PortPolicy access = PortPolicy.access(10);
        assertTrue(access.isMember(10));
        assertFalse(access.isMember(11));
        assertFalse(access.isMember(PortPolicy.NO_VLAN));
        assertTrue(access.egressUntagged(10));

        final PortPolicy trunk = PortPolicy.trunk(10, 4094).withNativeVlan(30);
        assertTrue(trunk.isMember(10));
        assertTrue(trunk.isMember(4094));
        assertTrue(trunk.isMember(30));
        assertFalse(trunk.isMember(20));
        assertFalse(trunk.isMember(PortPolicy.NO_VLAN));
        assertFalse(trunk.trunkAllows(30), "the native VLAN is untagged, not in the trunk's tagged list");
        assertFalse(trunk.egressUntagged(10));
        assertTrue(trunk.egressUntagged(30));

        final PortPolicy transparent = PortPolicy.transparent();
        assertTrue(transparent.isMember(PortPolicy.NO_VLAN));
        assertFalse(transparent.isMember(1));
    }

    @Test
    void errorsNameTheKeyTheValueAndTheRule()
    {
        assertEquals("vlan=0: must be a VLAN in 1..4094",
            assertThrows(IllegalArgumentException.class, () -> PortPolicy.access(0)).getMessage());
        assertEquals("trunk=4095: must be a VLAN in 1..4094",
            assertThrows(IllegalArgumentException.class, () -> PortPolicy.trunk(10, 4095)).getMessage());
        assertThrows(IllegalArgumentException.class, PortPolicy::trunk);
        assertThrows(IllegalArgumentException.class, () -> PortPolicy.access(5).withNativeVlan(6));
        assertThrows(IllegalArgumentException.class,
            () -> PortPolicy.transparent().withPinnedMac(0x01_00_5E_00_00_01L));
        assertThrows(IllegalArgumentException.class, () -> PortPolicy.transparent().withPinnedMac(0));
        assertEquals("mac_limit=-1: must be 0 or more",
            assertThrows(IllegalArgumentException.class, () -> PortPolicy.access(5).withMacLimit(-1)).getMessage());
    }

    @Test
    void describesItselfInTheConfigWords()
    {
        assertEquals("transparent", PortPolicy.transparent().toString());
        assertEquals("access vlan=10 mac=52:54:00:12:34:56 mac_limit=4",
            PortPolicy.access(10).withPinnedMac(0x52_54_00_12_34_56L).withMacLimit(4).toString());
        assertEquals("trunk trunk=10,20 native=5", PortPolicy.trunk(20, 10).withNativeVlan(5).toString());
        assertEquals(PortPolicy.trunk(10, 20), PortPolicy.trunk(20, 10));
        assertNotEquals(PortPolicy.trunk(10), PortPolicy.access(10));
    }
}
