package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PagewireConfigTest
{
    @TempDir
    Path dir;

    private Path write(final String name, final String text) throws IOException
    {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void defaultsAreTheRegistryDefaults()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        assertEquals(new VirtqueueConfig(256, 256), defaults.virtqueue());
        assertEquals(new RxConfig(RxMode.MERGEABLE, 4096, 20), defaults.rx());
        assertEquals(new NicConfig(NicType.SHM, 1024, 2048,
            new NicConfig.Memif("/tmp/pagewire-memif.sock", MemifRole.SERVER, 0),
            new NicConfig.AfPacket("", 65536, 64, 1, true, false),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false)), defaults.nic());
        assertEquals(new DataplaneConfig(32, IdleStrategyKind.BUSY_SPIN, -1, RxPolicyKind.WAIT), defaults.dataplane());
        assertEquals(new FeaturesConfig(true, true, true, true, false, false), defaults.features());
        assertEquals(new TrafficConfig(1514, 0), defaults.traffic());
        assertEquals(new GuestConfig(GuestType.EMBEDDED, 64, 0, 32, BufferSizing.FIXED, GuestTx.ECHO),
            defaults.guest());
        assertEquals(new DataplaneConfig(32, IdleStrategyKind.BUSY_SPIN, -1, RxPolicyKind.WAIT, 1),
            defaults.dataplane());
        assertEquals(new GuestConfig(GuestType.EMBEDDED, "/tmp/pagewire-vhost.sock", VhostUserMode.SERVER, 1, 64, 0,
            32, BufferSizing.FIXED, GuestTx.ECHO), defaults.guest());
        assertFalse(defaults.dataplane().pinned());
        assertEquals(2040, defaults.nic().maxFrameSize());
        assertFalse(defaults.traffic().rateLimited());
        assertEquals(defaults, PagewireConfig.load(null, List.of()));
    }

    @Test
    void defaultFileParsesBackToExactlyTheDefaults()
    {
        final String text = PagewireConfig.defaultFileText();
        assertEquals(PagewireConfig.defaults(), PagewireConfig.parse(text, "defaults.toml", List.of()));
        // Every key is written out, so the file documents them all rather than relying on the built-in defaults.
        final List<String> problems = new ArrayList<>();
        assertEquals(PagewireConfig.defaults().toMap().keySet(), TomlReader.read(text, "d", problems).keySet());
        assertEquals(List.of(), problems);
    }

    @Test
    void defaultFileCommentsEveryKeyWithDescriptionAndRuleUnderItsTable()
    {
        final String text = PagewireConfig.defaultFileText();
        assertTrue(text.contains("""
            [virtqueue]
            # Entries in the guest's RX virtqueue, the one the guest receives on (virtio 1.2 §2.7).
            # rule: a power of two in 2..32768
            rx.size = 256
            """), text);
        assertTrue(text.contains("""
            # rule: in 1..1024; at most min(virtqueue.rx.size, virtqueue.tx.size)
            burst = 32
            """), text);
        assertTrue(text.contains("""
            [traffic]
            # Bytes of each frame the embedded traffic source sends into the shm NIC, FCS not included.
            # rule: in 60..65535; at most nic.slot_size - 8
            frame_size = 1514
            """), text);
        assertTrue(text.contains("""
            # Dataplane threads; queue pairs are split across them round-robin.
            # rule: in 1..16; at most guest.queue_pairs
            agents = 1
            """), text);
        assertTrue(text.contains("""
            [guest]
            # Which virtio-net driver the device serves: embedded = the in-process guest model; vhost-user = a
            #   virtio-net driver in another process (QEMU, DPDK virtio_user) attached over a vhost-user socket.
            # rule: one of embedded|vhost-user
            type = "embedded"

            # The vhost-user Unix socket (guest.type=vhost-user).
            # rule: a non-empty path of at most 107 bytes
            socket = "/tmp/pagewire-vhost.sock"

            # server = pagewire listens on guest.socket and the frontend connects (QEMU -chardev
            #   socket,...,server=off, DPDK virtio_user default); client = pagewire connects to a frontend
            #   listening there, retrying with backoff.
            # rule: one of server|client
            mode = "server"

            # Queue pairs the device offers (VHOST_USER_PROTOCOL_F_MQ / VIRTIO_NET_F_MQ); each has its own NIC
            #   port.
            # rule: in 1..64; 1 when guest.type=embedded; 1 when nic.type=af_packet or pcap
            queue_pairs = 1

            # Packets the guest takes per poll (Linux NAPI weight).
            """), text);
        assertTrue(text.contains("""
            # rule: one of fixed|ewma; ewma requires rx.mode=mergeable
            rx.buffer_sizing = "fixed"
            """), text);
        assertTrue(text.indexOf("[features]") < text.indexOf("[traffic]"), text);
        assertTrue(text.indexOf("[traffic]") < text.indexOf("[guest]"), text);
        for (final ConfigKey key : ConfigKey.values())
        {
            assertTrue(text.contains(key.rule().substring(0, Math.min(40, key.rule().length()))), key.key());
        }
        for (final String line : text.split("\n"))
        {
            assertTrue(line.length() <= 100, line);
        }
    }

    @Test
    void toTomlParsesBackToAnEqualConfig()
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of(
            "virtqueue.rx.size=1024", "rx.mode=big", "rx.big.descriptors=17", "features.mrg_rxbuf=false",
            "dataplane.idle_strategy=backoff", "dataplane.cpu=3"));
        final String toml = config.toToml();
        assertEquals(config, PagewireConfig.parse(toml, "effective.toml", List.of()));
        assertTrue(toml.startsWith("[virtqueue]\nrx.size = 1024\ntx.size = 256\n\n[rx]\nmode = \"big\"\n"), toml);
    }

    @Test
    void toMapIsInRegistryOrderWithJsonFriendlyValues()
    {
        final Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("virtqueue.rx.size", 256);
        expected.put("virtqueue.tx.size", 256);
        expected.put("rx.mode", "mergeable");
        expected.put("rx.buffer_size", 4096);
        expected.put("rx.big.descriptors", 20);
        expected.put("nic.type", "shm");
        expected.put("nic.ring.size", 1024);
        expected.put("nic.slot_size", 2048);
        expected.put("nic.memif.socket", "/tmp/pagewire-memif.sock");
        expected.put("nic.memif.role", "server");
        expected.put("nic.memif.id", 0);
        expected.put("nic.memif.max_region_mib", 1024);
        expected.put("nic.af_packet.interface", "");
        expected.put("nic.af_packet.block_size", 65536);
        expected.put("nic.af_packet.block_count", 64);
        expected.put("nic.af_packet.retire_timeout_ms", 1);
        expected.put("nic.af_packet.promiscuous", true);
        expected.put("nic.af_packet.vnet_hdr", false);
        expected.put("nic.pcap.read", "");
        expected.put("nic.pcap.write", "");
        expected.put("nic.pcap.pace", "recorded");
        expected.put("nic.pcap.loop", false);
        expected.put("dataplane.burst", 32);
        expected.put("dataplane.idle_strategy", "busy-spin");
        expected.put("dataplane.cpu", -1);
        expected.put("dataplane.rx_policy", "wait");
        expected.put("dataplane.agents", 1);
        expected.put("features.mrg_rxbuf", true);
        expected.put("features.event_idx", true);
        expected.put("features.indirect_desc", true);
        expected.put("features.version_1", true);
        expected.put("features.guest_tso", false);
        expected.put("features.host_tso", false);
        expected.put("traffic.frame_size", 1514);
        expected.put("traffic.rate_mbps", 0);
        expected.put("guest.type", "embedded");
        expected.put("guest.socket", "/tmp/pagewire-vhost.sock");
        expected.put("guest.mode", "server");
        expected.put("guest.queue_pairs", 1);
        expected.put("guest.napi_budget", 64);
        expected.put("guest.wakeup_latency_ns", 0);
        expected.put("guest.refill_batch", 32);
        expected.put("guest.rx.buffer_sizing", "fixed");
        expected.put("guest.tx", "echo");
        expected.put("bridge.mode", "patch"); // the single-guest shorthand is a patch; "learning" in the registry
        expected.put("bridge.aging_s", 300);
        expected.put("bridge.fdb_size", 65536);
        expected.put("bridge.mac_limit", 4096);
        final Map<String, Object> map = PagewireConfig.defaults().toMap();
        assertEquals(expected, map);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(map.keySet()));
        assertThrows(UnsupportedOperationException.class, () -> map.put("x", 1));
    }

    /**
     * Sets every key to a value other than its default, so a key not wired to its record component fails here.
     */
    @Test
    void everyKeyReachesItsRecordComponent()
    {
        final Map<String, Object> changed = new LinkedHashMap<>();
        changed.put("virtqueue.rx.size", 1024);
        changed.put("virtqueue.tx.size", 512);
        changed.put("rx.mode", "big");
        changed.put("rx.buffer_size", 1526);
        changed.put("rx.big.descriptors", 40);
        changed.put("nic.type", "pcap");
        changed.put("nic.ring.size", 4096);
        changed.put("nic.slot_size", 4096);
        changed.put("nic.memif.socket", "/run/vpp/memif.sock");
        changed.put("nic.memif.role", "client");
        changed.put("nic.memif.id", 7);
        changed.put("nic.memif.max_region_mib", 64);
        changed.put("nic.af_packet.interface", "veth1");
        changed.put("nic.af_packet.block_size", 1 << 20);
        changed.put("nic.af_packet.block_count", 8);
        changed.put("nic.af_packet.retire_timeout_ms", 0);
        changed.put("nic.af_packet.promiscuous", false);
        changed.put("nic.af_packet.vnet_hdr", true);
        changed.put("nic.pcap.read", "in.pcap");
        changed.put("nic.pcap.write", "out.pcap");
        changed.put("nic.pcap.pace", "max");
        changed.put("nic.pcap.loop", true);
        changed.put("dataplane.burst", 64);
        changed.put("dataplane.idle_strategy", "sleep");
        changed.put("dataplane.cpu", 7);
        changed.put("dataplane.rx_policy", "drop");
        changed.put("dataplane.agents", 1); // more needs more queue pairs
        changed.put("features.mrg_rxbuf", false);
        changed.put("features.event_idx", false);
        changed.put("features.indirect_desc", false);
        changed.put("features.version_1", false);
        changed.put("features.guest_tso", true);
        changed.put("features.host_tso", true);
        changed.put("traffic.frame_size", 4000);
        changed.put("traffic.rate_mbps", 10000);
        changed.put("guest.type", "vhost-user");
        changed.put("guest.socket", "/run/pagewire/vm1.sock");
        changed.put("guest.mode", "client");
        changed.put("guest.queue_pairs", 1); // more needs nic.type=shm or memif; reached in ConfigRulesTest
        changed.put("guest.napi_budget", 128);
        changed.put("guest.wakeup_latency_ns", 5000);
        changed.put("guest.refill_batch", 16);
        changed.put("guest.rx.buffer_sizing", "fixed"); // ewma needs rx.mode=mergeable; reached below
        changed.put("guest.tx", "off");
        changed.put("bridge.mode", "patch"); // learning needs port tables; reached in PortConfigTest
        changed.put("bridge.aging_s", 60);
        changed.put("bridge.fdb_size", 1024);
        changed.put("bridge.mac_limit", 16);
        assertEquals(List.copyOf(PagewireConfig.defaults().toMap().keySet()), List.copyOf(changed.keySet()));

        final List<String> overrides = new ArrayList<>();
        changed.forEach((key, value) -> overrides.add(key + "=" + value));
        final PagewireConfig config = PagewireConfig.load(null, overrides);
        assertEquals(changed, config.toMap());
        assertEquals(new VirtqueueConfig(1024, 512), config.virtqueue());
        assertEquals(new RxConfig(RxMode.BIG, 1526, 40), config.rx());
        assertEquals(new NicConfig(NicType.PCAP, 4096, 4096,
            new NicConfig.Memif("/run/vpp/memif.sock", MemifRole.CLIENT, 7, 64),
            new NicConfig.AfPacket("veth1", 1 << 20, 8, 0, false, true),
            new NicConfig.Pcap("in.pcap", "out.pcap", PcapPace.MAX, true)), config.nic());
        assertEquals(new DataplaneConfig(64, IdleStrategyKind.SLEEP, 7, RxPolicyKind.DROP, 1), config.dataplane());
        assertEquals(new FeaturesConfig(false, false, false, false, true, true), config.features());
        assertEquals(new TrafficConfig(4000, 10000), config.traffic());
        assertEquals(new GuestConfig(GuestType.VHOST_USER, "/run/pagewire/vm1.sock", VhostUserMode.CLIENT, 1, 128, 5000,
            16, BufferSizing.FIXED, GuestTx.OFF), config.guest());
        assertTrue(config.dataplane().pinned());
        assertTrue(config.traffic().rateLimited());
        assertEquals(new BridgeConfig(BridgeMode.PATCH, 60, 1024, 16), config.bridge());

        final PagewireConfig ewma = PagewireConfig.load(null, List.of("guest.rx.buffer_sizing=ewma"));
        assertEquals(BufferSizing.EWMA, ewma.guest().rxBufferSizing());
        assertEquals("ewma", ewma.toMap().get("guest.rx.buffer_sizing"));
    }

    @Test
    void loadsAFile() throws IOException
    {
        final Path file = write("pagewire.toml", """
            [virtqueue]
            rx.size = 1024   # bigger ring for bursts
            [rx]
            mode = "small"
            buffer_size = 1_526
            [dataplane]
            idle_strategy = "yield"
            cpu = 0x3
            """);
        final PagewireConfig config = PagewireConfig.load(file, List.of());
        assertEquals(new VirtqueueConfig(1024, 256), config.virtqueue());
        assertEquals(new RxConfig(RxMode.SMALL, 1526, 20), config.rx());
        assertEquals(new DataplaneConfig(32, IdleStrategyKind.YIELD, 3, RxPolicyKind.WAIT), config.dataplane());
    }

    @Test
    void dottedKeyUnderTableAndDeeperTableLoadTheSame() throws IOException
    {
        final PagewireConfig dotted = PagewireConfig.load(
            write("a.toml", "[virtqueue]\nrx.size = 512\ntx.size = 64\n"), List.of());
        final PagewireConfig deeper = PagewireConfig.load(
            write("b.toml", "[virtqueue.rx]\nsize = 512\n[virtqueue.tx]\nsize = 64\n"), List.of());
        assertEquals(new VirtqueueConfig(512, 64), dotted.virtqueue());
        assertEquals(dotted, deeper);
    }

    @Test
    void overridesWinOverTheFileAndLaterOverridesWin() throws IOException
    {
        final Path file = write("pagewire.toml", "[dataplane]\nburst = 16\ncpu = 2\n");
        final PagewireConfig config = PagewireConfig.load(file, List.of("dataplane.burst=64", "dataplane.cpu=5",
            "dataplane.cpu = 6"));
        assertEquals(64, config.dataplane().burst());
        assertEquals(6, config.dataplane().cpu());
    }

    @Test
    void anOverrideReplacesABadlyTypedFileValue() throws IOException
    {
        final Path file = write("pagewire.toml", "[dataplane]\nburst = \"16\"\n");
        assertEquals(64, PagewireConfig.load(file, List.of("dataplane.burst=64")).dataplane().burst());
        final ConfigException ex = assertThrows(ConfigException.class, () -> PagewireConfig.load(file, List.of()));
        assertEquals(List.of("dataplane.burst=\"16\": must be an integer"), ex.problems());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "dataplane.burst=0x40        | dataplane.burst       | 64",
        "dataplane.burst=1_0         | dataplane.burst       | 10",
        "dataplane.cpu=-1            | dataplane.cpu         | -1",
        "rx.mode=big                 | rx.mode               | big",
        "rx.mode=\"small\"           | rx.mode               | small",
        "rx.mode='small'             | rx.mode               | small",
        "dataplane.idle_strategy=busy-spin | dataplane.idle_strategy | busy-spin",
        "features.event_idx=false    | features.event_idx    | false",
        "features.event_idx=true     | features.event_idx    | true",
        "dataplane.rx_policy=drop    | dataplane.rx_policy   | drop",
        "guest.rx.buffer_sizing=ewma | guest.rx.buffer_sizing | ewma",
        "guest.tx=\"off\"            | guest.tx              | off",
        "traffic.rate_mbps=100_000   | traffic.rate_mbps     | 100000",
        "guest.type=vhost-user       | guest.type            | vhost-user",
        "guest.type='vhost-user'     | guest.type            | vhost-user",
        "guest.mode=client           | guest.mode            | client",
        "guest.queue_pairs=1         | guest.queue_pairs     | 1",
        "guest.socket=/x             | guest.socket          | /x",
        "guest.socket = /x           | guest.socket          | /x",
        "guest.socket=\"/x\"         | guest.socket          | /x",
        "guest.socket='/x'           | guest.socket          | /x",
        "guest.socket=x.sock         | guest.socket          | x.sock",
        "guest.socket=5              | guest.socket          | 5",
        "guest.socket=true           | guest.socket          | true",
        "guest.socket=/a b/#c=d      | guest.socket          | /a b/#c=d",
        "guest.socket=/x\"          | guest.socket          | /x\"",
        "guest.socket=\"/a\\tb\"      | guest.socket          | `/a\tb`",
        "guest.socket='/a\\tb'        | guest.socket          | /a\\tb",
        "guest.socket=\"'/x'\"       | guest.socket          | '/x'",
        "guest.socket='\"/x\"'       | guest.socket          | \"/x\"",
    })
    void overridesAreTypedByTheirKey(final String override, final String key, final String expected)
    {
        assertEquals(expected, String.valueOf(PagewireConfig.load(null, List.of(override)).toMap().get(key)));
    }

    @Test
    void overriddenSocketIsAStringInTheMapAndInTheRecord() throws IOException
    {
        final Path file = write("pagewire.toml", "[guest]\nsocket = \"/from/file.sock\"\n");
        final PagewireConfig config = PagewireConfig.load(file, List.of("guest.socket=/x"));
        assertEquals("/x", config.guest().socket());
        assertEquals("/x", config.toMap().get("guest.socket"));
        assertTrue(config.toMap().get("guest.socket") instanceof String);
        assertEquals("/from/file.sock", PagewireConfig.load(file, List.of()).guest().socket());
    }

    @Test
    void vhostUserKeysLoadFromAFile() throws IOException
    {
        final Path file = write("vhost.toml", """
            [dataplane]
            agents = 2
            [guest]
            type = "vhost-user"
            socket = '/run/pagewire/vm 1.sock'   # literal string: taken as written
            mode = "client"
            queue_pairs = 4
            """);
        final PagewireConfig config = PagewireConfig.load(file, List.of());
        assertEquals(new GuestConfig(GuestType.VHOST_USER, "/run/pagewire/vm 1.sock", VhostUserMode.CLIENT, 4, 64, 0,
            32, BufferSizing.FIXED, GuestTx.ECHO), config.guest());
        assertEquals(2, config.dataplane().agents());
        assertEquals(config, PagewireConfig.parse(config.toToml(), "effective.toml", List.of()));
        assertTrue(config.toToml().contains("""
            [guest]
            type = "vhost-user"
            socket = "/run/pagewire/vm 1.sock"
            mode = "client"
            queue_pairs = 4
            """), config.toToml());
    }

    /**
     * Basic strings unescape on reading; printing escapes what must be escaped, and the result reads back equal.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        // as written in the file          | the path                 | as printed
        "`\"/tmp/plain.sock\"`             | /tmp/plain.sock          | `\"/tmp/plain.sock\"`",
        "`'/tmp/plain.sock'`               | /tmp/plain.sock          | `\"/tmp/plain.sock\"`",
        "`\"/tmp/q\\\"uote\"`              | `/tmp/q\"uote`             | `\"/tmp/q\\\"uote\"`",
        "`'/tmp/q\"uote'`                  | `/tmp/q\"uote`             | `\"/tmp/q\\\"uote\"`",
        "`\"C:\\\\pw\\\\vhost\"`            | `C:\\pw\\vhost`           | `\"C:\\\\pw\\\\vhost\"`",
        "`'C:\\pw\\vhost'`                | `C:\\pw\\vhost`           | `\"C:\\\\pw\\\\vhost\"`",
        "`\"/tmp/tab\\there\"`             | `/tmp/tab\there`          | `\"/tmp/tab\\there\"`",
        "`\"/tmp/caf\\u00e9\"`             | /tmp/caf\u00e9             | `\"/tmp/caf\u00e9\"`",
        "`\"/tmp/caf\\U000000E9\"`         | /tmp/caf\u00e9             | `\"/tmp/caf\u00e9\"`",
        "`\"/tmp/bell\\u0007\"`            | `/tmp/bell\u0007`         | `\"/tmp/bell\\u0007\"`",
        "`\"/tmp/del\\u007f\"`             | `/tmp/del\u007f`          | `\"/tmp/del\\u007F\"`",
        "`\"/tmp/#not-a-comment\" # one`   | /tmp/#not-a-comment      | `\"/tmp/#not-a-comment\"`",
    })
    void socketStringsParseAndPrintWithEscapes(final String written, final String path, final String printed)
    {
        final String text = "[guest]\nsocket = " + written + "\n";
        final PagewireConfig config = PagewireConfig.parse(text, "f.toml", List.of());
        assertEquals(path, config.guest().socket());
        assertEquals(path, config.toMap().get("guest.socket"));
        final String toml = config.toToml();
        assertTrue(toml.contains("\nsocket = " + printed + "\n"), toml);
        assertEquals(config, PagewireConfig.parse(toml, "effective.toml", List.of()));
        // The same value given as a quoted override.
        assertEquals(config, PagewireConfig.load(null, List.of("guest.socket=" + written.replace(" # one", ""))));
    }

    @Test
    void missingFileNamesThePathAndOverridesAreStillChecked()
    {
        final Path missing = dir.resolve("nope.toml");
        final ConfigException ex = assertThrows(ConfigException.class,
            () -> PagewireConfig.load(missing, List.of("dataplane.burst=0")));
        assertEquals(List.of(missing + ": no such file", "dataplane.burst=0: must be in 1..1024"), ex.problems());
    }

    @Test
    void directoryAndNonUtf8FilesAreReported() throws IOException
    {
        assertEquals(List.of(dir + ": is a directory, not a config file"),
            assertThrows(ConfigException.class, () -> PagewireConfig.load(dir, List.of())).problems());
        final Path latin1 =
            Files.write(dir.resolve("latin1.toml"), "a = \"\u00e9\"\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(List.of(latin1 + ": not valid UTF-8"),
            assertThrows(ConfigException.class, () -> PagewireConfig.load(latin1, List.of())).problems());
    }

    @Test
    void parseErrorsCarryFileAndLineAndComeWithTheOtherProblems() throws IOException
    {
        final Path file = write("bad.toml", """
            [virtqueue]
            rx.size = 300
            tx.size = 256
            tx.size = 512
            [rx]
            mode = "mergeable
            [dataplane]
            bursts = 64
            """);
        final ConfigException ex = assertThrows(ConfigException.class,
            () -> PagewireConfig.load(file, List.of("features.mrg_rxbuf=maybe")));
        assertEquals(List.of(
            file + ":4: duplicate key virtqueue.tx.size (first set on line 3)",
            file + ":6: unterminated string",
            "dataplane.bursts: unknown key (did you mean dataplane.burst?)",
            "features.mrg_rxbuf=maybe: must be true or false",
            "virtqueue.rx.size=300: must be a power of two in 2..32768"), ex.problems());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "virtqueue.rx.sise        | virtqueue.rx.size: did you mean",
        "virtqueue.rx.szie        | virtqueue.rx.size: did you mean",
        "Virtqueue.RX.Size        | virtqueue.rx.size: did you mean",
        "rx.size                  | virtqueue.rx.size: did you mean",
        "burst                    | dataplane.burst: did you mean",
        "dataplane.idle-strategy  | dataplane.idle_strategy: did you mean",
        "dataplane.idle           | dataplane.idle_strategy: did you mean",
        "features.mrg_rx_buf      | features.mrg_rxbuf: did you mean",
        "slot_size                | nic.slot_size: did you mean",
        "guest.napi-budget        | guest.napi_budget: did you mean",
        "traffic.rate_mbit        | traffic.rate_mbps: did you mean",
        "guest.rx.buffer_size     | guest.rx.buffer_sizing: did you mean",
        "guest.sock               | guest.socket: did you mean",
        "guest.queue-pairs        | guest.queue_pairs: did you mean",
        "dataplane.agent          | dataplane.agents: did you mean",
        "virtqueue                | virtqueue.rx.size: did you mean",
        "completely.different.key | : no suggestion",
    })
    void unknownKeysSuggestTheNearestKey(final String unknown, final String expectation)
    {
        final String suggested = expectation.substring(0, expectation.indexOf(':'));
        final String expected = suggested.isEmpty() ?
            unknown + ": unknown key" : unknown + ": unknown key (did you mean " + suggested + "?)";
        assertEquals(List.of(expected), ConfigRulesTest.problemsOf(unknown + "=1"));
    }

    @Test
    void unknownFileKeysAreReportedWithSuggestions() throws IOException
    {
        final Path file = write("typo.toml", "[virtqueue]\nrx.sise = 256\n[nic]\nkind = \"shm\"\n");
        assertEquals(List.of(
            "virtqueue.rx.sise: unknown key (did you mean virtqueue.rx.size?)",
            "nic.kind: unknown key"),
            assertThrows(ConfigException.class, () -> PagewireConfig.load(file, List.of())).problems());
    }

    @Test
    void editDistanceCountsASwapAsOneEdit()
    {
        assertEquals(0, KeySuggestion.distance("abc", "abc"));
        assertEquals(1, KeySuggestion.distance("size", "sise"));
        assertEquals(1, KeySuggestion.distance("size", "szie"));
        assertEquals(3, KeySuggestion.distance("", "abc"));
        assertEquals(3, KeySuggestion.distance("kitten", "sitting"));
    }
}
