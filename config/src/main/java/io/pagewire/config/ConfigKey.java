package io.pagewire.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The registry of every configuration key: its dotted name, its type, its single default, its rule and a one-line
 * description. This is the one place a key is declared; the reader, the validation, the printed default file and
 * {@link PagewireConfig#toMap()} all follow it, in this order.
 * <p>
 * A key's type follows from its default: an {@code int}, a {@code boolean}, a {@link String}, or a {@link ConfigEnum}
 * constant whose enum lists the allowed values. Integer and string keys also take a rule of their own
 * ({@link IntRule}, {@link StringRule}). Rules that relate keys are in {@link #CROSS_KEY_RULES}, below the keys.
 * <p>
 * Adding a key: add a constant here, a component to the matching record, and a line to each of
 * {@code PagewireConfig.fromValues}/{@code values}. Adding a table: add its record, a component of
 * {@link PagewireConfig} and a parameter of {@code PagewireConfig.values}; keys print in registry order, so a table's
 * keys stay together.
 * <p>
 * The keys of the {@code [port.NAME]} tables, which repeat per port, are in {@link PortKey}; those that mirror a key
 * here take their type, default and rule from it.
 */
public enum ConfigKey
{
    /** Guest RX virtqueue size. */
    VIRTQUEUE_RX_SIZE("virtqueue.rx.size", 256, IntRule.powerOfTwo(2, 32768),
        "Entries in the guest's RX virtqueue, the one the guest receives on (virtio 1.2 §2.7)."),

    /** Guest TX virtqueue size. */
    VIRTQUEUE_TX_SIZE("virtqueue.tx.size", 256, IntRule.powerOfTwo(2, 32768),
        "Entries in the guest's TX virtqueue, the one the guest sends on (virtio 1.2 §2.7)."),

    /** How the guest posts RX buffers. */
    RX_MODE("rx.mode", RxMode.AUTO,
        "How the guest posts RX buffers: auto = as a Linux guest's virtio_net chooses from the offered features " +
        "(mergeable with features.mrg_rxbuf, else big with features.guest_tso, else small); mergeable = page " +
        "buffers merged per packet by the device (VIRTIO_NET_F_MRG_RXBUF); big = one chain of rx.big.descriptors " +
        "per packet; small = one buffer per packet."),

    /** Size of each RX buffer (mergeable, small) or of each descriptor of a big chain. */
    RX_BUFFER_SIZE("rx.buffer_size", 4096, IntRule.range(12, 65562),
        "Bytes of each RX buffer the guest posts, or of each descriptor of a big chain " +
        "(12 = the net header with num_buffers)."),

    /** Descriptors per RX chain in big mode. */
    RX_BIG_DESCRIPTORS("rx.big.descriptors", 20, IntRule.range(1, 32768),
        "Descriptors per RX chain in big mode (20 in the legacy max-size scheme)."),

    /** The NIC port kind. */
    NIC_TYPE("nic.type", NicType.SHM,
        "The NIC port frames come from and go to: shm = the embedded shared-memory ring (fed by the embedded " +
        "traffic source); memif = a shared-memory packet interface peer (VPP, DPDK net_memif); af_packet = a " +
        "kernel network interface through TPACKET_V3 rings; pcap = replay nic.pcap.read, record to nic.pcap.write."),

    /** NIC port ring size. */
    NIC_RING_SIZE("nic.ring.size", 1024, IntRule.powerOfTwo(2, 65536),
        "Frames in each NIC port ring."),

    /** Bytes of each NIC ring slot, header included. */
    NIC_SLOT_SIZE("nic.slot_size", 2048, IntRule.powerOfTwo(128, 131072),
        "Bytes of each NIC ring slot: an 8-byte slot header and the frame, so frames up to nic.slot_size - 8 bytes."),

    /** memif control socket. */
    NIC_MEMIF_SOCKET("nic.memif.socket", "/tmp/pagewire-memif.sock", StringRule.nonEmptyPath(107),
        "The memif control socket (SOCK_SEQPACKET) when nic.type=memif."),

    /** memif role. */
    NIC_MEMIF_ROLE("nic.memif.role", MemifRole.SERVER,
        "server = pagewire listens on nic.memif.socket and maps the rings the peer creates (DPDK net_memif " +
        "role=client); client = pagewire connects, creates the memory and rings, and reconnects when the peer goes."),

    /** memif interface id. */
    NIC_MEMIF_ID("nic.memif.id", 0, IntRule.range(0, Integer.MAX_VALUE),
        "The memif interface id; both peers must use the same one (DPDK net_memif id=)."),

    /** Cap on the memory a memif client has pagewire map. */
    NIC_MEMIF_MAX_REGION_MIB("nic.memif.max_region_mib", NicConfig.Memif.DEFAULT_MAX_REGION_MIB,
        IntRule.range(1, 1 << 20),
        "Server role: most MiB of memory regions one memif client may have pagewire map, summed over its regions; a " +
        "client adding more is refused (DISCONNECT \"Regions too large\", counted in nic.memif.regions_over_cap)."),

    /** AF_PACKET interface. */
    NIC_AF_PACKET_INTERFACE("nic.af_packet.interface", "", StringRule.interfaceNameOrEmpty(),
        "The kernel network interface when nic.type=af_packet (e.g. eth0, veth1)."),

    /** TPACKET_V3 block size. */
    NIC_AF_PACKET_BLOCK_SIZE("nic.af_packet.block_size", 1 << 16, IntRule.powerOfTwo(4096, 1 << 26),
        "Bytes of each TPACKET_V3 receive block; frames are packed into blocks and a block is given back whole. " +
        "With nic.af_packet.vnet_hdr=true at least 131072 is used, so a 64 KiB GSO frame fits one block."),

    /** TPACKET_V3 block count. */
    NIC_AF_PACKET_BLOCK_COUNT("nic.af_packet.block_count", 64, IntRule.range(2, 65536),
        "TPACKET_V3 receive blocks in the ring."),

    /** TPACKET_V3 block retire timeout. */
    NIC_AF_PACKET_RETIRE_TIMEOUT_MS("nic.af_packet.retire_timeout_ms", 1, IntRule.range(0, 60000),
        "Milliseconds after which the kernel hands over a partly filled receive block; 0 = the kernel's choice."),

    /** Promiscuous mode. */
    NIC_AF_PACKET_PROMISCUOUS("nic.af_packet.promiscuous", true,
        "Put the interface in promiscuous mode while pagewire runs (frames for any MAC address)."),

    /** PACKET_VNET_HDR. */
    NIC_AF_PACKET_VNET_HDR("nic.af_packet.vnet_hdr", false,
        "Exchange frames with the kernel with a virtio-net header (PACKET_VNET_HDR): frames with a partial " +
        "checksum and TCP GSO frames (up to 64 KiB) go to the guest with their offload when it negotiated " +
        "GUEST_CSUM / GUEST_TSO4/6 (features.guest_tso=true); otherwise partial checksums are completed and GSO " +
        "frames segmented in software."),

    /** pcap file to replay. */
    NIC_PCAP_READ("nic.pcap.read", "", StringRule.pathOrEmpty(),
        "The pcap file replayed as the NIC's receive side when nic.type=pcap; empty = nothing received."),

    /** pcap file to record. */
    NIC_PCAP_WRITE("nic.pcap.write", "", StringRule.pathOrEmpty(),
        "The pcap file the NIC's transmit side is written to when nic.type=pcap; empty = transmitted frames " +
        "are counted and discarded."),

    /** pcap replay pace. */
    NIC_PCAP_PACE("nic.pcap.pace", PcapPace.RECORDED,
        "How fast nic.pcap.read is replayed: recorded = at the recorded timing; rate = at traffic.rate_mbps; " +
        "max = as fast as the guest takes frames."),

    /** pcap replay looping. */
    NIC_PCAP_LOOP("nic.pcap.loop", false,
        "Replay nic.pcap.read again from the start when it ends."),

    /** Frames per queue per duty cycle. */
    DATAPLANE_BURST("dataplane.burst", 32, IntRule.range(1, 1024),
        "Most frames moved per queue per duty cycle; used.idx is published once per burst."),

    /** What the dataplane thread does when idle. */
    DATAPLANE_IDLE_STRATEGY("dataplane.idle_strategy", IdleStrategyKind.BUSY_SPIN,
        "What the dataplane thread does after a duty cycle that found no work."),

    /** CPU pinning of the dataplane thread. */
    DATAPLANE_CPU("dataplane.cpu", DataplaneConfig.NO_PINNING, IntRule.range(-1, 1023),
        "CPU the dataplane thread is pinned to; -1 = no pinning."),

    /** What the dataplane does with a frame the guest has too few RX buffers for. */
    DATAPLANE_RX_POLICY("dataplane.rx_policy", RxPolicyKind.WAIT,
        "What the dataplane does with a frame when the guest has posted too few RX buffers: " +
        "wait = leave it in the NIC ring (lossless, like a NIC whose ring fills); " +
        "drop = drop and count it (no_buffers), as a NIC at line rate must."),

    /** Dataplane threads. */
    DATAPLANE_AGENTS("dataplane.agents", 1, IntRule.range(1, 16),
        "Dataplane threads; queue pairs are split across them round-robin."),

    /** Whether the device offers VIRTIO_NET_F_MRG_RXBUF. */
    FEATURES_MRG_RXBUF("features.mrg_rxbuf", true,
        "Offer VIRTIO_NET_F_MRG_RXBUF: mergeable RX buffers."),

    /** Whether the device offers VIRTIO_RING_F_EVENT_IDX. */
    FEATURES_EVENT_IDX("features.event_idx", true,
        "Offer VIRTIO_RING_F_EVENT_IDX: notification suppression through used_event/avail_event."),

    /** Whether the device offers VIRTIO_RING_F_INDIRECT_DESC. */
    FEATURES_INDIRECT_DESC("features.indirect_desc", true,
        "Offer VIRTIO_RING_F_INDIRECT_DESC: indirect descriptor tables."),

    /** Whether the device offers VIRTIO_F_VERSION_1. */
    FEATURES_VERSION_1("features.version_1", true,
        "Offer VIRTIO_F_VERSION_1: virtio 1.x, little-endian rings."),

    /** Whether the device offers VIRTIO_NET_F_GUEST_CSUM, GUEST_TSO4 and GUEST_TSO6. */
    FEATURES_GUEST_TSO("features.guest_tso", false,
        "Offer VIRTIO_NET_F_GUEST_CSUM, GUEST_TSO4 and GUEST_TSO6. With nic.type=af_packet and " +
        "nic.af_packet.vnet_hdr=true the guest then receives the kernel's GSO frames whole and partial checksums " +
        "as they are; other ports send plain frames, and the offer makes a Linux guest without mrg_rxbuf post " +
        "64 KiB big-packet chains."),

    /** Whether the device offers VIRTIO_NET_F_CSUM, HOST_TSO4 and HOST_TSO6. */
    FEATURES_HOST_TSO("features.host_tso", false,
        "Offer VIRTIO_NET_F_CSUM, HOST_TSO4 and HOST_TSO6: the guest may transmit frames with a partial checksum " +
        "and TCP GSO frames up to 64 KiB. With nic.type=af_packet and nic.af_packet.vnet_hdr=true they leave with " +
        "their virtio-net header and the kernel checksums and segments them; any other port gets them checksummed " +
        "and segmented in software. Headers that do not validate are dropped (tx drops bad_vnet_hdr)."),

    /** Size of each frame the embedded traffic source sends. */
    TRAFFIC_FRAME_SIZE("traffic.frame_size", 1514, IntRule.range(60, 65535),
        "Bytes of each frame the embedded traffic source sends into the shm NIC, FCS not included."),

    /** Offered rate of the embedded traffic source. */
    TRAFFIC_RATE_MBPS("traffic.rate_mbps", TrafficConfig.AS_FAST_AS_POSSIBLE, IntRule.range(0, 400000),
        "Offered rate in Mb/s counted as on an Ethernet wire (frame + 4 bytes FCS + 20 bytes preamble and " +
        "inter-frame gap); 0 = as fast as possible."),

    /** The virtio-net driver the device serves. */
    GUEST_TYPE("guest.type", GuestType.EMBEDDED,
        "Which virtio-net driver the device serves: embedded = the in-process guest model; " +
        "vhost-user = a virtio-net driver in another process (QEMU, DPDK virtio_user) attached over a " +
        "vhost-user socket."),

    /** The vhost-user socket path. */
    GUEST_SOCKET("guest.socket", "/tmp/pagewire-vhost.sock", StringRule.nonEmptyPath(107),
        "The vhost-user Unix socket (guest.type=vhost-user)."),

    /** Which side of the vhost-user socket listens. */
    GUEST_MODE("guest.mode", VhostUserMode.SERVER,
        "server = pagewire listens on guest.socket and the frontend connects (QEMU -chardev socket,...,server=off, " +
        "DPDK virtio_user default); client = pagewire connects to a frontend listening there, retrying with backoff."),

    /** Queue pairs the device offers. */
    GUEST_QUEUE_PAIRS("guest.queue_pairs", 1, IntRule.range(1, 64),
        "Queue pairs the device offers (VHOST_USER_PROTOCOL_F_MQ / VIRTIO_NET_F_MQ); each has its own NIC port."),

    /** Packets the guest takes per poll. */
    GUEST_NAPI_BUDGET("guest.napi_budget", 64, IntRule.range(1, 65536),
        "Packets the guest takes per poll (Linux NAPI weight)."),

    /** Delay before an idle guest's first poll. */
    GUEST_WAKEUP_LATENCY_NS("guest.wakeup_latency_ns", 0, IntRule.range(0, 1000000000),
        "Nanoseconds between used buffers appearing while the guest is idle and its first poll " +
        "(interrupt delivery + scheduling)."),

    /** Free RX buffers that trigger a refill. */
    GUEST_REFILL_BATCH("guest.refill_batch", 32, IntRule.range(1, 32768),
        "The guest re-posts RX buffers once this many are free."),

    /** How the guest sizes its RX buffers. */
    GUEST_RX_BUFFER_SIZING("guest.rx.buffer_sizing", BufferSizing.FIXED,
        "How the guest sizes RX buffers: fixed = every RX buffer is rx.buffer_size bytes; ewma = sized by a " +
        "running average of received packet lengths as Linux's virtio_net does (mergeable only)."),

    /** What the guest sends on its TX queue. */
    GUEST_TX("guest.tx", GuestTx.ECHO,
        "echo = the guest sends every frame it receives back out on its TX queue; off = it sends nothing."),

    /** How the bridge moves frames between its ports. */
    BRIDGE_MODE("bridge.mode", BridgeMode.LEARNING,
        "learning = learn (source MAC, VLAN) -> port from every frame, send known unicast to its port, flood the " +
        "rest to the VLAN's other ports; patch = ports cross-connected in pairs (port.NAME.patch), no lookup. " +
        "Applies to the [port.NAME] tables; without any, the guest.* and nic.* keys are a patch of one guest port " +
        "and one NIC port, today's wiring, whatever this key says."),

    /** Aging of learned addresses. */
    BRIDGE_AGING_S("bridge.aging_s", 300, IntRule.range(1, 86400),
        "Seconds a learned address lives without a frame from it (OVS mac-aging-time, 802.1Q's default 300)."),

    /** Forwarding database capacity. */
    BRIDGE_FDB_SIZE("bridge.fdb_size", 65536, IntRule.powerOfTwo(256, 1 << 20),
        "Entries of the forwarding database (MAC, VLAN -> port), a fixed-size table allocated once (32 bytes an " +
        "entry on the heap: the maximum, 2^20, takes 32 MiB of the 512 MB heap)."),

    /** Default per-port learn limit. */
    BRIDGE_MAC_LIMIT("bridge.mac_limit", 4096, IntRule.range(0, 1 << 24),
        "Addresses one port may have learned at once unless it sets port.NAME.mac_limit; more are not learned " +
        "(counted). 4096 = bridge.fdb_size / 16 by default: a VM with containers or a nested bridge stays far " +
        "below, and a port spraying random source MACs cannot flush the others' entries. 0 = no limit.");

    /**
     * Rules relating keys, each reported against its subject key.
     * <p>
     * {@code rx.big.descriptors} is bounded by the RX queue only in big mode, the one mode that puts such a chain on
     * the ring; otherwise shrinking {@code virtqueue.rx.size} would fail on a key the run does not use.
     * {@code traffic.frame_size} must fit a NIC ring slot after its {@value NicConfig#SLOT_HEADER_BYTES}-byte header.
     * Each dataplane agent serves at least one queue pair, and the embedded guest model drives a single queue pair.
     * Rules about a mode read the mode the run will use ({@link #rxMode}), so that {@code rx.mode=auto} is held to
     * the rules of what it resolves to; {@code auto} never resolves to mergeable without {@code features.mrg_rxbuf}.
     * The rules marked {@link CrossKeyRule#shorthandOnly()} measure the single-guest shorthand's guest and NIC; with
     * {@code [port.NAME]} tables {@link PortRules} measures the ports instead.
     */
    static final List<CrossKeyRule> CROSS_KEY_RULES = List.of(
        new CrossKeyRule(RX_MODE, List.of(FEATURES_MRG_RXBUF),
            "mergeable requires features.mrg_rxbuf=true",
            v -> v.get(RX_MODE) == RxMode.MERGEABLE && !(Boolean)v.get(FEATURES_MRG_RXBUF) ?
                "requires features.mrg_rxbuf=true" : null),
        new CrossKeyRule(RX_BIG_DESCRIPTORS,
            List.of(RX_MODE, FEATURES_MRG_RXBUF, FEATURES_GUEST_TSO, VIRTQUEUE_RX_SIZE),
            "at most virtqueue.rx.size when rx.mode=big",
            v -> rxMode(v) == RxMode.BIG && (int)v.get(RX_BIG_DESCRIPTORS) > (int)v.get(VIRTQUEUE_RX_SIZE) ?
                "must be in 1..virtqueue.rx.size (" + v.get(VIRTQUEUE_RX_SIZE) + ") when rx.mode=big" + autoNote(v) :
                null),
        new CrossKeyRule(DATAPLANE_BURST, List.of(VIRTQUEUE_RX_SIZE, VIRTQUEUE_TX_SIZE),
            "at most min(virtqueue.rx.size, virtqueue.tx.size)",
            v ->
            {
                final int queueSize = Math.min((int)v.get(VIRTQUEUE_RX_SIZE), (int)v.get(VIRTQUEUE_TX_SIZE));
                return (int)v.get(DATAPLANE_BURST) > queueSize ?
                    "must be at most min(virtqueue.rx.size, virtqueue.tx.size) = " + queueSize : null;
            }),
        new CrossKeyRule(DATAPLANE_AGENTS, List.of(GUEST_QUEUE_PAIRS),
            "at most guest.queue_pairs",
            v -> (int)v.get(DATAPLANE_AGENTS) > (int)v.get(GUEST_QUEUE_PAIRS) ?
                "must be at most guest.queue_pairs = " + v.get(GUEST_QUEUE_PAIRS) : null).onlyForShorthand(),
        new CrossKeyRule(TRAFFIC_FRAME_SIZE, List.of(NIC_SLOT_SIZE),
            "at most nic.slot_size - " + NicConfig.SLOT_HEADER_BYTES,
            v ->
            {
                final int maxFrameSize = (int)v.get(NIC_SLOT_SIZE) - NicConfig.SLOT_HEADER_BYTES;
                return (int)v.get(TRAFFIC_FRAME_SIZE) > maxFrameSize ?
                    "must be at most nic.slot_size - " + NicConfig.SLOT_HEADER_BYTES + " = " + maxFrameSize : null;
            }).onlyForShorthand(),
        new CrossKeyRule(NIC_RING_SIZE, List.of(NIC_TYPE),
            "at most 16384 when nic.type=memif",
            v -> v.get(NIC_TYPE) == NicType.MEMIF && (int)v.get(NIC_RING_SIZE) > NicConfig.MEMIF_MAX_RING_SIZE ?
                "must be at most " + NicConfig.MEMIF_MAX_RING_SIZE + " when nic.type=memif (memif rings are at most 2^14, " +
                "DPDK net_memif's limit)" : null),
        new CrossKeyRule(GUEST_QUEUE_PAIRS, List.of(GUEST_TYPE),
            "1 when guest.type=embedded",
            v -> v.get(GUEST_TYPE) == GuestType.EMBEDDED && (int)v.get(GUEST_QUEUE_PAIRS) != 1 ?
                "must be 1 when guest.type=embedded" : null),
        new CrossKeyRule(NIC_AF_PACKET_INTERFACE, List.of(NIC_TYPE),
            "required when nic.type=af_packet",
            v -> v.get(NIC_TYPE) == NicType.AF_PACKET && ((String)v.get(NIC_AF_PACKET_INTERFACE)).isEmpty() ?
                "must name an interface when nic.type=af_packet" : null),
        new CrossKeyRule(NIC_PCAP_READ, List.of(NIC_TYPE, NIC_PCAP_WRITE),
            "nic.pcap.read or nic.pcap.write required when nic.type=pcap",
            v -> v.get(NIC_TYPE) == NicType.PCAP && ((String)v.get(NIC_PCAP_READ)).isEmpty() &&
                ((String)v.get(NIC_PCAP_WRITE)).isEmpty() ?
                "or nic.pcap.write must name a file when nic.type=pcap" : null),
        new CrossKeyRule(GUEST_QUEUE_PAIRS, List.of(NIC_TYPE),
            "1 when nic.type=af_packet or pcap",
            v -> (v.get(NIC_TYPE) == NicType.AF_PACKET || v.get(NIC_TYPE) == NicType.PCAP) &&
                (int)v.get(GUEST_QUEUE_PAIRS) != 1 ?
                "must be 1 when nic.type=" + ((NicType)v.get(NIC_TYPE)).configName() : null),
        new CrossKeyRule(GUEST_RX_BUFFER_SIZING, List.of(RX_MODE, FEATURES_MRG_RXBUF, FEATURES_GUEST_TSO),
            "ewma requires rx.mode=mergeable",
            v -> v.get(GUEST_RX_BUFFER_SIZING) == BufferSizing.EWMA && rxMode(v) != RxMode.MERGEABLE ?
                "requires rx.mode=mergeable" + autoNote(v) : null),
        new CrossKeyRule(BRIDGE_MAC_LIMIT, List.of(BRIDGE_FDB_SIZE),
            "at most bridge.fdb_size",
            v -> (int)v.get(BRIDGE_MAC_LIMIT) > (int)v.get(BRIDGE_FDB_SIZE) ?
                "must be at most bridge.fdb_size = " + v.get(BRIDGE_FDB_SIZE) : null));

    private static final Map<String, ConfigKey> BY_KEY = new HashMap<>();

    static
    {
        for (final ConfigKey key : values())
        {
            BY_KEY.put(key.key, key);
        }
    }

    /**
     * The kind of value a key holds.
     */
    public enum Type
    {
        /** A Java {@code int}; TOML integer. */
        INTEGER,
        /** A Java {@code boolean}; TOML boolean. */
        BOOLEAN,
        /** A {@link ConfigEnum} constant; TOML string holding its {@link ConfigEnum#configName()}. */
        ENUM,
        /** A Java {@link String}; TOML basic or literal string. */
        STRING,
        /**
         * An unmodifiable {@link List} of {@link Integer}; a TOML array of integers, or on the command line also
         * {@code 10,20,30}. Only port keys ({@link PortKey#TRUNK}) have this type.
         */
        INTEGER_LIST
    }

    private final String key;
    private final Type type;
    private final Object defaultValue;
    private final IntRule intRule;
    private final StringRule stringRule;
    private final List<ConfigEnum> choices;
    private final String description;

    ConfigKey(final String key, final int defaultValue, final IntRule intRule, final String description)
    {
        this(key, Type.INTEGER, defaultValue, intRule, null, List.of(), description);
    }

    ConfigKey(final String key, final boolean defaultValue, final String description)
    {
        this(key, Type.BOOLEAN, defaultValue, null, null, List.of(), description);
    }

    ConfigKey(final String key, final Enum<? extends ConfigEnum> defaultValue, final String description)
    {
        this(key, Type.ENUM, defaultValue, null, null,
            Arrays.stream(defaultValue.getDeclaringClass().getEnumConstants()).map(ConfigEnum.class::cast).toList(),
            description);
    }

    ConfigKey(final String key, final String defaultValue, final StringRule stringRule, final String description)
    {
        this(key, Type.STRING, defaultValue, null, stringRule, List.of(), description);
    }

    ConfigKey(
        final String key,
        final Type type,
        final Object defaultValue,
        final IntRule intRule,
        final StringRule stringRule,
        final List<ConfigEnum> choices,
        final String description)
    {
        this.key = key;
        this.type = type;
        this.defaultValue = defaultValue;
        this.intRule = intRule;
        this.stringRule = stringRule;
        this.choices = choices;
        this.description = description;
    }

    /**
     * @return the dotted key, e.g. {@code virtqueue.rx.size}; its first segment is the table it is printed under.
     */
    public String key()
    {
        return key;
    }

    /**
     * @return the kind of value the key holds.
     */
    public Type type()
    {
        return type;
    }

    /**
     * @return the default: an {@link Integer}, a {@link Boolean}, a {@link String} or the {@link ConfigEnum} constant.
     */
    public Object defaultValue()
    {
        return defaultValue;
    }

    /**
     * @return the rule of an integer key, else null.
     */
    IntRule intRule()
    {
        return intRule;
    }

    /**
     * @return the rule of a string key, else null.
     */
    StringRule stringRule()
    {
        return stringRule;
    }

    /**
     * @return an enum key's constants, else empty.
     */
    List<ConfigEnum> choices()
    {
        return choices;
    }

    /**
     * @return the one-line description shown in the default file.
     */
    public String description()
    {
        return description;
    }

    /**
     * @return the whole rule as shown in the default file, e.g. {@code in 1..1024; at most min(virtqueue.rx.size,
     * virtqueue.tx.size)}.
     */
    public String rule()
    {
        final List<String> parts = new ArrayList<>();
        parts.add(switch (type)
        {
            case INTEGER -> intRule.description();
            case BOOLEAN -> "true or false";
            case ENUM -> "one of " + choiceNames();
            case STRING -> stringRule.description();
            case INTEGER_LIST -> throw new IllegalStateException(key);
        });
        for (final CrossKeyRule rule : CROSS_KEY_RULES)
        {
            if (rule.subject() == this)
            {
                parts.add(rule.description());
            }
        }
        return String.join("; ", parts);
    }

    /**
     * @param key a dotted key such as {@code rx.mode}.
     * @return the registered key, or empty when there is none by that name.
     */
    public static Optional<ConfigKey> byKey(final String key)
    {
        return Optional.ofNullable(BY_KEY.get(key));
    }

    /**
     * @return the dotted key.
     */
    @Override
    public String toString()
    {
        return key;
    }

    /**
     * @return every key's default, in registry order.
     */
    static Map<ConfigKey, Object> defaultValues()
    {
        final Map<ConfigKey, Object> values = new EnumMap<>(ConfigKey.class);
        for (final ConfigKey key : values())
        {
            values.put(key, key.defaultValue);
        }
        return values;
    }

    /**
     * Types a value read from a TOML file, or from an override already parsed as TOML.
     *
     * @param value    a TOML value ({@link Long}, {@link Boolean}, {@link String}, {@link List}); null when an
     *                 override's text was not a TOML value.
     * @param written  the value as the user wrote it, for the message.
     * @param problems where a problem is added when the value has the wrong type or does not fit.
     * @return the typed value ({@link Integer}, {@link Boolean}, the {@link ConfigEnum} constant, {@link String}), or
     * null after adding a problem.
     */
    Object convert(final Object value, final String written, final List<String> problems)
    {
        return convert(key, type, intRule, choices, value, written, problems);
    }

    /**
     * Types a value for a key of this registry or of {@link PortKey}: the one place value types are checked.
     *
     * @param name    the key as named in messages, e.g. {@code dataplane.burst} or {@code port.vm1.vlan}.
     * @param type    the key's type.
     * @param intRule the rule an integer beyond the int range is reported by, or null for non-integer types.
     * @param choices an enum key's constants.
     * @see #convert(Object, String, List)
     */
    static Object convert(
        final String name,
        final Type type,
        final IntRule intRule,
        final List<ConfigEnum> choices,
        final Object value,
        final String written,
        final List<String> problems)
    {
        switch (type)
        {
            case INTEGER ->
            {
                if (!(value instanceof final Long number))
                {
                    problems.add(name + "=" + written + ": must be an integer");
                    return null;
                }
                // Values beyond int fail every int rule; report them by that rule here, before narrowing.
                if (number != number.intValue())
                {
                    problems.add(name + "=" + number + ": " + intRule.violation(number));
                    return null;
                }
                return number.intValue();
            }
            case BOOLEAN ->
            {
                if (!(value instanceof Boolean))
                {
                    problems.add(name + "=" + written + ": must be true or false");
                    return null;
                }
                return value;
            }
            case ENUM ->
            {
                final String choiceNames =
                    choices.stream().map(ConfigEnum::configName).collect(Collectors.joining("|"));
                if (value instanceof final String text)
                {
                    for (final ConfigEnum choice : choices)
                    {
                        if (choice.configName().equals(text))
                        {
                            return choice;
                        }
                    }
                    problems.add(name + "=" + text + ": must be one of " + choiceNames);
                    return null;
                }
                problems.add(name + "=" + written + ": must be one of " + choiceNames);
                return null;
            }
            case STRING ->
            {
                if (!(value instanceof String))
                {
                    problems.add(name + "=" + written + ": must be a string");
                    return null;
                }
                return value;
            }
            case INTEGER_LIST ->
            {
                final List<Integer> items = new ArrayList<>();
                boolean integers = value instanceof List<?>;
                if (value instanceof final List<?> list)
                {
                    for (final Object item : list)
                    {
                        if (item instanceof final Long number && number == number.intValue())
                        {
                            items.add(number.intValue());
                        }
                        else
                        {
                            integers = false;
                        }
                    }
                }
                if (!integers)
                {
                    problems.add(name + "=" + written + ": must be a list of integers " + intRule.description());
                    return null;
                }
                return List.copyOf(items);
            }
            default -> throw new IllegalStateException(type.name());
        }
    }

    /**
     * Types an override's text by this key's type: TOML syntax for integers and booleans, and for enums and strings
     * either bare text taken as it is ({@code rx.mode=big}, {@code guest.socket=/run/vhost.sock}) or a TOML basic or
     * literal string ({@code rx.mode="big"}, {@code guest.socket='/run/my vhost.sock'}). Text that starts with a quote
     * is always read as a TOML string, so a value that itself starts with a quote must be written quoted.
     *
     * @see #convert(Object, String, List)
     */
    Object convertText(final String text, final List<String> problems)
    {
        return convertText(key, type, intRule, choices, text, problems);
    }

    /**
     * {@link #convertText(String, List)} for a key of this registry or of {@link PortKey}; an integer list may also be
     * written without brackets, {@code 10,20,30}.
     */
    static Object convertText(
        final String name,
        final Type type,
        final IntRule intRule,
        final List<ConfigEnum> choices,
        final String text,
        final List<String> problems)
    {
        final boolean bareName = (type == Type.ENUM || type == Type.STRING) &&
            !text.startsWith("\"") && !text.startsWith("'");
        final boolean bareList = type == Type.INTEGER_LIST && !text.startsWith("[");
        final Object value = bareName ? text : TomlReader.parseValue(bareList ? "[" + text + "]" : text);
        return convert(name, type, intRule, choices, value, text, problems);
    }

    /**
     * @return a typed value as written after {@code key=} in messages: enums by their config name, strings quoted and
     * escaped as in TOML, so that an empty or blank string still shows.
     */
    static String format(final Object value)
    {
        return switch (value)
        {
            case final ConfigEnum choice -> choice.configName();
            case final String text -> TomlWriter.literal(text);
            default -> String.valueOf(value);
        };
    }

    /**
     * Checks typed values against every key's rule and then every cross-key rule, adding one line per violation.
     * This is the single place configuration values are validated.
     *
     * @param values   typed values by key; a key that is absent already had a problem reported and is skipped, as is
     *                 every cross-key rule that reads it.
     * @param problems where violations are added, in registry order, cross-key rules last.
     */
    static void validate(final Map<ConfigKey, Object> values, final List<String> problems)
    {
        validate(values, false, problems);
    }

    /**
     * {@link #validate(Map, List)}, leaving out the rules about the single-guest shorthand when ports are given as
     * tables.
     *
     * @param portTables true when the configuration has {@code [port.NAME]} tables.
     */
    static void validate(final Map<ConfigKey, Object> values, final boolean portTables, final List<String> problems)
    {
        final Set<ConfigKey> valid = EnumSet.noneOf(ConfigKey.class);
        for (final ConfigKey key : values())
        {
            final Object value = values.get(key);
            if (value == null)
            {
                continue;
            }
            final String violation = key.violation(value);
            if (violation == null)
            {
                valid.add(key);
            }
            else
            {
                problems.add(key + "=" + format(value) + ": " + violation);
            }
        }
        final Map<ConfigKey, Object> readOnly = Collections.unmodifiableMap(values);
        for (final CrossKeyRule rule : CROSS_KEY_RULES)
        {
            if (valid.contains(rule.subject()) && valid.containsAll(rule.reads()) &&
                !(portTables && rule.shorthandOnly()))
            {
                final String violation = rule.violation(readOnly);
                if (violation != null)
                {
                    problems.add(rule.subject() + "=" + format(values.get(rule.subject())) + ": " + violation);
                }
            }
        }
    }

    /**
     * @return true when {@code values} holds this key with a value that satisfies its own rule.
     */
    boolean validIn(final Map<ConfigKey, Object> values)
    {
        final Object value = values.get(this);
        return value != null && violation(value) == null;
    }

    /**
     * @return null when a correctly typed value satisfies this key's own rule (none for booleans and enums), else
     * {@code must be <rule>}.
     */
    private String violation(final Object value)
    {
        return switch (type)
        {
            case INTEGER -> intRule.violation((Integer)value);
            case STRING -> stringRule.violation((String)value);
            case BOOLEAN, ENUM -> null;
            case INTEGER_LIST -> throw new IllegalStateException(key);
        };
    }

    /**
     * @return {@code rx.mode} as the run will use it: {@code auto} resolved from the offered features.
     */
    static RxMode rxMode(final Map<ConfigKey, Object> values)
    {
        return ((RxMode)values.get(RX_MODE))
            .resolve((Boolean)values.get(FEATURES_MRG_RXBUF), (Boolean)values.get(FEATURES_GUEST_TSO));
    }

    /**
     * @return for a message about the mode the run will use, what {@code auto} resolved to and from what, so that a
     * user who never wrote {@code rx.mode} sees why a mode rule applies; empty for an explicit mode.
     */
    private static String autoNote(final Map<ConfigKey, Object> values)
    {
        return values.get(RX_MODE) != RxMode.AUTO ? "" : " (rx.mode=auto is " + rxMode(values).configName() +
            " with features.mrg_rxbuf=" + values.get(FEATURES_MRG_RXBUF) +
            ", features.guest_tso=" + values.get(FEATURES_GUEST_TSO) + ")";
    }

    private String choiceNames()
    {
        return choices.stream().map(ConfigEnum::configName).collect(Collectors.joining("|"));
    }
}
