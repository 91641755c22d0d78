package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every rule of the bridge and its port tables, each asserting the exact messages: {@code port.NAME.KEY=VALUE: rule}.
 */
class PortRulesTest
{
    private static List<String> problemsOf(final String... overrides)
    {
        return assertThrows(ConfigException.class, () -> PagewireConfig.load(null, List.of(overrides))).problems();
    }

    /**
     * Each row: overrides separated by spaces, then the expected messages separated by {@code  | }.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", quoteCharacter = '`', value = {
        // [bridge]
        "bridge.mode=hub => bridge.mode=hub: must be one of learning|patch",
        "bridge.aging_s=0 => bridge.aging_s=0: must be in 1..86400",
        "bridge.aging_s=86401 => bridge.aging_s=86401: must be in 1..86400",
        "bridge.fdb_size=1000 => bridge.fdb_size=1000: must be a power of two in 256..1048576",
        "bridge.fdb_size=128 => bridge.fdb_size=128: must be a power of two in 256..1048576",
        "bridge.mac_limit=-1 => bridge.mac_limit=-1: must be in 0..16777216",
        "bridge.fdb_size=1024 => bridge.mac_limit=4096: must be at most bridge.fdb_size = 1024",
        // reading port keys: names, types, membership, required keys
        "port.a=1 => port.a: a port key is port.NAME.KEY, or KEY under a [port.NAME] table",
        "port.a.type=shm port.a.sockt=/x => port.a.sockt: unknown port key (did you mean port.a.socket?)",
        "port.a.type=shm port.a.frobnicate=1 => port.a.frobnicate: unknown port key",
        "port.a.vlan=10 => port.a.type: required (one of vhost-user|memif|af_packet|pcap|shm|embedded)",
        "port.a.type=tap => port.a.type=tap: must be one of vhost-user|memif|af_packet|pcap|shm|embedded",
        "port.VM1.type=shm => port.VM1: must be a port name of 1..15 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
        "port.abcdefghijklmnop.type=shm => port.abcdefghijklmnop: must be a port name of 1..15 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
        "port._a.type=shm => port._a: must be a port name of 1..15 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
        "port.a.type=vhost-user => port.a.socket: required when port.a.type=vhost-user (a non-empty path of at most 107 bytes)",
        "port.a.type=memif => port.a.socket: required when port.a.type=memif (a non-empty path of at most 107 bytes)",
        "port.a.type=af_packet => port.a.interface: required when port.a.type=af_packet (an interface name of 1..15 bytes without '/', ':' or whitespace)",
        "port.a.type=vhost-user port.a.socket=/s port.a.interface=eth0 => port.a.interface=eth0: not a key of port.a.type=vhost-user (only for type af_packet)",
        "port.a.type=shm port.a.socket=/s => port.a.socket=/s: not a key of port.a.type=shm (only for type vhost-user, memif)",
        "port.a.type=embedded port.a.ring_size=64 => port.a.ring_size=64: not a key of port.a.type=embedded (only for type memif, shm)",
        "port.a.type=pcap port.a.read=a.pcap port.a.napi_budget=8 => port.a.napi_budget=8: not a key of port.a.type=pcap (only for type embedded)",
        // types
        "port.a.type=shm port.a.vlan=x => port.a.vlan=x: must be an integer",
        "port.a.type=shm port.a.trunk=x => port.a.trunk=x: must be a list of integers in 1..4094",
        "port.a.type=shm port.a.trunk=[\"10\"] => port.a.trunk=[\"10\"]: must be a list of integers in 1..4094",
        "port.a.type=af_packet port.a.interface=eth0 port.a.vnet_hdr=yes => port.a.vnet_hdr=yes: must be true or false",
        // each key's own rule
        "port.a.type=shm port.a.vlan=5000 => port.a.vlan=5000: must be in 1..4094",
        "port.a.type=shm port.a.vlan=0 => port.a.vlan=0: must be in 1..4094",
        "port.a.type=shm port.a.trunk=10,5000 => port.a.trunk=[10, 5000]: must be a non-empty list of distinct VLAN ids in 1..4094",
        "port.a.type=shm port.a.trunk=10,10 => port.a.trunk=[10, 10]: must be a non-empty list of distinct VLAN ids in 1..4094",
        "port.a.type=shm port.a.trunk=[] => port.a.trunk=[]: must be a non-empty list of distinct VLAN ids in 1..4094",
        "port.a.type=shm port.a.trunk=4294967296 => port.a.trunk=4294967296: must be a list of integers in 1..4094",
        "port.a.type=shm port.a.mac=01:00:5e:00:00:01 => port.a.mac=\"01:00:5e:00:00:01\": must be a unicast MAC address such as 52:54:00:12:34:56",
        "port.a.type=shm port.a.mac=ff:ff:ff:ff:ff:ff => port.a.mac=\"ff:ff:ff:ff:ff:ff\": must be a unicast MAC address such as 52:54:00:12:34:56",
        "port.a.type=shm port.a.mac=00:00:00:00:00:00 => port.a.mac=\"00:00:00:00:00:00\": must be a unicast MAC address such as 52:54:00:12:34:56",
        "port.a.type=shm port.a.mac=52:54:00:12:34 => port.a.mac=\"52:54:00:12:34\": must be a unicast MAC address such as 52:54:00:12:34:56",
        "port.a.type=shm port.a.mac_limit=-1 => port.a.mac_limit=-1: must be in 0..16777216",
        "port.a.type=shm port.a.agent=16 => port.a.agent=16: must be in 0..15",
        "port.a.type=shm port.a.agent=-1 => port.a.agent=-1: must be in 0..15",
        "bridge.mode=patch port.a.type=shm port.a.patch=B => port.a.patch=\"B\": must be a port name of 1..15 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
        "port.a.type=vhost-user port.a.socket= => port.a.socket=\"\": must be a non-empty path of at most 107 bytes",
        "port.a.type=vhost-user port.a.socket=/s port.a.mode=listen => port.a.mode=listen: must be one of server|client",
        "port.a.type=vhost-user port.a.socket=/s port.a.queue_pairs=65 => port.a.queue_pairs=65: must be in 1..64",
        "port.a.type=memif port.a.socket=/m port.a.role=master => port.a.role=master: must be one of server|client",
        "port.a.type=memif port.a.socket=/m port.a.id=-1 => port.a.id=-1: must be in 0..2147483647",
        "port.a.type=memif port.a.socket=/m port.a.max_region_mib=0 => port.a.max_region_mib=0: must be in 1..1048576",
        "port.a.type=memif port.a.socket=/m port.a.ring_size=1000 => port.a.ring_size=1000: must be a power of two in 2..65536",
        "port.a.type=shm port.a.slot_size=100 => port.a.slot_size=100: must be a power of two in 128..131072",
        "port.a.type=shm port.a.queue_pairs=0 => port.a.queue_pairs=0: must be in 1..64",
        "port.a.type=af_packet port.a.interface= => port.a.interface=\"\": must be an interface name of 1..15 bytes without '/', ':' or whitespace",
        "port.a.type=af_packet port.a.interface=eth0:1 => port.a.interface=\"eth0:1\": must be an interface name of 1..15 bytes without '/', ':' or whitespace",
        "port.a.type=af_packet port.a.interface=eth0 port.a.block_size=5000 => port.a.block_size=5000: must be a power of two in 4096..67108864",
        "port.a.type=af_packet port.a.interface=eth0 port.a.block_count=1 => port.a.block_count=1: must be in 2..65536",
        "port.a.type=af_packet port.a.interface=eth0 port.a.retire_timeout_ms=60001 => port.a.retire_timeout_ms=60001: must be in 0..60000",
        "port.a.type=pcap port.a.read=a.pcap port.a.pace=fast => port.a.pace=fast: must be one of recorded|rate|max",
        "port.a.type=embedded port.a.napi_budget=0 => port.a.napi_budget=0: must be in 1..65536",
        "port.a.type=embedded port.a.wakeup_latency_ns=-1 => port.a.wakeup_latency_ns=-1: must be in 0..1000000000",
        "port.a.type=embedded port.a.refill_batch=0 => port.a.refill_batch=0: must be in 1..32768",
        "port.a.type=embedded port.a.rx.buffer_sizing=adaptive => port.a.rx.buffer_sizing=adaptive: must be one of fixed|ewma",
        "port.a.type=embedded port.a.tx=loopback => port.a.tx=loopback: must be one of echo|off",
        // rules within a port
        "port.a.type=shm port.a.vlan=10 port.a.trunk=20 => port.a.trunk=[20]: not with port.a.vlan (a port is an access port or a trunk, not both)",
        "bridge.fdb_size=8192 port.a.type=shm port.a.mac_limit=8193 => port.a.mac_limit=8193: must be at most bridge.fdb_size = 8192",
        "port.a.type=shm port.a.agent=1 => port.a.agent=1: must be below dataplane.agents = 1",
        "dataplane.agents=2 port.a.type=shm port.a.queue_pairs=2 port.a.agent=2 => port.a.agent=2: must be below dataplane.agents = 2",
        "port.a.type=memif port.a.socket=/m port.a.ring_size=32768 => port.a.ring_size=32768: must be at most 16384 for a memif port (memif rings are at most 2^14, DPDK net_memif's limit)",
        "port.a.type=pcap => port.a.read=\"\": or port.a.write must name a file for a pcap port",
        "port.a.type=embedded port.a.rx.buffer_sizing=ewma rx.mode=small => port.a.rx.buffer_sizing=ewma: requires rx.mode=mergeable",
        "port.a.type=shm port.a.slot_size=1024 => port.a.slot_size=1024: must be at least traffic.frame_size + 8 = 1522",
        "traffic.frame_size=5000 port.a.type=shm port.a.slot_size=4096 => port.a.slot_size=4096: must be at least traffic.frame_size + 8 = 5008",
        // patch
        "port.a.type=shm port.b.type=embedded port.a.patch=b => port.a.patch=\"b\": only with bridge.mode=patch",
        "bridge.mode=patch port.a.type=shm port.b.type=embedded port.a.patch=c port.b.patch=a => port.a.patch=\"c\": no port named c | port.b.patch=\"a\": port a must be patched back to b (port.a.patch=\"b\")",
        "bridge.mode=patch port.a.type=shm port.b.type=embedded port.a.patch=a port.b.patch=a => port.a.patch=\"a\": a port cannot be patched to itself | port.b.patch=\"a\": port a must be patched back to b (port.a.patch=\"b\")",
        "bridge.mode=patch port.a.type=shm port.b.type=embedded port.c.type=embedded port.a.patch=b port.b.patch=c port.c.patch=b => port.a.patch=\"b\": port b must be patched back to a (port.b.patch=\"a\")",
        "bridge.mode=patch port.a.type=shm port.b.type=embedded port.a.patch=b => port.a.patch=\"b\": port b must be patched back to a (port.b.patch=\"a\") | port.b.patch: required when bridge.mode=patch (ports are cross-connected in pairs)",
        "bridge.mode=patch port.a.type=shm => port.a.patch: required when bridge.mode=patch (ports are cross-connected in pairs)",
        // between ports
        "port.a.type=vhost-user port.a.socket=/s port.b.type=vhost-user port.b.socket=/s => port.b.socket=\"/s\": already the socket of port a",
        "port.a.type=vhost-user port.a.socket=/s port.b.type=memif port.b.socket=/s => port.b.socket=\"/s\": already the socket of port a",
        "port.a.type=memif port.a.socket=/m port.b.type=memif port.b.socket=/m => port.b.id=0: port a already uses id 0 on socket \"/m\"",
        "port.a.type=memif port.a.socket=/m port.b.type=memif port.b.socket=/m port.b.id=1 port.b.role=client => port.b.role=client: port a takes socket \"/m\" as server",
        "port.a.type=af_packet port.a.interface=eth0 port.b.type=af_packet port.b.interface=eth0 => port.b.interface=\"eth0\": already the interface of port a",
        "dataplane.agents=3 port.a.type=shm port.b.type=embedded => dataplane.agents=3: must be at most the receive queues of all ports = 2",
        // the single-guest shorthand's keys with port tables
        "nic.type=memif port.a.type=shm => nic.type=memif: a key of the single-guest shorthand, not used when [port.NAME] tables are given (set it in the port's table)",
        "guest.socket=/run/vm.sock port.a.type=shm => guest.socket=\"/run/vm.sock\": a key of the single-guest shorthand, not used when [port.NAME] tables are given (set it in the port's table)",
    })
    void ruleMessages(final String overrides, final String expected)
    {
        assertEquals(List.of(expected.split(" \\| ")), problemsOf(overrides.split(" ")));
    }

    @Test
    void everyProblemIsListedAtOnceInOrder()
    {
        assertEquals(List.of(
            "port.b.sockt: unknown port key (did you mean port.b.socket?)",
            "port.c.type: required (one of vhost-user|memif|af_packet|pcap|shm|embedded)",
            "port.a.vlan=5000: must be in 1..4094",
            "nic.ring.size=4096: a key of the single-guest shorthand, not used when [port.NAME] tables are given " +
                "(set it in the port's table)",
            "port.a.patch=\"b\": only with bridge.mode=patch",
            "port.b.socket=\"/s\": already the socket of port a"),
            problemsOf("port.a.type=vhost-user", "port.a.socket=/s", "port.a.vlan=5000", "port.a.patch=b",
                "port.b.type=vhost-user", "port.b.socket=/s", "port.b.sockt=/t", "port.c.vlan=1",
                "nic.ring.size=4096"));
    }

    @Test
    void rulesThatMeasureTheShorthandAreNotCheckedWithPortTables()
    {
        // dataplane.agents <= guest.queue_pairs and traffic.frame_size <= nic.slot_size - 8 are the shorthand's.
        final PagewireConfig config = PagewireConfig.load(null, List.of("dataplane.agents=2", "traffic.frame_size=5000",
            "port.a.type=shm", "port.a.slot_size=8192", "port.b.type=embedded"));
        assertEquals(2, config.dataplane().agents());
        assertEquals(List.of("dataplane.agents=2: must be at most guest.queue_pairs = 1"),
            problemsOf("dataplane.agents=2"));
    }

    @Test
    void patchedPairsAndSharedMemifSocketsWithDistinctIdsAreValid()
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("bridge.mode=patch",
            "port.a.type=memif", "port.a.socket=/m", "port.b.type=vhost-user", "port.b.socket=/s",
            "port.c.type=memif", "port.c.socket=/m", "port.c.id=1", "port.d.type=vhost-user", "port.d.socket=/t",
            "port.a.patch=b", "port.b.patch=a", "port.c.patch=d", "port.d.patch=c"));
        assertEquals(BridgeMode.PATCH, config.bridge().mode());
        assertEquals(List.of("b", "a", "d", "c"), config.ports().stream().map(PortConfig::patch).toList());
    }

    @Test
    void aTableGivenTwiceInTheFileIsADuplicate()
    {
        final ConfigException ex = assertThrows(ConfigException.class, () -> PagewireConfig.parse("""
            [port.a]
            type = "shm"
            [port.a]
            type = "embedded"
            """, "f.toml", List.of()));
        assertEquals(List.of("f.toml:3: duplicate table [port.a] (first on line 1)"), ex.problems());
    }

    @Test
    void recordsCannotBeBuiltInvalid()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        final PortConfig.Settings shm = new PortConfig.Shm(1, 1024, 2048);
        final ConfigException ex = assertThrows(ConfigException.class, () -> new PagewireConfig(
            defaults.virtqueue(), defaults.rx(), defaults.nic(), defaults.dataplane(), defaults.features(),
            defaults.traffic(), defaults.guest(), new BridgeConfig(BridgeMode.LEARNING, 300, 65536, 4096),
            List.of(
                new PortConfig("a", PortType.SHM, shm, 5000, List.of(), "", 4096, PortConfig.ROUND_ROBIN, ""),
                new PortConfig("a", PortType.SHM, shm, PortConfig.NO_VLAN, List.of(), "", 4096, 3, ""))));
        assertEquals(List.of(
            "port.a: two ports of this name",
            "port.a.vlan=5000: must be in 1..4094"), ex.problems());
        assertThrows(IllegalArgumentException.class, () ->
            new PortConfig("a", PortType.MEMIF, shm, 0, List.of(), "", 0, PortConfig.ROUND_ROBIN, ""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "vm1", "uplink-0", "eth_1", "0", "abcdefghijklmno"})
    void portNamesLikeInterfaceNamesAreValid(final String name)
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("port." + name + ".type=shm"));
        assertEquals(name, config.ports().getFirst().name());
    }
}
