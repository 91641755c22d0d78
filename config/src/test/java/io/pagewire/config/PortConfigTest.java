package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bridge and its ports read from files and overrides: every port type and key, the single-guest shorthand's
 * effective ports, and round trips through {@code toToml} and the default file.
 */
class PortConfigTest
{
    /** A table of every port type with every key of its type set to a value other than its default. */
    private static final String EVERY_KEY = """
        [bridge]
        mode = "learning"
        aging_s = 60
        fdb_size = 4096
        mac_limit = 64

        [dataplane]
        agents = 4

        [port.vm1]
        type = "vhost-user"
        socket = "/run/pw/vm1.sock"
        mode = "client"
        queue_pairs = 2
        vlan = 10
        mac = "52:54:00:00:00:01"
        mac_limit = 8
        agent = 3

        [port.mif]
        type = "memif"
        socket = "/run/pw/memif.sock"
        role = "client"
        id = 7
        max_region_mib = 64
        queue_pairs = 3
        ring_size = 4096
        slot_size = 4096
        trunk = [10, 20, 30]

        [port.up]
        type = "af_packet"
        interface = "veth1"
        block_size = 1048576
        block_count = 8
        retire_timeout_ms = 0
        promiscuous = false
        vnet_hdr = true
        mac_limit = 0

        [port.trace]
        type = "pcap"
        read = "in.pcap"
        write = "out.pcap"
        pace = "max"
        loop = true

        [port.ring]
        type = "shm"
        queue_pairs = 2
        ring_size = 64
        slot_size = 4096

        [port.emb]
        type = "embedded"
        napi_budget = 128
        wakeup_latency_ns = 5000
        refill_batch = 16
        rx.buffer_sizing = "ewma"
        tx = "off"
        """;

    @TempDir
    Path dir;

    @Test
    void everyPortTypeAndKeyReachesItsRecord()
    {
        final PagewireConfig config = PagewireConfig.parse(EVERY_KEY, "every.toml", List.of());
        assertEquals(new BridgeConfig(BridgeMode.LEARNING, 60, 4096, 64), config.bridge());
        assertFalse(config.shorthand());
        assertEquals(List.of(
            new PortConfig("vm1", PortType.VHOST_USER,
                new PortConfig.VhostUser("/run/pw/vm1.sock", VhostUserMode.CLIENT, 2),
                10, List.of(), "52:54:00:00:00:01", 8, 3, ""),
            new PortConfig("mif", PortType.MEMIF,
                new PortConfig.Memif(new NicConfig.Memif("/run/pw/memif.sock", MemifRole.CLIENT, 7, 64), 3, 4096, 4096),
                PortConfig.NO_VLAN, List.of(10, 20, 30), "", 64, PortConfig.ROUND_ROBIN, ""),
            new PortConfig("up", PortType.AF_PACKET,
                new PortConfig.AfPacket(new NicConfig.AfPacket("veth1", 1 << 20, 8, 0, false, true)),
                PortConfig.NO_VLAN, List.of(), "", BridgeConfig.NO_MAC_LIMIT, PortConfig.ROUND_ROBIN, ""),
            new PortConfig("trace", PortType.PCAP,
                new PortConfig.Pcap(new NicConfig.Pcap("in.pcap", "out.pcap", PcapPace.MAX, true)),
                PortConfig.NO_VLAN, List.of(), "", 64, PortConfig.ROUND_ROBIN, ""),
            new PortConfig("ring", PortType.SHM, new PortConfig.Shm(2, 64, 4096),
                PortConfig.NO_VLAN, List.of(), "", 64, PortConfig.ROUND_ROBIN, ""),
            new PortConfig("emb", PortType.EMBEDDED,
                new PortConfig.Embedded(128, 5000, 16, BufferSizing.EWMA, GuestTx.OFF),
                PortConfig.NO_VLAN, List.of(), "", 64, PortConfig.ROUND_ROBIN, "")),
            config.ports());
        assertEquals(config.portTables(), config.ports());
        assertEquals(List.of(2, 3, 1, 1, 2, 1), config.ports().stream().map(PortConfig::receiveQueues).toList());
    }

    @Test
    void keysLeftOutTakeTheirDefaultsAndThePortTheBridgeMacLimit()
    {
        final PagewireConfig config = PagewireConfig.parse("""
            [port.vm1]
            type = "vhost-user"
            socket = "/s"
            [port.m]
            type = "memif"
            socket = "/m"
            [port.up]
            type = "af_packet"
            interface = "eth0"
            [port.p]
            type = "pcap"
            write = "out.pcap"
            [port.r]
            type = "shm"
            [port.e]
            type = "embedded"
            """, "min.toml", List.of());
        final PagewireConfig defaults = PagewireConfig.defaults();
        assertEquals(List.of(
            new PortConfig.VhostUser("/s", VhostUserMode.SERVER, 1),
            new PortConfig.Memif(new NicConfig.Memif("/m", MemifRole.SERVER, 0), 1, 1024, 2048),
            new PortConfig.AfPacket(new NicConfig.AfPacket("eth0", 65536, 64, 1, true, false)),
            new PortConfig.Pcap(new NicConfig.Pcap("", "out.pcap", PcapPace.RECORDED, false)),
            new PortConfig.Shm(1, defaults.nic().ringSize(), defaults.nic().slotSize()),
            new PortConfig.Embedded(64, 0, 32, BufferSizing.FIXED, GuestTx.ECHO)),
            config.ports().stream().map(PortConfig::settings).toList());
        for (final PortConfig port : config.ports())
        {
            assertEquals(4096, port.macLimit(), port.name());
            assertEquals(PortConfig.ROUND_ROBIN, port.agent(), port.name());
            assertEquals(PortConfig.NO_VLAN, port.vlan(), port.name());
            assertEquals("", port.patch(), port.name());
        }
        assertEquals(BridgeMode.LEARNING, config.bridge().mode());
    }

