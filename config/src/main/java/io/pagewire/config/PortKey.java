package io.pagewire.config;

import static io.pagewire.config.PortType.AF_PACKET;
import static io.pagewire.config.PortType.EMBEDDED;
import static io.pagewire.config.PortType.MEMIF;
import static io.pagewire.config.PortType.PCAP;
import static io.pagewire.config.PortType.SHM;
import static io.pagewire.config.PortType.VHOST_USER;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The keys of one bridge port, {@code port.NAME.KEY}, written as a table {@code [port.NAME]}: the part of the key
 * registry that repeats per port ({@link ConfigKey} holds the keys that occur once). A key applies to every port
 * ({@link #common()}) or to the port types in {@link #types()}. Keys that mirror a single-guest key
 * ({@code port.NAME.socket} and {@code guest.socket}) take that key's type, default and rule from {@link ConfigKey},
 * so each rule and default is still written once.
 * <p>
 * A key without a default is either required for its types ({@link #required()}) or optional with no value
 * (vlan, trunk, mac, mac_limit, agent, patch).
 */
public enum PortKey
{
    /** The port's kind. */
    TYPE("type", EnumSet.allOf(PortType.class), ConfigKey.Type.ENUM, null, null,
        List.of(PortType.values()), null, true,
        "The kind of port; it decides which other keys the table may have."),

    /** Access VLAN. */
    VLAN("vlan", EnumSet.allOf(PortType.class), ConfigKey.Type.INTEGER, IntRule.range(1, 4094), null, List.of(),
        null, false,
        "Access port of this VLAN (802.1Q VID): frames are untagged on the port, tagged on trunks. Not with trunk."),

    /** Trunk VLANs. */
    TRUNK("trunk", EnumSet.allOf(PortType.class), ConfigKey.Type.INTEGER_LIST, IntRule.range(1, 4094), null,
        List.of(), null, false,
        "Trunk port carrying these VLANs tagged, e.g. [10, 20] (--set port.NAME.trunk=10,20). Not with vlan."),

    /** MAC pinning. */
    MAC("mac", EnumSet.allOf(PortType.class), ConfigKey.Type.STRING, null, StringRule.unicastMac(), List.of(),
        null, false,
        "The one source address the port may send from; other frames are dropped and counted."),

    /** Per-port learn limit. */
    MAC_LIMIT("mac_limit", EnumSet.allOf(PortType.class), ConfigKey.Type.INTEGER,
        ConfigKey.BRIDGE_MAC_LIMIT.intRule(), null, List.of(), null, false,
        "Addresses this port may have learned at once; default bridge.mac_limit; 0 = no limit."),

    /** Dataplane agent pinning: 15 at most as dataplane.agents is at most 16; a cross rule holds it below that. */
    AGENT("agent", EnumSet.allOf(PortType.class), ConfigKey.Type.INTEGER,
        IntRule.range(0, 15), null, List.of(), null, false,
        "The dataplane agent (0..dataplane.agents - 1) that polls this port's receive queues; default round robin."),

    /** Patch peer. */
    PATCH("patch", EnumSet.allOf(PortType.class), ConfigKey.Type.STRING, null, StringRule.portName(), List.of(),
        null, false,
        "bridge.mode=patch: the port every frame of this one goes to; the peer names this port back."),

    /** vhost-user or memif control socket. */
    SOCKET("socket", EnumSet.of(VHOST_USER, MEMIF), ConfigKey.GUEST_SOCKET, true,
        "The vhost-user socket (as guest.socket) or the memif control socket (as nic.memif.socket)."),

    /** vhost-user side. */
    MODE("mode", EnumSet.of(VHOST_USER), ConfigKey.GUEST_MODE, false, "As guest.mode."),

    /** Queue pairs. */
    QUEUE_PAIRS("queue_pairs", EnumSet.of(VHOST_USER, MEMIF, SHM), ConfigKey.GUEST_QUEUE_PAIRS, false,
        "Queue pairs: offered to the vhost-user frontend (as guest.queue_pairs), or memif queues / shm rings."),

    /** memif role. */
    ROLE("role", EnumSet.of(MEMIF), ConfigKey.NIC_MEMIF_ROLE, false, "As nic.memif.role."),

    /** memif interface id. */
    ID("id", EnumSet.of(MEMIF), ConfigKey.NIC_MEMIF_ID, false, "As nic.memif.id."),

    /** memif region cap. */
    MAX_REGION_MIB("max_region_mib", EnumSet.of(MEMIF), ConfigKey.NIC_MEMIF_MAX_REGION_MIB, false,
        "As nic.memif.max_region_mib."),

    /** Ring size. */
    RING_SIZE("ring_size", EnumSet.of(MEMIF, SHM), ConfigKey.NIC_RING_SIZE, false,
        "As nic.ring.size; at most 16384 for memif."),

    /** Slot size. */
    SLOT_SIZE("slot_size", EnumSet.of(MEMIF, SHM), ConfigKey.NIC_SLOT_SIZE, false, "As nic.slot_size."),

    /** AF_PACKET interface. */
    INTERFACE("interface", EnumSet.of(AF_PACKET), ConfigKey.Type.STRING, null, StringRule.interfaceName(), List.of(),
        null, true, "The kernel network interface (as nic.af_packet.interface)."),

    /** TPACKET_V3 block size. */
    BLOCK_SIZE("block_size", EnumSet.of(AF_PACKET), ConfigKey.NIC_AF_PACKET_BLOCK_SIZE, false,
        "As nic.af_packet.block_size."),

    /** TPACKET_V3 block count. */
    BLOCK_COUNT("block_count", EnumSet.of(AF_PACKET), ConfigKey.NIC_AF_PACKET_BLOCK_COUNT, false,
        "As nic.af_packet.block_count."),

    /** TPACKET_V3 retire timeout. */
    RETIRE_TIMEOUT_MS("retire_timeout_ms", EnumSet.of(AF_PACKET), ConfigKey.NIC_AF_PACKET_RETIRE_TIMEOUT_MS, false,
        "As nic.af_packet.retire_timeout_ms."),

    /** Promiscuous mode. */
    PROMISCUOUS("promiscuous", EnumSet.of(AF_PACKET), ConfigKey.NIC_AF_PACKET_PROMISCUOUS, false,
        "As nic.af_packet.promiscuous."),

    /** PACKET_VNET_HDR. */
    VNET_HDR("vnet_hdr", EnumSet.of(AF_PACKET), ConfigKey.NIC_AF_PACKET_VNET_HDR, false,
        "As nic.af_packet.vnet_hdr."),

    /** pcap replay file. */
    READ("read", EnumSet.of(PCAP), ConfigKey.NIC_PCAP_READ, false, "As nic.pcap.read; read or write is required."),

    /** pcap record file. */
    WRITE("write", EnumSet.of(PCAP), ConfigKey.NIC_PCAP_WRITE, false, "As nic.pcap.write."),

    /** pcap pace. */
    PACE("pace", EnumSet.of(PCAP), ConfigKey.NIC_PCAP_PACE, false, "As nic.pcap.pace."),

    /** pcap loop. */
    LOOP("loop", EnumSet.of(PCAP), ConfigKey.NIC_PCAP_LOOP, false, "As nic.pcap.loop."),

    /** Embedded guest NAPI budget. */
    NAPI_BUDGET("napi_budget", EnumSet.of(EMBEDDED), ConfigKey.GUEST_NAPI_BUDGET, false, "As guest.napi_budget."),

    /** Embedded guest wake-up latency. */
    WAKEUP_LATENCY_NS("wakeup_latency_ns", EnumSet.of(EMBEDDED), ConfigKey.GUEST_WAKEUP_LATENCY_NS, false,
        "As guest.wakeup_latency_ns."),

    /** Embedded guest refill batch. */
    REFILL_BATCH("refill_batch", EnumSet.of(EMBEDDED), ConfigKey.GUEST_REFILL_BATCH, false,
        "As guest.refill_batch."),

    /** Embedded guest RX buffer sizing. */
    RX_BUFFER_SIZING("rx.buffer_sizing", EnumSet.of(EMBEDDED), ConfigKey.GUEST_RX_BUFFER_SIZING, false,
        "As guest.rx.buffer_sizing."),

    /** Embedded guest TX. */
    TX("tx", EnumSet.of(EMBEDDED), ConfigKey.GUEST_TX, false, "As guest.tx.");

    /** The table every port key is under: {@code port.NAME.KEY}. */
    public static final String TABLE = "port";

    /** The description of {@link #TRUNK}'s rule. */
    static final String TRUNK_RULE = "a non-empty list of distinct VLAN ids in 1..4094";

    private final String key;
    private final Set<PortType> types;
    private final ConfigKey.Type type;
    private final IntRule intRule;
    private final StringRule stringRule;
    private final List<ConfigEnum> choices;
    private final Object defaultValue;
    private final boolean required;
    private final String description;

    PortKey(
        final String key,
        final Set<PortType> types,
        final ConfigKey mirror,
        final boolean required,
        final String description)
    {
        this(key, types, mirror.type(), mirror.intRule(), mirror.stringRule(), mirror.choices(),
            required ? null : mirror.defaultValue(), required, description);
    }

    PortKey(
        final String key,
        final Set<PortType> types,
        final ConfigKey.Type type,
        final IntRule intRule,
        final StringRule stringRule,
        final List<ConfigEnum> choices,
        final Object defaultValue,
        final boolean required,
        final String description)
    {
        this.key = key;
        this.types = Set.copyOf(types);
        this.type = type;
        this.intRule = intRule;
        this.stringRule = stringRule;
        this.choices = choices;
        this.defaultValue = defaultValue;
        this.required = required;
        this.description = description;
    }

    /**
     * @return the key inside the port's table, e.g. {@code socket} or {@code rx.buffer_sizing}.
     */
    public String key()
    {
        return key;
    }

    /**
     * @return the port types the key belongs to; every type for the common keys.
     */
    public Set<PortType> types()
    {
        return types;
    }

    /**
     * @return true when every port type has the key.
     */
    public boolean common()
    {
        return types.size() == PortType.values().length;
    }

    /**
     * @return the kind of value.
     */
    public ConfigKey.Type type()
    {
        return type;
    }

    /**
     * @return the default, or null when the key is required or optional without a value.
     */
    public Object defaultValue()
    {
        return defaultValue;
    }

    /**
     * @return true when a port of one of {@link #types()} must set the key.
     */
    public boolean required()
    {
        return required;
    }

    /**
     * @return the one-line description.
     */
    public String description()
    {
        return description;
    }

    /**
     * @return the key's own rule as a noun phrase, e.g. {@code in 1..4094}.
     */
    public String rule()
    {
        return switch (type)
        {
            case INTEGER -> intRule.description();
            case BOOLEAN -> "true or false";
            case ENUM -> "one of " + choices.stream().map(ConfigEnum::configName).collect(Collectors.joining("|"));
            case STRING -> stringRule.description();
            case INTEGER_LIST -> TRUNK_RULE;
        };
    }

    /**
     * @param key a key inside a port table, e.g. {@code vlan}.
     * @return the port key, or empty when there is none by that name.
     */
    public static Optional<PortKey> byKey(final String key)
    {
        return Arrays.stream(values()).filter(k -> k.key.equals(key)).findFirst();
    }

    /**
     * @param portName the port, for messages.
     * @return {@code port.NAME.KEY}.
     */
    String fullKey(final String portName)
    {
        return TABLE + "." + portName + "." + key;
    }

    /**
     * Types a value from a file. See {@link ConfigKey#convert(Object, String, List)}.
     */
    Object convert(final String portName, final Object value, final String written, final List<String> problems)
    {
        return ConfigKey.convert(fullKey(portName), type, intRule, choices, value, written, problems);
    }

    /**
     * Types an override's text. See {@link ConfigKey#convertText(String, List)}.
     */
    Object convertText(final String portName, final String text, final List<String> problems)
    {
        return ConfigKey.convertText(fullKey(portName), type, intRule, choices, text, problems);
    }

    /**
     * @return null when a correctly typed value satisfies the key's own rule, else {@code must be <rule>}.
     */
    String violation(final Object value)
    {
        return switch (type)
        {
            case INTEGER -> intRule.violation((Integer)value);
            case STRING -> stringRule.violation((String)value);
            case BOOLEAN, ENUM -> null;
            case INTEGER_LIST ->
            {
                final List<?> items = (List<?>)value;
                final boolean valid = !items.isEmpty() && new HashSet<>(items).size() == items.size() &&
                    items.stream().allMatch(item -> intRule.violation((Integer)item) == null);
                yield valid ? null : "must be " + TRUNK_RULE;
            }
        };
    }

    /**
     * @return the keys a port of this type may have, in registry order.
     */
    static List<PortKey> keysOf(final PortType portType)
    {
        final List<PortKey> keys = new ArrayList<>();
        for (final PortKey key : values())
        {
            if (key.types.contains(portType))
            {
                keys.add(key);
            }
        }
        return keys;
    }

    /**
     * @return the types that have this key, for a message: {@code vhost-user, memif}.
     */
    String typeNames()
    {
        return Arrays.stream(PortType.values()).filter(types::contains).map(PortType::configName)
            .collect(Collectors.joining(", "));
    }
}
