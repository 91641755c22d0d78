package io.pagewire.config;

import static io.pagewire.config.PortKey.AGENT;
import static io.pagewire.config.PortKey.BLOCK_COUNT;
import static io.pagewire.config.PortKey.BLOCK_SIZE;
import static io.pagewire.config.PortKey.ID;
import static io.pagewire.config.PortKey.INTERFACE;
import static io.pagewire.config.PortKey.LOOP;
import static io.pagewire.config.PortKey.MAC;
import static io.pagewire.config.PortKey.MAC_LIMIT;
import static io.pagewire.config.PortKey.MAX_REGION_MIB;
import static io.pagewire.config.PortKey.MODE;
import static io.pagewire.config.PortKey.NAPI_BUDGET;
import static io.pagewire.config.PortKey.PACE;
import static io.pagewire.config.PortKey.PATCH;
import static io.pagewire.config.PortKey.PROMISCUOUS;
import static io.pagewire.config.PortKey.QUEUE_PAIRS;
import static io.pagewire.config.PortKey.READ;
import static io.pagewire.config.PortKey.REFILL_BATCH;
import static io.pagewire.config.PortKey.RETIRE_TIMEOUT_MS;
import static io.pagewire.config.PortKey.RING_SIZE;
import static io.pagewire.config.PortKey.ROLE;
import static io.pagewire.config.PortKey.RX_BUFFER_SIZING;
import static io.pagewire.config.PortKey.SLOT_SIZE;
import static io.pagewire.config.PortKey.SOCKET;
import static io.pagewire.config.PortKey.TRUNK;
import static io.pagewire.config.PortKey.TX;
import static io.pagewire.config.PortKey.TYPE;
import static io.pagewire.config.PortKey.VLAN;
import static io.pagewire.config.PortKey.VNET_HDR;
import static io.pagewire.config.PortKey.WAKEUP_LATENCY_NS;
import static io.pagewire.config.PortKey.WRITE;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One port of the bridge: a table {@code [port.NAME]}, or one of the two ports of the single-guest shorthand
 * ({@link PagewireConfig#ports()}).
 *
 * @param name     the port's name, {@code [a-z0-9][a-z0-9_-]{0,14}}.
 * @param type     {@code port.NAME.type}.
 * @param settings the keys of its type, a record per type.
 * @param vlan     {@code port.NAME.vlan}: the access VLAN, or {@link #NO_VLAN}.
 * @param trunk    {@code port.NAME.trunk}: the VLANs of a trunk port; empty when it is none.
 * @param mac      {@code port.NAME.mac}: the only source address the port may send from; empty = not pinned.
 * @param macLimit {@code port.NAME.mac_limit}, else {@code bridge.mac_limit}: most addresses learned on the port;
 *                 {@link BridgeConfig#NO_MAC_LIMIT} = none.
 * @param agent    {@code port.NAME.agent}: the dataplane agent polling its receive queues, or {@link #ROUND_ROBIN}.
 * @param patch    {@code port.NAME.patch}: the peer port in patch mode; empty = none.
 */
public record PortConfig(
    String name,
    PortType type,
    Settings settings,
    int vlan,
    List<Integer> trunk,
    String mac,
    int macLimit,
    int agent,
    String patch)
{
    /** The {@link #vlan()} of a port that is not an access port. */
    public static final int NO_VLAN = 0;

    /** The {@link #agent()} of a port whose receive queues are placed round robin. */
    public static final int ROUND_ROBIN = -1;

    /** The name of the single-guest shorthand's guest port. */
    public static final String SHORTHAND_GUEST = "guest";

    /** The name of the single-guest shorthand's NIC port. */
    public static final String SHORTHAND_NIC = "nic";

    /**
     * Checks only for null and that the settings are of the type; values are validated with the whole config by
     * {@link PagewireConfig}.
     */
    public PortConfig
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(settings, "settings");
        trunk = List.copyOf(trunk);
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(patch, "patch");
        if (settings.type() != type)
        {
            throw new IllegalArgumentException("port " + name + ": " + settings.type().configName() +
                " settings for a " + type.configName() + " port");
        }
    }

    /**
     * @return the receive queues the port brings to the dataplane: its queue pairs, 1 for af_packet, pcap and the
     * embedded guest.
     */
    public int receiveQueues()
    {
        return switch (settings)
        {
            case final VhostUser vhostUser -> vhostUser.queuePairs();
            case final Memif memif -> memif.queuePairs();
            case final Shm shm -> shm.queuePairs();
            default -> 1;
        };
    }

    /**
     * The keys of one port type.
     */
    public sealed interface Settings permits VhostUser, Memif, AfPacket, Pcap, Shm, Embedded
    {
        /**
         * @return the port type these settings belong to.
         */
        PortType type();
    }

    /**
     * A vhost-user guest port.
     *
     * @param socket     {@code socket}: the vhost-user Unix socket.
     * @param mode       {@code mode}: whether pagewire listens on it or connects.
     * @param queuePairs {@code queue_pairs}: queue pairs offered.
     */
    public record VhostUser(String socket, VhostUserMode mode, int queuePairs) implements Settings
    {
        /**
         * Checks only for null.
         */
        public VhostUser
        {
            Objects.requireNonNull(socket, "socket");
            Objects.requireNonNull(mode, "mode");
        }

        @Override
        public PortType type()
        {
            return PortType.VHOST_USER;
        }
    }

    /**
     * A memif NIC port.
     *
     * @param memif      {@code socket}, {@code role}, {@code id}, {@code max_region_mib}.
     * @param queuePairs {@code queue_pairs}: queues each way.
     * @param ringSize   {@code ring_size}: slots of each ring, at most {@link NicConfig#MEMIF_MAX_RING_SIZE}.
     * @param slotSize   {@code slot_size}: bytes of each buffer.
     */
    public record Memif(NicConfig.Memif memif, int queuePairs, int ringSize, int slotSize) implements Settings
    {
        /**
         * Checks only for null.
         */
        public Memif
        {
            Objects.requireNonNull(memif, "memif");
        }

        @Override
        public PortType type()
        {
            return PortType.MEMIF;
        }
    }

    /**
     * An AF_PACKET NIC port.
     *
     * @param afPacket {@code interface}, {@code block_size}, {@code block_count}, {@code retire_timeout_ms},
     *                 {@code promiscuous}, {@code vnet_hdr}.
     */
    public record AfPacket(NicConfig.AfPacket afPacket) implements Settings
    {
        /**
         * Checks only for null.
         */
        public AfPacket
        {
            Objects.requireNonNull(afPacket, "afPacket");
        }

        @Override
        public PortType type()
        {
            return PortType.AF_PACKET;
        }
    }

    /**
     * A pcap NIC port.
     *
     * @param pcap {@code read}, {@code write}, {@code pace}, {@code loop}.
     */
    public record Pcap(NicConfig.Pcap pcap) implements Settings
    {
        /**
         * Checks only for null.
         */
        public Pcap
        {
            Objects.requireNonNull(pcap, "pcap");
        }

        @Override
        public PortType type()
        {
            return PortType.PCAP;
        }
    }

    /**
     * The embedded shared-memory ring NIC port, fed by the embedded traffic source.
     *
     * @param queuePairs {@code queue_pairs}: rings each way.
     * @param ringSize   {@code ring_size}: frames in each ring.
     * @param slotSize   {@code slot_size}: bytes of each slot, {@link NicConfig#SLOT_HEADER_BYTES} of them header.
     */
    public record Shm(int queuePairs, int ringSize, int slotSize) implements Settings
    {
        @Override
        public PortType type()
        {
            return PortType.SHM;
        }
    }

    /**
     * The embedded guest model.
     *
     * @param napiBudget      {@code napi_budget}.
     * @param wakeupLatencyNs {@code wakeup_latency_ns}.
     * @param refillBatch     {@code refill_batch}.
     * @param rxBufferSizing  {@code rx.buffer_sizing}.
     * @param tx              {@code tx}.
     */
    public record Embedded(
        int napiBudget, int wakeupLatencyNs, int refillBatch, BufferSizing rxBufferSizing, GuestTx tx) implements Settings
    {
        /**
         * Checks only for null.
         */
        public Embedded
        {
            Objects.requireNonNull(rxBufferSizing, "rxBufferSizing");
            Objects.requireNonNull(tx, "tx");
        }

        @Override
        public PortType type()
        {
            return PortType.EMBEDDED;
        }
    }

    /**
     * @param bridge the bridge, whose {@code mac_limit} a port without its own is given.
     * @return the port's keys with their values in {@link PortKey} order: {@code type}, each common key that has a
     * value ({@code mac_limit} only when it differs from the bridge's), then every key of its type.
     */
    Map<PortKey, Object> values(final BridgeConfig bridge)
    {
        final Map<PortKey, Object> values = new EnumMap<>(PortKey.class);
        values.put(TYPE, type);
        if (vlan != NO_VLAN)
        {
            values.put(VLAN, vlan);
        }
        if (!trunk.isEmpty())
        {
            values.put(TRUNK, trunk);
        }
        if (!mac.isEmpty())
        {
            values.put(MAC, mac);
        }
        if (macLimit != bridge.macLimit())
        {
            values.put(MAC_LIMIT, macLimit);
        }
        if (agent != ROUND_ROBIN)
        {
            values.put(AGENT, agent);
        }
        if (!patch.isEmpty())
        {
            values.put(PATCH, patch);
        }
        switch (settings)
        {
            case final VhostUser v ->
            {
                values.put(SOCKET, v.socket());
                values.put(MODE, v.mode());
                values.put(QUEUE_PAIRS, v.queuePairs());
            }
            case final Memif m ->
            {
                values.put(SOCKET, m.memif().socket());
                values.put(ROLE, m.memif().role());
                values.put(ID, m.memif().id());
                values.put(MAX_REGION_MIB, m.memif().maxRegionMib());
                values.put(QUEUE_PAIRS, m.queuePairs());
                values.put(RING_SIZE, m.ringSize());
                values.put(SLOT_SIZE, m.slotSize());
            }
            case final AfPacket a ->
            {
                values.put(INTERFACE, a.afPacket().interfaceName());
                values.put(BLOCK_SIZE, a.afPacket().blockSize());
                values.put(BLOCK_COUNT, a.afPacket().blockCount());
                values.put(RETIRE_TIMEOUT_MS, a.afPacket().retireTimeoutMs());
                values.put(PROMISCUOUS, a.afPacket().promiscuous());
                values.put(VNET_HDR, a.afPacket().vnetHdr());
            }
            case final Pcap p ->
            {
                values.put(READ, p.pcap().read());
                values.put(WRITE, p.pcap().write());
                values.put(PACE, p.pcap().pace());
                values.put(LOOP, p.pcap().loop());
            }
            case final Shm s ->
            {
                values.put(QUEUE_PAIRS, s.queuePairs());
                values.put(RING_SIZE, s.ringSize());
                values.put(SLOT_SIZE, s.slotSize());
            }
            case final Embedded e ->
            {
                values.put(NAPI_BUDGET, e.napiBudget());
                values.put(WAKEUP_LATENCY_NS, e.wakeupLatencyNs());
                values.put(REFILL_BATCH, e.refillBatch());
                values.put(RX_BUFFER_SIZING, e.rxBufferSizing());
                values.put(TX, e.tx());
            }
        }
        return values;
    }

    /**
     * Builds a port from typed values (the inverse of {@link #values}): keys of its type that are absent take their
     * defaults, {@code mac_limit} the bridge's.
     *
     * @param values typed values with {@code type} and every required key of the type.
     */
    static PortConfig fromValues(final String name, final Map<PortKey, Object> values, final BridgeConfig bridge)
    {
        final PortType type = (PortType)values.get(TYPE);
        final Settings settings = switch (type)
        {
            case VHOST_USER -> new VhostUser(
                (String)values.get(SOCKET), (VhostUserMode)get(values, MODE), (Integer)get(values, QUEUE_PAIRS));
            case MEMIF -> new Memif(
                new NicConfig.Memif((String)values.get(SOCKET), (MemifRole)get(values, ROLE), (Integer)get(values, ID),
                    (Integer)get(values, MAX_REGION_MIB)),
                (Integer)get(values, QUEUE_PAIRS), (Integer)get(values, RING_SIZE), (Integer)get(values, SLOT_SIZE));
            case AF_PACKET -> new AfPacket(new NicConfig.AfPacket(
                (String)values.get(INTERFACE), (Integer)get(values, BLOCK_SIZE), (Integer)get(values, BLOCK_COUNT),
                (Integer)get(values, RETIRE_TIMEOUT_MS), (Boolean)get(values, PROMISCUOUS),
                (Boolean)get(values, VNET_HDR)));
            case PCAP -> new Pcap(new NicConfig.Pcap(
                (String)get(values, READ), (String)get(values, WRITE), (PcapPace)get(values, PACE),
                (Boolean)get(values, LOOP)));
            case SHM -> new Shm(
                (Integer)get(values, QUEUE_PAIRS), (Integer)get(values, RING_SIZE), (Integer)get(values, SLOT_SIZE));
            case EMBEDDED -> new Embedded(
                (Integer)get(values, NAPI_BUDGET), (Integer)get(values, WAKEUP_LATENCY_NS),
                (Integer)get(values, REFILL_BATCH), (BufferSizing)get(values, RX_BUFFER_SIZING),
                (GuestTx)get(values, TX));
        };
        @SuppressWarnings("unchecked")
        final List<Integer> trunk = (List<Integer>)values.getOrDefault(TRUNK, List.of());
        return new PortConfig(
            name,
            type,
            settings,
            (Integer)values.getOrDefault(VLAN, NO_VLAN),
            trunk,
            (String)values.getOrDefault(MAC, ""),
            (Integer)values.getOrDefault(MAC_LIMIT, bridge.macLimit()),
            (Integer)values.getOrDefault(AGENT, ROUND_ROBIN),
            (String)values.getOrDefault(PATCH, ""));
    }

    private static Object get(final Map<PortKey, Object> values, final PortKey key)
    {
        return values.getOrDefault(key, key.defaultValue());
    }
}
