package io.pagewire.config;

import static io.pagewire.config.ConfigKey.BRIDGE_AGING_S;
import static io.pagewire.config.ConfigKey.BRIDGE_FDB_SIZE;
import static io.pagewire.config.ConfigKey.BRIDGE_MAC_LIMIT;
import static io.pagewire.config.ConfigKey.BRIDGE_MODE;
import static io.pagewire.config.ConfigKey.DATAPLANE_AGENTS;
import static io.pagewire.config.ConfigKey.DATAPLANE_BURST;
import static io.pagewire.config.ConfigKey.DATAPLANE_CPU;
import static io.pagewire.config.ConfigKey.DATAPLANE_IDLE_STRATEGY;
import static io.pagewire.config.ConfigKey.DATAPLANE_RX_POLICY;
import static io.pagewire.config.ConfigKey.FEATURES_EVENT_IDX;
import static io.pagewire.config.ConfigKey.FEATURES_INDIRECT_DESC;
import static io.pagewire.config.ConfigKey.FEATURES_GUEST_TSO;
import static io.pagewire.config.ConfigKey.FEATURES_HOST_TSO;
import static io.pagewire.config.ConfigKey.FEATURES_MRG_RXBUF;
import static io.pagewire.config.ConfigKey.FEATURES_VERSION_1;
import static io.pagewire.config.ConfigKey.GUEST_MODE;
import static io.pagewire.config.ConfigKey.GUEST_NAPI_BUDGET;
import static io.pagewire.config.ConfigKey.GUEST_QUEUE_PAIRS;
import static io.pagewire.config.ConfigKey.GUEST_REFILL_BATCH;
import static io.pagewire.config.ConfigKey.GUEST_RX_BUFFER_SIZING;
import static io.pagewire.config.ConfigKey.GUEST_SOCKET;
import static io.pagewire.config.ConfigKey.GUEST_TX;
import static io.pagewire.config.ConfigKey.GUEST_TYPE;
import static io.pagewire.config.ConfigKey.GUEST_WAKEUP_LATENCY_NS;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_BLOCK_COUNT;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_BLOCK_SIZE;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_INTERFACE;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_PROMISCUOUS;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_RETIRE_TIMEOUT_MS;
import static io.pagewire.config.ConfigKey.NIC_AF_PACKET_VNET_HDR;
import static io.pagewire.config.ConfigKey.NIC_MEMIF_ID;
import static io.pagewire.config.ConfigKey.NIC_MEMIF_MAX_REGION_MIB;
import static io.pagewire.config.ConfigKey.NIC_MEMIF_ROLE;
import static io.pagewire.config.ConfigKey.NIC_MEMIF_SOCKET;
import static io.pagewire.config.ConfigKey.NIC_PCAP_LOOP;
import static io.pagewire.config.ConfigKey.NIC_PCAP_PACE;
import static io.pagewire.config.ConfigKey.NIC_PCAP_READ;
import static io.pagewire.config.ConfigKey.NIC_PCAP_WRITE;
import static io.pagewire.config.ConfigKey.NIC_RING_SIZE;
import static io.pagewire.config.ConfigKey.NIC_SLOT_SIZE;
import static io.pagewire.config.ConfigKey.NIC_TYPE;
import static io.pagewire.config.ConfigKey.RX_BIG_DESCRIPTORS;
import static io.pagewire.config.ConfigKey.RX_BUFFER_SIZE;
import static io.pagewire.config.ConfigKey.RX_MODE;
import static io.pagewire.config.ConfigKey.TRAFFIC_FRAME_SIZE;
import static io.pagewire.config.ConfigKey.TRAFFIC_RATE_MBPS;
import static io.pagewire.config.ConfigKey.VIRTQUEUE_RX_SIZE;
import static io.pagewire.config.ConfigKey.VIRTQUEUE_TX_SIZE;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;