    @Test
    void setOverridesAPortKeyAndCreatesAPortThatHasAType() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("b.toml"), """
            [port.vm1]
            type = "vhost-user"
            socket = "/s1"
            vlan = 10
            """);
        final PagewireConfig config = PagewireConfig.load(file, List.of(
            "port.vm1.vlan=20", "port.vm1.socket='/run/my vm.sock'", "port.vm1.queue_pairs=4",
            "port.up.type=af_packet", "port.up.interface=eth0", "port.up.trunk=20,30", "port.up.vnet_hdr=true",
            "port.up.mac=52:54:00:AB:cd:01"));
        final PortConfig vm1 = config.ports().get(0);
        assertEquals(20, vm1.vlan());
        assertEquals(new PortConfig.VhostUser("/run/my vm.sock", VhostUserMode.SERVER, 4), vm1.settings());
        final PortConfig up = config.ports().get(1);
        assertEquals("up", up.name());
        assertEquals(List.of(20, 30), up.trunk());
        assertEquals("52:54:00:AB:cd:01", up.mac());
        assertTrue(((PortConfig.AfPacket)up.settings()).afPacket().vnetHdr());
        // The bracketed TOML form works on the command line too, and a later override wins.
        final PagewireConfig later = PagewireConfig.load(file, List.of("port.r.type=shm", "port.r.trunk=[5, 6]",
            "port.vm1.vlan=1", "port.vm1.vlan=2"));
        assertEquals(List.of(5, 6), later.ports().get(1).trunk());
        assertEquals(2, later.ports().get(0).vlan());
    }

    @Test
    void theShorthandIsAPatchOfTheEmbeddedGuestAndTheShmRingByDefault()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        assertTrue(defaults.shorthand());
        assertEquals(List.of(), defaults.portTables());
        assertEquals(new BridgeConfig(BridgeMode.PATCH, 300, 65536, 4096), defaults.bridge());
        assertEquals(List.of(
            new PortConfig("guest", PortType.EMBEDDED, new PortConfig.Embedded(64, 0, 32, BufferSizing.FIXED,
                GuestTx.ECHO), PortConfig.NO_VLAN, List.of(), "", 4096, PortConfig.ROUND_ROBIN, "nic"),
            new PortConfig("nic", PortType.SHM, new PortConfig.Shm(1, 1024, 2048), PortConfig.NO_VLAN, List.of(), "",
                4096, PortConfig.ROUND_ROBIN, "guest")),
            defaults.ports());
    }

    @Test
    void theShorthandFollowsGuestAndNicKeysAndStaysAPatchWhateverBridgeModeSays()
    {
        final PagewireConfig memif = PagewireConfig.load(null, List.of("guest.type=vhost-user", "guest.socket=/v",
            "guest.mode=client", "guest.queue_pairs=4", "nic.type=memif", "nic.memif.socket=/m", "nic.memif.id=3",
            "nic.ring.size=256", "nic.slot_size=4096", "bridge.mode=learning", "bridge.mac_limit=9"));
        assertEquals(BridgeMode.PATCH, memif.bridge().mode());
        assertEquals(9, memif.bridge().macLimit());
        assertEquals(List.of(
            new PortConfig("guest", PortType.VHOST_USER, new PortConfig.VhostUser("/v", VhostUserMode.CLIENT, 4),
                PortConfig.NO_VLAN, List.of(), "", 9, PortConfig.ROUND_ROBIN, "nic"),
            new PortConfig("nic", PortType.MEMIF, new PortConfig.Memif(memif.nic().memif(), 4, 256, 4096),
                PortConfig.NO_VLAN, List.of(), "", 9, PortConfig.ROUND_ROBIN, "guest")),
            memif.ports());

        final PagewireConfig afPacket = PagewireConfig.load(null, List.of("nic.type=af_packet",
            "nic.af_packet.interface=veth0"));
        assertEquals(new PortConfig.AfPacket(afPacket.nic().afPacket()), afPacket.ports().get(1).settings());
        final PagewireConfig pcap = PagewireConfig.load(null, List.of("nic.type=pcap", "nic.pcap.read=a.pcap"));
        assertEquals(new PortConfig.Pcap(pcap.nic().pcap()), pcap.ports().get(1).settings());
    }

    @Test
    void withPortTablesTheBridgeHasExactlyThosePorts()
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("port.only.type=embedded"));
        assertEquals(List.of("only"), config.ports().stream().map(PortConfig::name).toList());
        assertEquals(BridgeMode.LEARNING, config.bridge().mode());
    }

    @Test
    void toTomlWritesPortTablesAndParsesBackToAnEqualConfig()
    {
        final PagewireConfig config = PagewireConfig.parse(EVERY_KEY, "every.toml", List.of());
        final String toml = config.toToml();
        assertEquals(config, PagewireConfig.parse(toml, "effective.toml", List.of()));
        assertTrue(toml.contains("""

            [port.vm1]
            type = "vhost-user"
            vlan = 10
            mac = "52:54:00:00:00:01"
            mac_limit = 8
            agent = 3
            socket = "/run/pw/vm1.sock"
            mode = "client"
            queue_pairs = 2

            [port.mif]
            type = "memif"
            trunk = [10, 20, 30]
            """), toml);
        final Map<String, Object> map = config.toMap();
        assertEquals(List.of(10, 20, 30), map.get("port.mif.trunk"));
        assertEquals("memif", map.get("port.mif.type"));
        assertEquals("ewma", map.get("port.emb.rx.buffer_sizing"));
        assertFalse(map.containsKey("port.mif.mac_limit"), "the bridge's mac_limit is not repeated per port");

        final PagewireConfig patch = PagewireConfig.load(null, List.of("bridge.mode=patch", "port.a.type=shm",
            "port.b.type=embedded", "port.a.patch=b", "port.b.patch=a"));
        assertEquals(patch, PagewireConfig.parse(patch.toToml(), "patch.toml", List.of()));
    }

    @Test
    void theDefaultFileDescribesPortTablesAndItsExampleParses()
    {
        final String text = PagewireConfig.defaultFileText();
        assertEquals(PagewireConfig.defaults(), PagewireConfig.parse(text, "defaults.toml", List.of()));
        assertTrue(text.contains("""

            [bridge]
            # learning = learn (source MAC, VLAN) -> port from every frame,"""), text);
        for (final PortKey key : PortKey.values())
        {
            assertTrue(text.contains("#   " + key.key() + " ("), key.key());
        }
        for (final String line : text.split("\n"))
        {
            assertTrue(line.length() <= 100, line);
        }
        // Uncommented, the example is a valid bridge.
        final String example = text.substring(text.indexOf("# [port.vm1]"));
        final StringBuilder uncommented = new StringBuilder();
        for (final String line : example.split("\n"))
        {
            uncommented.append(line.startsWith("# ") ? line.substring(2) : "").append('\n');
        }
        final PagewireConfig config = PagewireConfig.parse(uncommented.toString(), "example", List.of());
        assertEquals(List.of("vm1", "uplink"), config.ports().stream().map(PortConfig::name).toList());
    }

    @Test
    void theExampleFilePassesConfigCheck()
    {
        final Path example = Path.of("examples", "bridge-two-guests.toml");
        assertTrue(Files.isRegularFile(example), example.toAbsolutePath().toString());
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(ConfigTool.EXIT_OK, ConfigTool.run(new String[] {"--check", example.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertEquals("", err.toString(StandardCharsets.UTF_8));
        final PagewireConfig config = PagewireConfig.load(example, List.of());
        assertEquals(BridgeMode.LEARNING, config.bridge().mode());
        final List<String> summary = new ArrayList<>();
        for (final PortConfig port : config.ports())
        {
            summary.add(port.name() + " " + port.type().configName() + " vlan=" + port.vlan() + " trunk=" +
                port.trunk());
        }
        assertEquals(List.of("vm1 vhost-user vlan=10 trunk=[]", "vm2 vhost-user vlan=0 trunk=[]",
            "uplink af_packet vlan=0 trunk=[10]"), summary);
        assertEquals(config, PagewireConfig.parse(out.toString(StandardCharsets.UTF_8), "stdout", List.of()));
    }

    @Test
    void checkListsEveryPortProblemAndExitsTwo() throws IOException
    {
        final Path file = Files.writeString(dir.resolve("bad.toml"), """
            [bridge]
            mode = "patch"
            [port.vm1]
            type = "vhost-user"
            socket = "/s"
            patch = "vm1"
            [port.vm2]
            type = "vhost-user"
            socket = "/s"
            """);
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(ConfigTool.EXIT_ERROR, ConfigTool.run(new String[] {"--check", file.toString(), "--set",
            "port.vm2.vlan=5000"}, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8)));
        final String n = System.lineSeparator();
        assertEquals(
            "pagewire: config error: port.vm2.vlan=5000: must be in 1..4094" + n +
            "pagewire: config error: port.vm1.patch=\"vm1\": a port cannot be patched to itself" + n +
            "pagewire: config error: port.vm2.patch: required when bridge.mode=patch (ports are cross-connected in " +
            "pairs)" + n +
            "pagewire: config error: port.vm2.socket=\"/s\": already the socket of port vm1" + n,
            err.toString(StandardCharsets.UTF_8));
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }
}
