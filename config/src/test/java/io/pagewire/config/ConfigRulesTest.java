package io.pagewire.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every rule of the registry, each asserting the exact message: {@code key=value: rule}.
 */
class ConfigRulesTest
{
    static List<String> problemsOf(final String... overrides)
    {
        return assertThrows(ConfigException.class, () -> PagewireConfig.load(null, List.of(overrides))).problems();
    }

    /**
     * Each row: overrides separated by spaces, then the single expected message.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", quoteCharacter = '`', value = {
        // virtqueue sizes: virtio 1.2 §2.7
        "virtqueue.rx.size=300 => virtqueue.rx.size=300: must be a power of two in 2..32768",
        "virtqueue.rx.size=1 => virtqueue.rx.size=1: must be a power of two in 2..32768",
        "virtqueue.rx.size=65536 => virtqueue.rx.size=65536: must be a power of two in 2..32768",
        "virtqueue.rx.size=0 => virtqueue.rx.size=0: must be a power of two in 2..32768",
        "virtqueue.tx.size=-256 => virtqueue.tx.size=-256: must be a power of two in 2..32768",
        "virtqueue.tx.size=100 => virtqueue.tx.size=100: must be a power of two in 2..32768",
        // rx
        "rx.mode=jumbo => rx.mode=jumbo: must be one of auto|mergeable|big|small",
        "rx.mode=Mergeable => rx.mode=Mergeable: must be one of auto|mergeable|big|small",
        "rx.buffer_size=11 => rx.buffer_size=11: must be in 12..65562",
        "rx.buffer_size=65563 => rx.buffer_size=65563: must be in 12..65562",
        "rx.big.descriptors=0 => rx.big.descriptors=0: must be in 1..32768",
        "rx.big.descriptors=32769 => rx.big.descriptors=32769: must be in 1..32768",
        "rx.mode=big rx.big.descriptors=300 => rx.big.descriptors=300: must be in 1..virtqueue.rx.size (256) when rx.mode=big",
        "rx.mode=big virtqueue.rx.size=16 dataplane.burst=16 => rx.big.descriptors=20: must be in 1..virtqueue.rx.size (16) when rx.mode=big",
        "rx.mode=big virtqueue.rx.size=64 rx.big.descriptors=65 => rx.big.descriptors=65: must be in 1..virtqueue.rx.size (64) when rx.mode=big",
        "rx.mode=mergeable features.mrg_rxbuf=false => rx.mode=mergeable: requires features.mrg_rxbuf=true",
        "features.mrg_rxbuf=false features.guest_tso=true virtqueue.rx.size=16 dataplane.burst=16 => rx.big.descriptors=20: must be in 1..virtqueue.rx.size (16) when rx.mode=big (rx.mode=auto is big with features.mrg_rxbuf=false, features.guest_tso=true)",
        // nic
        "nic.ring.size=1000 => nic.ring.size=1000: must be a power of two in 2..65536",
        "nic.ring.size=131072 => nic.ring.size=131072: must be a power of two in 2..65536",
        "nic.ring.size=1 => nic.ring.size=1: must be a power of two in 2..65536",
        "nic.slot_size=1000 => nic.slot_size=1000: must be a power of two in 128..131072",
        "nic.slot_size=64 => nic.slot_size=64: must be a power of two in 128..131072",
        "nic.slot_size=262144 => nic.slot_size=262144: must be a power of two in 128..131072",
        "nic.slot_size=1024 => traffic.frame_size=1514: must be at most nic.slot_size - 8 = 1016",
        // dataplane
        "dataplane.burst=0 => dataplane.burst=0: must be in 1..1024",
        "dataplane.burst=1025 => dataplane.burst=1025: must be in 1..1024",
        "dataplane.burst=512 => dataplane.burst=512: must be at most min(virtqueue.rx.size, virtqueue.tx.size) = 256",
        "virtqueue.rx.size=64 virtqueue.tx.size=128 dataplane.burst=65 => dataplane.burst=65: must be at most min(virtqueue.rx.size, virtqueue.tx.size) = 64",
        "virtqueue.tx.size=16 => dataplane.burst=32: must be at most min(virtqueue.rx.size, virtqueue.tx.size) = 16",
        "dataplane.idle_strategy=spin => dataplane.idle_strategy=spin: must be one of busy-spin|yield|backoff|sleep",
        "dataplane.cpu=-2 => dataplane.cpu=-2: must be in -1..1023",
        "dataplane.cpu=1024 => dataplane.cpu=1024: must be in -1..1023",
        "dataplane.rx_policy=block => dataplane.rx_policy=block: must be one of wait|drop",
        "dataplane.rx_policy=Drop => dataplane.rx_policy=Drop: must be one of wait|drop",
        "dataplane.agents=0 => dataplane.agents=0: must be in 1..16",
        "dataplane.agents=17 => dataplane.agents=17: must be in 1..16",
        "dataplane.agents=2 => dataplane.agents=2: must be at most guest.queue_pairs = 1",
        "guest.type=vhost-user guest.queue_pairs=2 dataplane.agents=3 => dataplane.agents=3: must be at most guest.queue_pairs = 2",
        "guest.type=vhost-user guest.queue_pairs=16 dataplane.agents=17 => dataplane.agents=17: must be in 1..16",
        // nic ports
        "nic.type=dpdk => nic.type=dpdk: must be one of shm|memif|af_packet|pcap",
        "nic.type=af_packet => nic.af_packet.interface=\"\": must name an interface when nic.type=af_packet",
        "nic.type=memif nic.ring.size=32768 => nic.ring.size=32768: must be at most 16384 when nic.type=memif (memif rings are at most 2^14, DPDK net_memif's limit)",
        "nic.af_packet.interface=abcdefghijklmnop => nic.af_packet.interface=\"abcdefghijklmnop\": must be empty or an interface name of 1..15 bytes without '/', ':' or whitespace",
        "nic.af_packet.interface=eth/0 => nic.af_packet.interface=\"eth/0\": must be empty or an interface name of 1..15 bytes without '/', ':' or whitespace",
        "nic.af_packet.interface=eth0:1 => nic.af_packet.interface=\"eth0:1\": must be empty or an interface name of 1..15 bytes without '/', ':' or whitespace",
        "nic.af_packet.block_size=6000 => nic.af_packet.block_size=6000: must be a power of two in 4096..67108864",
        "nic.af_packet.block_count=1 => nic.af_packet.block_count=1: must be in 2..65536",
        "nic.af_packet.retire_timeout_ms=-1 => nic.af_packet.retire_timeout_ms=-1: must be in 0..60000",
        "nic.type=pcap => nic.pcap.read=\"\": or nic.pcap.write must name a file when nic.type=pcap",
        "nic.pcap.pace=fast => nic.pcap.pace=fast: must be one of recorded|rate|max",
        "nic.memif.role=master => nic.memif.role=master: must be one of server|client",
        "nic.memif.id=-1 => nic.memif.id=-1: must be in 0..2147483647",
        "nic.memif.socket= => nic.memif.socket=\"\": must be a non-empty path of at most 107 bytes",
        "nic.memif.max_region_mib=0 => nic.memif.max_region_mib=0: must be in 1..1048576",
        "nic.type=pcap nic.pcap.read=a.pcap guest.type=vhost-user guest.queue_pairs=2 => guest.queue_pairs=2: must be 1 when nic.type=pcap",
        "nic.type=af_packet nic.af_packet.interface=lo guest.type=vhost-user guest.queue_pairs=2 => guest.queue_pairs=2: must be 1 when nic.type=af_packet",
        // traffic
        "traffic.frame_size=59 => traffic.frame_size=59: must be in 60..65535",
        "traffic.frame_size=65536 => traffic.frame_size=65536: must be in 60..65535",
        "traffic.frame_size=4000 => traffic.frame_size=4000: must be at most nic.slot_size - 8 = 2040",
        "traffic.frame_size=2041 => traffic.frame_size=2041: must be at most nic.slot_size - 8 = 2040",
        "nic.slot_size=65536 traffic.frame_size=65529 => traffic.frame_size=65529: must be at most nic.slot_size - 8 = 65528",
        "traffic.rate_mbps=-1 => traffic.rate_mbps=-1: must be in 0..400000",
        "traffic.rate_mbps=400001 => traffic.rate_mbps=400001: must be in 0..400000",
        // guest
        "guest.type=virtio-user => guest.type=virtio-user: must be one of embedded|vhost-user",
        "guest.type=vhost_user => guest.type=vhost_user: must be one of embedded|vhost-user",
        "guest.type=VHOST_USER => guest.type=VHOST_USER: must be one of embedded|vhost-user",
        "guest.socket= => guest.socket=\"\": must be a non-empty path of at most 107 bytes",
        "guest.socket=\"\" => guest.socket=\"\": must be a non-empty path of at most 107 bytes",
        "guest.socket='' => guest.socket=\"\": must be a non-empty path of at most 107 bytes",
        "guest.socket=\"/tmp/a\\u0000b\" => guest.socket=\"/tmp/a\\u0000b\": must be a non-empty path of at most 107 bytes",
        "guest.socket=\"/x => guest.socket=\"/x: must be a string",
        "guest.socket='/x => guest.socket='/x: must be a string",
        "guest.socket=\"/x\"y => guest.socket=\"/x\"y: must be a string",
        "guest.mode=listen => guest.mode=listen: must be one of server|client",
        "guest.mode=Server => guest.mode=Server: must be one of server|client",
        "guest.queue_pairs=0 => guest.queue_pairs=0: must be in 1..64",
        "guest.queue_pairs=65 => guest.queue_pairs=65: must be in 1..64",
        "guest.type=vhost-user guest.queue_pairs=65 => guest.queue_pairs=65: must be in 1..64",
        "guest.queue_pairs=2 => guest.queue_pairs=2: must be 1 when guest.type=embedded",
        "guest.type=embedded guest.queue_pairs=64 => guest.queue_pairs=64: must be 1 when guest.type=embedded",
        "guest.queue_pairs=x => guest.queue_pairs=x: must be an integer",
        "guest.napi_budget=0 => guest.napi_budget=0: must be in 1..65536",
        "guest.napi_budget=65537 => guest.napi_budget=65537: must be in 1..65536",
        "guest.wakeup_latency_ns=-1 => guest.wakeup_latency_ns=-1: must be in 0..1000000000",
        "guest.wakeup_latency_ns=1000000001 => guest.wakeup_latency_ns=1000000001: must be in 0..1000000000",
        "guest.refill_batch=0 => guest.refill_batch=0: must be in 1..32768",
        "guest.refill_batch=32769 => guest.refill_batch=32769: must be in 1..32768",
        "guest.rx.buffer_sizing=adaptive => guest.rx.buffer_sizing=adaptive: must be one of fixed|ewma",
        "guest.rx.buffer_sizing=ewma rx.mode=small => guest.rx.buffer_sizing=ewma: requires rx.mode=mergeable",
        "guest.rx.buffer_sizing=ewma rx.mode=big => guest.rx.buffer_sizing=ewma: requires rx.mode=mergeable",
        "guest.rx.buffer_sizing=ewma features.mrg_rxbuf=false => guest.rx.buffer_sizing=ewma: requires rx.mode=mergeable (rx.mode=auto is small with features.mrg_rxbuf=false, features.guest_tso=false)",
        "guest.tx=loopback => guest.tx=loopback: must be one of echo|off",
        // values beyond int are judged by the key's rule, not truncated
        "dataplane.cpu=4294967296 => dataplane.cpu=4294967296: must be in -1..1023",
        // types
        "dataplane.burst=\"32\" => dataplane.burst=\"32\": must be an integer",
        "dataplane.burst=lots => dataplane.burst=lots: must be an integer",
        "dataplane.burst= => dataplane.burst=: must be an integer",
        "dataplane.burst=1.5 => dataplane.burst=1.5: must be an integer",
        "features.event_idx=yes => features.event_idx=yes: must be true or false",
        "features.indirect_desc=1 => features.indirect_desc=1: must be true or false",
        "features.version_1=TRUE => features.version_1=TRUE: must be true or false",
        // malformed overrides and unknown keys
        "rx.mode => --set rx.mode: expected key=value",
        "=big => --set =big: expected key=value",
        "virtqueue.rx.sise=256 => virtqueue.rx.sise: unknown key (did you mean virtqueue.rx.size?)",
    })
    void ruleMessage(final String overrides, final String expected)
    {
        assertEquals(List.of(expected), problemsOf(overrides.split(" ")));
    }

    @Test
    void fileValuesOfTheWrongTypeAreShownAsWritten()
    {
        final ConfigException ex = assertThrows(ConfigException.class, () -> PagewireConfig.parse("""
            [dataplane]
            burst = "32"
            [features]
            event_idx = 1
            [rx]
            mode = 5
            buffer_size = [1, 2]
            """, "f.toml", List.of()));
        assertEquals(List.of(
            "rx.mode=5: must be one of auto|mergeable|big|small",
            "rx.buffer_size=[1, 2]: must be an integer",
            "dataplane.burst=\"32\": must be an integer",
            "features.event_idx=1: must be true or false"), ex.problems());
    }

    @Test
    void fileStringValuesOfTheWrongTypeAreShownAsWritten()
    {
        final String[][] writtenAndShown = {{"5", "5"}, {"true", "true"}, {"[\"/a\", '/b']", "[\"/a\", \"/b\"]"}};
        for (final String[] written : writtenAndShown)
        {
            final ConfigException ex = assertThrows(ConfigException.class,
                () -> PagewireConfig.parse("[guest]\nsocket = " + written[0] + "\n", "f.toml", List.of()));
            assertEquals(List.of("guest.socket=" + written[1] + ": must be a string"), ex.problems());
        }
    }

    @Test
    void fileStringValuesBreakingTheirRuleAreShownQuotedAndEscaped()
    {
        final ConfigException ex = assertThrows(ConfigException.class,
            () -> PagewireConfig.parse("[guest]\nsocket = ''\n", "f.toml", List.of()));
        assertEquals(List.of("guest.socket=\"\": must be a non-empty path of at most 107 bytes"), ex.problems());
        final ConfigException nul = assertThrows(ConfigException.class,
            () -> PagewireConfig.parse("[guest]\nsocket = \"a\\\"\\u0000\"\n", "f.toml", List.of()));
        assertEquals(List.of("guest.socket=\"a\\\"\\u0000\": must be a non-empty path of at most 107 bytes"),
            nul.problems());
    }

    @Test
    void socketPathIsLimitedTo107BytesNotCharacters()
    {
        final String at107 = "/" + "s".repeat(106);
        assertEquals(at107, PagewireConfig.load(null, List.of("guest.socket=" + at107)).guest().socket());
        final String at108 = "/" + "s".repeat(107);
        assertEquals(List.of("guest.socket=\"" + at108 + "\": must be a non-empty path of at most 107 bytes"),
            problemsOf("guest.socket=" + at108));

        // U+00E9 is two bytes in UTF-8: 1 + 2 * 53 = 107 bytes fits, 1 + 2 * 54 = 109 bytes in 55 characters does not.
        final String twoByte107 = "/" + "\u00e9".repeat(53);
        assertEquals(twoByte107, PagewireConfig.load(null, List.of("guest.socket=" + twoByte107)).guest().socket());
        final String twoByte109 = "/" + "\u00e9".repeat(54);
        assertEquals(List.of("guest.socket=\"" + twoByte109 + "\": must be a non-empty path of at most 107 bytes"),
            problemsOf("guest.socket=" + twoByte109));
    }

    @Test
    void fileEnumValuesAreShownByName()
    {
        final ConfigException ex = assertThrows(ConfigException.class,
            () -> PagewireConfig.parse("[rx]\nmode = \"jumbo\"\n", "f.toml", List.of()));
        assertEquals(List.of("rx.mode=jumbo: must be one of auto|mergeable|big|small"), ex.problems());
    }

    @Test
    void bigDescriptorsAboveQueueSizeAreAllowedOutsideBigMode()
    {
        for (final String mode : List.of("mergeable", "small"))
        {
            final PagewireConfig config = PagewireConfig.load(null,
                List.of("rx.mode=" + mode, "virtqueue.rx.size=16", "virtqueue.tx.size=16", "dataplane.burst=16"));
            assertEquals(20, config.rx().bigDescriptors());
        }
    }

    @Test
    void crossKeyRulesHoldAtTheirBounds()
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of(
            "rx.mode=big", "rx.big.descriptors=64", "virtqueue.rx.size=64", "virtqueue.tx.size=128",
            "dataplane.burst=64", "features.mrg_rxbuf=false"));
        assertEquals(64, config.rx().bigDescriptors());
        assertEquals(64, config.dataplane().burst());
        assertEquals(false, config.features().mrgRxbuf());
    }

    @Test
    void agentsMayReachTheQueuePairsAndQueuePairsMayExceedOneWithVhostUser()
    {
        for (final int[] pairsAndAgents : new int[][] {{1, 1}, {2, 1}, {2, 2}, {5, 3}, {16, 16}, {64, 16}, {64, 1}})
        {
            final PagewireConfig config = PagewireConfig.load(null, List.of("guest.type=vhost-user",
                "guest.queue_pairs=" + pairsAndAgents[0], "dataplane.agents=" + pairsAndAgents[1]));
            assertEquals(pairsAndAgents[0], config.guest().queuePairs());
            assertEquals(pairsAndAgents[1], config.dataplane().agents());
        }
        assertEquals(1, PagewireConfig.load(null, List.of("guest.type=embedded", "guest.queue_pairs=1"))
            .guest().queuePairs());
    }

    @Test
    void frameSizeMayFillASlotAfterItsHeader()
    {
        for (final int[] slotAndFrame : new int[][] {{128, 120}, {2048, 2040}, {65536, 65528}, {131072, 65535}})
        {
            final PagewireConfig config = PagewireConfig.load(null,
                List.of("nic.slot_size=" + slotAndFrame[0], "traffic.frame_size=" + slotAndFrame[1]));
            assertEquals(slotAndFrame[1], config.traffic().frameSize());
            assertEquals(slotAndFrame[0] - 8, config.nic().maxFrameSize());
        }
    }

    @Test
    void ewmaSizingIsFineInMergeableModeAndFixedInEveryMode()
    {
        assertEquals(BufferSizing.EWMA,
            PagewireConfig.load(null, List.of("guest.rx.buffer_sizing=ewma")).guest().rxBufferSizing());
        for (final String mode : List.of("mergeable", "big", "small"))
        {
            final PagewireConfig config =
                PagewireConfig.load(null, List.of("rx.mode=" + mode, "guest.rx.buffer_sizing=fixed"));
            assertEquals(BufferSizing.FIXED, config.guest().rxBufferSizing());
        }
    }

    @Test
    void mergeableWithoutMrgRxbufIsFineInOtherModes()
    {
        for (final String mode : List.of("big", "small"))
        {
            final PagewireConfig config = PagewireConfig.load(null, List.of("rx.mode=" + mode, "features.mrg_rxbuf=false"));
            assertEquals(false, config.features().mrgRxbuf());
        }
    }

    @Test
    void oneBadValueGivesOneMessageNotACascade()
    {
        // tx.size is invalid on its own, so the burst rule that reads it is not checked.
        assertEquals(List.of("virtqueue.tx.size=3: must be a power of two in 2..32768"),
            problemsOf("virtqueue.tx.size=3"));
        // A badly typed mrg_rxbuf does not also produce the mergeable rule's message.
        assertEquals(List.of("features.mrg_rxbuf=no: must be true or false"), problemsOf("features.mrg_rxbuf=no"));
        // A slot size that is invalid on its own is not also measured against traffic.frame_size.
        assertEquals(List.of("nic.slot_size=100: must be a power of two in 128..131072"),
            problemsOf("nic.slot_size=100"));
        // An unknown rx.mode does not also produce the ewma rule's message.
        assertEquals(List.of("rx.mode=jumbo: must be one of auto|mergeable|big|small"),
            problemsOf("rx.mode=jumbo", "guest.rx.buffer_sizing=ewma"));
        // A queue_pairs that is invalid on its own is measured neither against guest.type nor by dataplane.agents.
        assertEquals(List.of("guest.queue_pairs=0: must be in 1..64"),
            problemsOf("guest.queue_pairs=0", "dataplane.agents=2"));
        // An unknown guest.type does not also produce the embedded rule's message.
        assertEquals(List.of("guest.type=qemu: must be one of embedded|vhost-user"),
            problemsOf("guest.type=qemu", "guest.queue_pairs=4"));
    }

    @Test
    void agentsAndQueuePairsAreEachReportedWhenBothAreWrong()
    {
        // Two independent fixes are needed: fewer agents than queue pairs, and a single queue pair for embedded.
        assertEquals(List.of(
            "dataplane.agents=3: must be at most guest.queue_pairs = 2",
            "guest.queue_pairs=2: must be 1 when guest.type=embedded"),
            problemsOf("guest.queue_pairs=2", "dataplane.agents=3"));
    }

    @Test
    void severalProblemsAreReportedTogetherInOrder()
    {
        assertEquals(List.of(
            "--set nonsense: expected key=value",
            "burst: unknown key (did you mean dataplane.burst?)",
            "dataplane.cpu=x: must be an integer",
            "virtqueue.rx.size=300: must be a power of two in 2..32768",
            "rx.buffer_size=8: must be in 12..65562",
            "rx.mode=mergeable: requires features.mrg_rxbuf=true"),
            problemsOf("virtqueue.rx.size=300", "nonsense", "burst=64", "rx.buffer_size=8", "dataplane.cpu=x",
                "rx.mode=mergeable", "features.mrg_rxbuf=false"));
    }

    @Test
    void recordsCannotBeBuiltInvalid()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        final ConfigException ex = assertThrows(ConfigException.class, () -> new PagewireConfig(
            new VirtqueueConfig(300, 256),
            defaults.rx(),
            defaults.nic(),
            new DataplaneConfig(0, IdleStrategyKind.YIELD, -1, RxPolicyKind.DROP),
            new FeaturesConfig(false, true, true, true, false, false),
            new TrafficConfig(3000, 0),
            new GuestConfig(GuestType.EMBEDDED, 64, 0, 0, BufferSizing.EWMA, GuestTx.ECHO)));
        assertEquals(List.of(
            "virtqueue.rx.size=300: must be a power of two in 2..32768",
            "dataplane.burst=0: must be in 1..1024",
            "guest.refill_batch=0: must be in 1..32768",
            "rx.mode=mergeable: requires features.mrg_rxbuf=true",
            "traffic.frame_size=3000: must be at most nic.slot_size - 8 = 2040"), ex.problems());
        assertEquals(String.join("\n", ex.problems()), ex.getMessage());
    }

    @Test
    void recordsWithTheVhostUserComponentsCannotBeBuiltInvalid()
    {
        final PagewireConfig defaults = PagewireConfig.defaults();
        final ConfigException ex = assertThrows(ConfigException.class, () -> new PagewireConfig(
            defaults.virtqueue(),
            defaults.rx(),
            defaults.nic(),
            new DataplaneConfig(32, IdleStrategyKind.BUSY_SPIN, -1, RxPolicyKind.WAIT, 3),
            defaults.features(),
            defaults.traffic(),
            new GuestConfig(GuestType.EMBEDDED, "", VhostUserMode.CLIENT, 2, 64, 0, 32, BufferSizing.FIXED,
                GuestTx.ECHO)));
        assertEquals(List.of(
            "guest.socket=\"\": must be a non-empty path of at most 107 bytes",
            "dataplane.agents=3: must be at most guest.queue_pairs = 2",
            "guest.queue_pairs=2: must be 1 when guest.type=embedded"), ex.problems());
        assertThrows(NullPointerException.class, () -> new GuestConfig(GuestType.VHOST_USER, null,
            VhostUserMode.SERVER, 1, 64, 0, 32, BufferSizing.FIXED, GuestTx.ECHO));
        assertThrows(NullPointerException.class, () -> new GuestConfig(GuestType.VHOST_USER, "/x",
            null, 1, 64, 0, 32, BufferSizing.FIXED, GuestTx.ECHO));
    }

    @Test
    void recordConstructorsWithoutTheNewComponentsUseTheirDefaults()
    {
        assertEquals(new GuestConfig(GuestType.EMBEDDED, "/tmp/pagewire-vhost.sock", VhostUserMode.SERVER, 1, 128,
                5, 16, BufferSizing.EWMA, GuestTx.OFF),
            new GuestConfig(GuestType.EMBEDDED, 128, 5, 16, BufferSizing.EWMA, GuestTx.OFF));
        assertEquals(new DataplaneConfig(64, IdleStrategyKind.YIELD, 2, RxPolicyKind.DROP, 1),
            new DataplaneConfig(64, IdleStrategyKind.YIELD, 2, RxPolicyKind.DROP));
    }

    @Test
    void everyKeyHasADescriptionAndARule()
    {
        for (final ConfigKey key : ConfigKey.values())
        {
            assertEquals(false, key.description().isBlank(), key.key());
            assertEquals(false, key.rule().isBlank(), key.key());
            assertEquals(key, ConfigKey.byKey(key.key()).orElseThrow());
        }
        assertEquals("in 1..1024; at most min(virtqueue.rx.size, virtqueue.tx.size)", ConfigKey.DATAPLANE_BURST.rule());
        assertEquals("one of auto|mergeable|big|small; mergeable requires features.mrg_rxbuf=true",
            ConfigKey.RX_MODE.rule());
        assertEquals("a power of two in 128..131072", ConfigKey.NIC_SLOT_SIZE.rule());
        assertEquals("in 60..65535; at most nic.slot_size - 8", ConfigKey.TRAFFIC_FRAME_SIZE.rule());
        assertEquals("one of fixed|ewma; ewma requires rx.mode=mergeable", ConfigKey.GUEST_RX_BUFFER_SIZING.rule());
        assertEquals("one of wait|drop", ConfigKey.DATAPLANE_RX_POLICY.rule());
        assertEquals("one of embedded|vhost-user", ConfigKey.GUEST_TYPE.rule());
        assertEquals("a non-empty path of at most 107 bytes", ConfigKey.GUEST_SOCKET.rule());
        assertEquals("one of server|client", ConfigKey.GUEST_MODE.rule());
        assertEquals("in 1..64; 1 when guest.type=embedded; 1 when nic.type=af_packet or pcap", ConfigKey.GUEST_QUEUE_PAIRS.rule());
        assertEquals("in 1..16; at most guest.queue_pairs", ConfigKey.DATAPLANE_AGENTS.rule());
        assertEquals(ConfigKey.Type.STRING, ConfigKey.GUEST_SOCKET.type());
        assertEquals(ConfigKey.Type.ENUM, ConfigKey.GUEST_MODE.type());
        assertEquals(ConfigKey.Type.INTEGER, ConfigKey.GUEST_QUEUE_PAIRS.type());
        assertEquals(ConfigKey.Type.INTEGER, ConfigKey.DATAPLANE_AGENTS.type());
        assertEquals("one of echo|off", ConfigKey.GUEST_TX.rule());
    }
}