/**
 * A complete, validated pagewire configuration: one record per table of the config file, and one {@link PortConfig}
 * per {@code [port.NAME]} table; {@link #ports()} is the bridge's effective list of ports.
 * <p>
 * Every instance is valid: the constructor checks the values against every rule of the {@link ConfigKey} registry
 * and throws a {@link ConfigException} listing all violations. A configuration is read in one place,
 * {@link #load(Path, List)}, before memory is mapped or threads start.
 *
 * @param virtqueue table {@code [virtqueue]}.
 * @param rx        table {@code [rx]}.
 * @param nic       table {@code [nic]}.
 * @param dataplane table {@code [dataplane]}.
 * @param features  table {@code [features]}.
 * @param traffic   table {@code [traffic]}.
 * @param guest     table {@code [guest]}.
 * @param bridge     table {@code [bridge]}; its mode is {@link BridgeMode#PATCH} when {@code portTables} is empty: the
 *                   single-guest shorthand is a patch of its two ports, today's wiring.
 * @param portTables the {@code [port.NAME]} tables in the order they were given; empty for the single-guest
 *                   shorthand. {@link #ports()} is the effective list either way.
 */
public record PagewireConfig(
    VirtqueueConfig virtqueue,
    RxConfig rx,
    NicConfig nic,
    DataplaneConfig dataplane,
    FeaturesConfig features,
    TrafficConfig traffic,
    GuestConfig guest,
    BridgeConfig bridge,
    List<PortConfig> portTables)
{
    private static final String DEFAULT_FILE_PREAMBLE = """
        # pagewire configuration (TOML).
        #
        # Every key is shown with its default, its description and its rule.
        # A key left out keeps its default. Any key can also be set on the command line
        # with --set key=value, which is applied after this file.
        # Keys may be written dotted under a table ([virtqueue] rx.size = 256), under a deeper table
        # ([virtqueue.rx] size = 256) or in full before any table (virtqueue.rx.size = 256).
        """;

    private static final PagewireConfig DEFAULTS = fromValues(ConfigKey.defaultValues());

    /**
     * Validates the whole configuration.
     *
     * @throws ConfigException listing every rule the values break, in the same words as {@link #load(Path, List)}.
     */
    public PagewireConfig
    {
        Objects.requireNonNull(virtqueue, "virtqueue");
        Objects.requireNonNull(rx, "rx");
        Objects.requireNonNull(nic, "nic");
        Objects.requireNonNull(dataplane, "dataplane");
        Objects.requireNonNull(features, "features");
        Objects.requireNonNull(traffic, "traffic");
        Objects.requireNonNull(guest, "guest");
        Objects.requireNonNull(bridge, "bridge");
        portTables = List.copyOf(portTables);
        // The one place rx.mode=auto is resolved: every configuration, loaded or built, passes through here.
        rx = rx.resolve(features);
        // Likewise the shorthand's bridge: its guest and NIC are patched to each other, as before there were bridges.
        if (portTables.isEmpty())
        {
            bridge = bridge.withMode(BridgeMode.PATCH);
        }
        final List<String> problems = new ArrayList<>();
        final Map<ConfigKey, Object> values = values(virtqueue, rx, nic, dataplane, features, traffic, guest, bridge);
        ConfigKey.validate(values, !portTables.isEmpty(), problems);
        if (!portTables.isEmpty())
        {
            final SequencedMap<String, Map<PortKey, Object>> ports = new LinkedHashMap<>();
            for (final PortConfig port : portTables)
            {
                if (ports.putIfAbsent(port.name(), port.values(bridge)) != null)
                {
                    problems.add(PortKey.TABLE + "." + port.name() + ": two ports of this name");
                }
            }
            PortRules.validate(ports, values, problems);
        }
        if (!problems.isEmpty())
        {
            throw new ConfigException(problems);
        }
    }

    /**
     * The single-guest configuration, as before bridges: {@code [bridge]} at its defaults, no port tables.
     */
    public PagewireConfig(
        final VirtqueueConfig virtqueue,
        final RxConfig rx,
        final NicConfig nic,
        final DataplaneConfig dataplane,
        final FeaturesConfig features,
        final TrafficConfig traffic,
        final GuestConfig guest)
    {
        this(virtqueue, rx, nic, dataplane, features, traffic, guest, bridgeFromValues(ConfigKey.defaultValues()),
            List.of());
    }

    /**
     * The bridge's ports: the {@code [port.NAME]} tables when there are any, else the single-guest shorthand's two
     * ports, patched to each other: {@value PortConfig#SHORTHAND_GUEST} (embedded or vhost-user, from
     * {@code guest.*}) and {@value PortConfig#SHORTHAND_NIC} (from {@code nic.*}, with {@code guest.queue_pairs}
     * queue pairs where the NIC type has them, as each queue pair has its own NIC queue).
     *
     * @return the effective ports, in order; unmodifiable.
     */
    public List<PortConfig> ports()
    {
        if (!portTables.isEmpty())
        {
            return portTables;
        }
        final PortConfig.Settings guestSettings = switch (guest.type())
        {
            case EMBEDDED -> new PortConfig.Embedded(
                guest.napiBudget(), guest.wakeupLatencyNs(), guest.refillBatch(), guest.rxBufferSizing(), guest.tx());
            case VHOST_USER -> new PortConfig.VhostUser(guest.socket(), guest.mode(), guest.queuePairs());
        };
        final PortConfig.Settings nicSettings = switch (nic.type())
        {
            case SHM -> new PortConfig.Shm(guest.queuePairs(), nic.ringSize(), nic.slotSize());
            case MEMIF -> new PortConfig.Memif(nic.memif(), guest.queuePairs(), nic.ringSize(), nic.slotSize());
            case AF_PACKET -> new PortConfig.AfPacket(nic.afPacket());
            case PCAP -> new PortConfig.Pcap(nic.pcap());
        };
        return List.of(
            shorthandPort(PortConfig.SHORTHAND_GUEST, guestSettings, PortConfig.SHORTHAND_NIC),
            shorthandPort(PortConfig.SHORTHAND_NIC, nicSettings, PortConfig.SHORTHAND_GUEST));
    }

    /**
     * @return true when the ports are the single-guest shorthand's, not {@code [port.NAME]} tables.
     */
    public boolean shorthand()
    {
        return portTables.isEmpty();
    }

    private PortConfig shorthandPort(final String name, final PortConfig.Settings settings, final String peer)
    {
        return new PortConfig(name, settings.type(), settings, PortConfig.NO_VLAN, List.of(), "", bridge.macLimit(),
            PortConfig.ROUND_ROBIN, peer);
    }

    /**
     * @return the configuration with every key at its default.
     */
    public static PagewireConfig defaults()
    {
        return DEFAULTS;
    }

    /**
     * Reads a config file, applies overrides after it, and validates the result completely.
     *
     * @param fileOrNull a TOML config file, or null to start from the defaults.
     * @param overrides  {@code key=value} strings (the CLI's {@code --set}), applied in order after the file, each
     *                   value typed by its key: {@code dataplane.burst=64}, {@code rx.mode=big},
     *                   {@code features.event_idx=false}, {@code guest.socket=/run/pagewire.sock}.
     * @return the validated configuration.
     * @throws ConfigException listing every problem found: a missing or unreadable file, syntax errors with their line,
     *                         malformed overrides, unknown keys (with the nearest valid key), wrong types and broken
     *                         rules.
     */
    public static PagewireConfig load(final Path fileOrNull, final List<String> overrides)
    {
        return ConfigLoader.load(fileOrNull, Objects.requireNonNull(overrides, "overrides"));
    }

    /**
     * Like {@link #load(Path, List)} for config text that is not in a file.
     *
     * @param tomlText  the config text.
     * @param source    the name syntax errors are reported under, in place of a file name.
     * @param overrides {@code key=value} strings applied after the text.
     * @return the validated configuration.
     * @throws ConfigException listing every problem found.
     */
    public static PagewireConfig parse(final String tomlText, final String source, final List<String> overrides)
    {
        return ConfigLoader.parse(tomlText, source, Objects.requireNonNull(overrides, "overrides"));
    }

    /**
     * @return a commented config file with every key at its default, grouped by table, each key preceded by its
     * description and rule; it parses back to exactly {@link #defaults()}.
     */
    public static String defaultFileText()
    {
        // From the registry rather than DEFAULTS, whose rx.mode is already resolved: the file shows rx.mode = "auto".
        return TomlWriter.write(DEFAULT_FILE_PREAMBLE, printable(ConfigKey.defaultValues()), key ->
        {
            final ConfigKey configKey = ConfigKey.byKey(key).orElseThrow();
            return List.of(configKey.description(), "rule: " + configKey.rule());
        }) + portTablesHelp();
    }

    /**
     * @return the commented part of the default file about {@code [port.NAME]} tables: what they do, each port type's
     * keys (from {@link PortKey}) and an example, all comments, so the file still parses to the defaults.
     */
    private static String portTablesHelp()
    {
        final StringBuilder out = new StringBuilder("\n");
        final List<String> text = new ArrayList<>(List.of(
            "[port.NAME] tables, one per bridge port. Without any (as here), the guest.* and nic.* keys are the " +
            "bridge: a patch of the port \"guest\" and the port \"nic\". With any, the bridge has exactly those " +
            "ports and every guest.* and nic.* key must stay at its default.",
            "NAME: " + StringRule.PORT_NAME_RULE + ". --set port.NAME.KEY=VALUE sets a port's key as for the " +
            "others; a port needs a type, from the file or --set.",
            "The keys of every port:"));
        text.addAll(keyList(null));
        for (final PortType type : PortType.values())
        {
            text.add("The keys of type = \"" + type.configName() + "\":");
            text.addAll(keyList(type));
        }
        for (final String line : text)
        {
            TomlWriter.appendComment(out, line);
        }
        out.append("""
            #
            # Example (bridge.mode = "learning"): two guests and an uplink; see config/examples/.
            # [port.vm1]
            # type = "vhost-user"
            # socket = "/run/pagewire/vm1.sock"
            # vlan = 10
            #
            # [port.uplink]
            # type = "af_packet"
            # interface = "eth1"
            # trunk = [10, 20]
            """);
        return out.toString();
    }

    private static List<String> keyList(final PortType type)
    {
        final List<String> described = new ArrayList<>();
        for (final PortKey key : PortKey.values())
        {
            if (type == null ? key.common() : key.types().contains(type) && !key.common())
            {
                described.add("  " + key.key() + " (" + (key.required() ? "required, " : "") + key.rule() +
                    (key.defaultValue() == null ? "" : ", default " + ConfigKey.format(key.defaultValue())) + "): " +
                    key.description());
            }
        }
        return described;
    }

    /**
     * @return this configuration as an uncommented TOML file, grouped by table in registry order; it parses back to
     * an equal configuration.
     */
    public String toToml()
    {
        return TomlWriter.write("", toMap(), key -> List.of());
    }

    /**
     * @return dotted key → value for every key, in registry order, then each port table's keys as
     * {@code port.NAME.KEY} in {@link PortKey} order ({@code type}, the common keys that have a value, the keys of its
     * type): {@link Integer}, {@link Boolean}, {@link String}, a {@link List} of {@link Integer} ({@code trunk}), or
     * for enum keys the {@link String} config name, so that the map can be printed or written as JSON as it is.
     * {@code rx.mode} is the mode in effect, never {@code auto}; {@code bridge.mode} is {@code patch} for the
     * single-guest shorthand. Unmodifiable.
     */
    public SequencedMap<String, Object> toMap()
    {
        final SequencedMap<String, Object> map =
            new LinkedHashMap<>(printable(values(virtqueue, rx, nic, dataplane, features, traffic, guest, bridge)));
        for (final PortConfig port : portTables)
        {
            port.values(bridge).forEach((key, value) -> map.put(key.fullKey(port.name()), printable(value)));
        }
        return Collections.unmodifiableSequencedMap(map);
    }

    private static SequencedMap<String, Object> printable(final Map<ConfigKey, Object> values)
    {
        final SequencedMap<String, Object> map = new LinkedHashMap<>();
        values.forEach((key, value) -> map.put(key.key(), printable(value)));
        return Collections.unmodifiableSequencedMap(map);
    }

    private static Object printable(final Object value)
    {
        return value instanceof final ConfigEnum choice ? choice.configName() : value;
    }

    /**
     * Builds {@code [bridge]} from typed values.
     */
    static BridgeConfig bridgeFromValues(final Map<ConfigKey, Object> values)
    {
        return new BridgeConfig(
            (BridgeMode)values.get(BRIDGE_MODE),
            (Integer)values.get(BRIDGE_AGING_S),
            (Integer)values.get(BRIDGE_FDB_SIZE),
            (Integer)values.get(BRIDGE_MAC_LIMIT));
    }

    /**
     * Builds the records from typed values (the inverse of {@link #values}); validates through the constructor.
     */
    static PagewireConfig fromValues(final Map<ConfigKey, Object> values)
    {
        return fromValues(values, List.of());
    }

    /**
     * Builds the records from typed values and port tables; validates through the constructor.
     */
    static PagewireConfig fromValues(final Map<ConfigKey, Object> values, final List<PortConfig> portTables)
    {
        return new PagewireConfig(
            new VirtqueueConfig(
                (Integer)values.get(VIRTQUEUE_RX_SIZE),
                (Integer)values.get(VIRTQUEUE_TX_SIZE)),
            new RxConfig(
                (RxMode)values.get(RX_MODE),
                (Integer)values.get(RX_BUFFER_SIZE),
                (Integer)values.get(RX_BIG_DESCRIPTORS)),
            new NicConfig(
                (NicType)values.get(NIC_TYPE),
                (Integer)values.get(NIC_RING_SIZE),
                (Integer)values.get(NIC_SLOT_SIZE),
                new NicConfig.Memif(
                    (String)values.get(NIC_MEMIF_SOCKET),
                    (MemifRole)values.get(NIC_MEMIF_ROLE),
                    (Integer)values.get(NIC_MEMIF_ID),
                    (Integer)values.get(NIC_MEMIF_MAX_REGION_MIB)),
                new NicConfig.AfPacket(
                    (String)values.get(NIC_AF_PACKET_INTERFACE),
                    (Integer)values.get(NIC_AF_PACKET_BLOCK_SIZE),
                    (Integer)values.get(NIC_AF_PACKET_BLOCK_COUNT),
                    (Integer)values.get(NIC_AF_PACKET_RETIRE_TIMEOUT_MS),
                    (Boolean)values.get(NIC_AF_PACKET_PROMISCUOUS),
                    (Boolean)values.get(NIC_AF_PACKET_VNET_HDR)),
                new NicConfig.Pcap(
                    (String)values.get(NIC_PCAP_READ),
                    (String)values.get(NIC_PCAP_WRITE),
                    (PcapPace)values.get(NIC_PCAP_PACE),
                    (Boolean)values.get(NIC_PCAP_LOOP))),
            new DataplaneConfig(
                (Integer)values.get(DATAPLANE_BURST),
                (IdleStrategyKind)values.get(DATAPLANE_IDLE_STRATEGY),
                (Integer)values.get(DATAPLANE_CPU),
                (RxPolicyKind)values.get(DATAPLANE_RX_POLICY),
                (Integer)values.get(DATAPLANE_AGENTS)),
            new FeaturesConfig(
                (Boolean)values.get(FEATURES_MRG_RXBUF),
                (Boolean)values.get(FEATURES_EVENT_IDX),
                (Boolean)values.get(FEATURES_INDIRECT_DESC),
                (Boolean)values.get(FEATURES_VERSION_1),
                (Boolean)values.get(FEATURES_GUEST_TSO),
                (Boolean)values.get(FEATURES_HOST_TSO)),
            new TrafficConfig(
                (Integer)values.get(TRAFFIC_FRAME_SIZE),
                (Integer)values.get(TRAFFIC_RATE_MBPS)),
            new GuestConfig(
                (GuestType)values.get(GUEST_TYPE),
                (String)values.get(GUEST_SOCKET),
                (VhostUserMode)values.get(GUEST_MODE),
                (Integer)values.get(GUEST_QUEUE_PAIRS),
                (Integer)values.get(GUEST_NAPI_BUDGET),
                (Integer)values.get(GUEST_WAKEUP_LATENCY_NS),
                (Integer)values.get(GUEST_REFILL_BATCH),
                (BufferSizing)values.get(GUEST_RX_BUFFER_SIZING),
                (GuestTx)values.get(GUEST_TX)),
            bridgeFromValues(values),
            portTables);
    }

    private static Map<ConfigKey, Object> values(
        final VirtqueueConfig virtqueue,
        final RxConfig rx,
        final NicConfig nic,
        final DataplaneConfig dataplane,
        final FeaturesConfig features,
        final TrafficConfig traffic,
        final GuestConfig guest,
        final BridgeConfig bridge)
    {
        final Map<ConfigKey, Object> values = new EnumMap<>(ConfigKey.class);
        values.put(VIRTQUEUE_RX_SIZE, virtqueue.rxSize());
        values.put(VIRTQUEUE_TX_SIZE, virtqueue.txSize());
        values.put(RX_MODE, rx.mode());
        values.put(RX_BUFFER_SIZE, rx.bufferSize());
        values.put(RX_BIG_DESCRIPTORS, rx.bigDescriptors());
        values.put(NIC_TYPE, nic.type());
        values.put(NIC_RING_SIZE, nic.ringSize());
        values.put(NIC_SLOT_SIZE, nic.slotSize());
        values.put(NIC_MEMIF_SOCKET, nic.memif().socket());
        values.put(NIC_MEMIF_ROLE, nic.memif().role());
        values.put(NIC_MEMIF_ID, nic.memif().id());
        values.put(NIC_MEMIF_MAX_REGION_MIB, nic.memif().maxRegionMib());
        values.put(NIC_AF_PACKET_INTERFACE, nic.afPacket().interfaceName());
        values.put(NIC_AF_PACKET_BLOCK_SIZE, nic.afPacket().blockSize());
        values.put(NIC_AF_PACKET_BLOCK_COUNT, nic.afPacket().blockCount());
        values.put(NIC_AF_PACKET_RETIRE_TIMEOUT_MS, nic.afPacket().retireTimeoutMs());
        values.put(NIC_AF_PACKET_PROMISCUOUS, nic.afPacket().promiscuous());
        values.put(NIC_AF_PACKET_VNET_HDR, nic.afPacket().vnetHdr());
        values.put(NIC_PCAP_READ, nic.pcap().read());
        values.put(NIC_PCAP_WRITE, nic.pcap().write());
        values.put(NIC_PCAP_PACE, nic.pcap().pace());
        values.put(NIC_PCAP_LOOP, nic.pcap().loop());
        values.put(DATAPLANE_BURST, dataplane.burst());
        values.put(DATAPLANE_IDLE_STRATEGY, dataplane.idleStrategy());
        values.put(DATAPLANE_CPU, dataplane.cpu());
        values.put(DATAPLANE_RX_POLICY, dataplane.rxPolicy());
        values.put(DATAPLANE_AGENTS, dataplane.agents());
        values.put(FEATURES_MRG_RXBUF, features.mrgRxbuf());
        values.put(FEATURES_EVENT_IDX, features.eventIdx());
        values.put(FEATURES_INDIRECT_DESC, features.indirectDesc());
        values.put(FEATURES_VERSION_1, features.version1());
        values.put(FEATURES_GUEST_TSO, features.guestTso());
        values.put(FEATURES_HOST_TSO, features.hostTso());
        values.put(TRAFFIC_FRAME_SIZE, traffic.frameSize());
        values.put(TRAFFIC_RATE_MBPS, traffic.rateMbps());
        values.put(GUEST_TYPE, guest.type());
        values.put(GUEST_SOCKET, guest.socket());
        values.put(GUEST_MODE, guest.mode());
        values.put(GUEST_QUEUE_PAIRS, guest.queuePairs());
        values.put(GUEST_NAPI_BUDGET, guest.napiBudget());
        values.put(GUEST_WAKEUP_LATENCY_NS, guest.wakeupLatencyNs());
        values.put(GUEST_REFILL_BATCH, guest.refillBatch());
        values.put(GUEST_RX_BUFFER_SIZING, guest.rxBufferSizing());
        values.put(GUEST_TX, guest.tx());
        values.put(BRIDGE_MODE, bridge.mode());
        values.put(BRIDGE_AGING_S, bridge.agingS());
        values.put(BRIDGE_FDB_SIZE, bridge.fdbSize());
        values.put(BRIDGE_MAC_LIMIT, bridge.macLimit());
        return values;
    }
}
