package io.pagewire.config;

import static io.pagewire.config.PortKey.AGENT;
import static io.pagewire.config.PortKey.ID;
import static io.pagewire.config.PortKey.INTERFACE;
import static io.pagewire.config.PortKey.MAC_LIMIT;
import static io.pagewire.config.PortKey.PATCH;
import static io.pagewire.config.PortKey.QUEUE_PAIRS;
import static io.pagewire.config.PortKey.READ;
import static io.pagewire.config.PortKey.RING_SIZE;
import static io.pagewire.config.PortKey.ROLE;
import static io.pagewire.config.PortKey.RX_BUFFER_SIZING;
import static io.pagewire.config.PortKey.SLOT_SIZE;
import static io.pagewire.config.PortKey.SOCKET;
import static io.pagewire.config.PortKey.TRUNK;
import static io.pagewire.config.PortKey.TYPE;
import static io.pagewire.config.PortKey.VLAN;
import static io.pagewire.config.PortKey.WRITE;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;

/**
 * The rules of the {@code [port.NAME]} tables: each port key's own rule, then the rules within a port, then those
 * between ports, reported as {@code port.NAME.KEY=VALUE: rule}. Like {@link ConfigKey#validate}, a rule is checked
 * only when every value it reads is valid on its own, so one bad value yields one message.
 * <p>
 * The keys' types, which keys a port type has and which it requires are checked where values are read
 * ({@code ConfigLoader}); a record ({@link PortConfig}) cannot be built otherwise.
 */
final class PortRules
{
    private PortRules()
    {
    }

    /**
     * @param ports   port name → its typed values (every key of its type, defaults filled in; the common keys that
     *                have a value, {@code mac_limit} absent when it is the bridge's), ports in declaration order; a
     *                port whose type is unknown has no {@code type}, and a key whose value failed to type is absent.
     * @param globals the values of the {@link ConfigKey} registry.
     * @param problems where violations are added.
     */
    static void validate(
        final SequencedMap<String, Map<PortKey, Object>> ports,
        final Map<ConfigKey, Object> globals,
        final List<String> problems)
    {
        final Map<String, Set<PortKey>> valid = new HashMap<>();
        for (final Map.Entry<String, Map<PortKey, Object>> port : ports.entrySet())
        {
            final String name = port.getKey();
            if (StringRule.portName().violation(name) != null)
            {
                problems.add(PortKey.TABLE + "." + name + ": must be " + StringRule.PORT_NAME_RULE);
            }
            final Set<PortKey> validKeys = EnumSet.noneOf(PortKey.class);
            port.getValue().forEach((key, value) ->
            {
                final String violation = key.violation(value);
                if (violation == null)
                {
                    validKeys.add(key);
                }
                else
                {
                    problems.add(key.fullKey(name) + "=" + ConfigKey.format(value) + ": " + violation);
                }
            });
            valid.put(name, validKeys);
        }

        shorthandKeysAtDefaults(globals, problems);
        for (final Map.Entry<String, Map<PortKey, Object>> port : ports.entrySet())
        {
            withinPort(port.getKey(), port.getValue(), valid.get(port.getKey()), ports, valid, globals, problems);
        }
        betweenPorts(ports, valid, globals, problems);
    }

    /**
     * With port tables, {@code [guest]} and {@code [nic]} describe nothing that runs: a changed key there is a
     * mistake (a port meant as a table), not a setting to ignore.
     */
    private static void shorthandKeysAtDefaults(final Map<ConfigKey, Object> globals, final List<String> problems)
    {
        for (final ConfigKey key : ConfigKey.values())
        {
            final Object value = globals.get(key);
            if ((key.key().startsWith("guest.") || key.key().startsWith("nic.")) && value != null &&
                !value.equals(key.defaultValue()))
            {
                problems.add(key + "=" + ConfigKey.format(value) + ": a key of the single-guest shorthand, not used " +
                    "when [port.NAME] tables are given (set it in the port's table)");
            }
        }
    }

    private static void withinPort(
        final String name,
        final Map<PortKey, Object> values,
        final Set<PortKey> valid,
        final SequencedMap<String, Map<PortKey, Object>> ports,
        final Map<String, Set<PortKey>> validByPort,
        final Map<ConfigKey, Object> globals,
        final List<String> problems)
    {
        if (!valid.contains(TYPE))
        {
            return;
        }
        final PortType type = (PortType)values.get(TYPE);
        if (valid.contains(VLAN) && valid.contains(TRUNK))
        {
            problems.add(shown(name, TRUNK, values) + ": not with " + VLAN.fullKey(name) +
                " (a port is an access port or a trunk, not both)");
        }

        final boolean modeValid = ConfigKey.BRIDGE_MODE.validIn(globals);
        final BridgeMode mode = (BridgeMode)globals.get(ConfigKey.BRIDGE_MODE);
        if (valid.contains(PATCH))
        {
            final String peer = (String)values.get(PATCH);
            if (modeValid && mode != BridgeMode.PATCH)
            {
                problems.add(shown(name, PATCH, values) + ": only with bridge.mode=patch");
            }
            else if (peer.equals(name))
            {
                problems.add(shown(name, PATCH, values) + ": a port cannot be patched to itself");
            }
            else if (!ports.containsKey(peer))
            {
                problems.add(shown(name, PATCH, values) + ": no port named " + peer);
            }
            else if (validByPort.get(peer).contains(TYPE) && (!ports.get(peer).containsKey(PATCH) ||
                validByPort.get(peer).contains(PATCH) && !name.equals(ports.get(peer).get(PATCH))))
            {
                problems.add(shown(name, PATCH, values) + ": port " + peer + " must be patched back to " + name +
                    " (" + PATCH.fullKey(peer) + "=\"" + name + "\")");
            }
        }
        else if (!values.containsKey(PATCH) && modeValid && mode == BridgeMode.PATCH)
        {
            problems.add(PATCH.fullKey(name) +
                ": required when bridge.mode=patch (ports are cross-connected in pairs)");
        }

        if (valid.contains(AGENT) && ConfigKey.DATAPLANE_AGENTS.validIn(globals) &&
            (int)values.get(AGENT) >= (int)globals.get(ConfigKey.DATAPLANE_AGENTS))
        {
            problems.add(shown(name, AGENT, values) + ": must be below dataplane.agents = " +
                globals.get(ConfigKey.DATAPLANE_AGENTS));
        }
        if (valid.contains(MAC_LIMIT) && ConfigKey.BRIDGE_FDB_SIZE.validIn(globals) &&
            (int)values.get(MAC_LIMIT) > (int)globals.get(ConfigKey.BRIDGE_FDB_SIZE))
        {
            problems.add(shown(name, MAC_LIMIT, values) + ": must be at most bridge.fdb_size = " +
                globals.get(ConfigKey.BRIDGE_FDB_SIZE));
        }
        if (type == PortType.MEMIF && valid.contains(RING_SIZE) &&
            (int)values.get(RING_SIZE) > NicConfig.MEMIF_MAX_RING_SIZE)
        {
            problems.add(shown(name, RING_SIZE, values) + ": must be at most " + NicConfig.MEMIF_MAX_RING_SIZE +
                " for a memif port (memif rings are at most 2^14, DPDK net_memif's limit)");
        }
        if (type == PortType.PCAP && valid.contains(READ) && valid.contains(WRITE) &&
            ((String)values.get(READ)).isEmpty() && ((String)values.get(WRITE)).isEmpty())
        {
            problems.add(shown(name, READ, values) + ": or " + WRITE.fullKey(name) +
                " must name a file for a pcap port");
        }
        if (type == PortType.EMBEDDED && valid.contains(RX_BUFFER_SIZING) &&
            values.get(RX_BUFFER_SIZING) == BufferSizing.EWMA && ConfigKey.RX_MODE.validIn(globals) &&
            ConfigKey.FEATURES_MRG_RXBUF.validIn(globals) && ConfigKey.FEATURES_GUEST_TSO.validIn(globals) &&
            ConfigKey.rxMode(globals) != RxMode.MERGEABLE)
        {
            problems.add(shown(name, RX_BUFFER_SIZING, values) + ": requires rx.mode=mergeable");
        }
        if (type == PortType.SHM && valid.contains(SLOT_SIZE) && ConfigKey.TRAFFIC_FRAME_SIZE.validIn(globals))
        {
            final int needed = (int)globals.get(ConfigKey.TRAFFIC_FRAME_SIZE) + NicConfig.SLOT_HEADER_BYTES;
            if ((int)values.get(SLOT_SIZE) < needed)
            {
                problems.add(shown(name, SLOT_SIZE, values) + ": must be at least traffic.frame_size + " +
                    NicConfig.SLOT_HEADER_BYTES + " = " + needed);
            }
        }
    }

    private static void betweenPorts(
        final SequencedMap<String, Map<PortKey, Object>> ports,
        final Map<String, Set<PortKey>> valid,
        final Map<ConfigKey, Object> globals,
        final List<String> problems)
    {
        final Map<String, String> socketOwners = new HashMap<>();
        final Map<String, String> interfaceOwners = new HashMap<>();
        final Map<String, String> memifIdOwners = new HashMap<>();
        boolean queuesKnown = true;
        int receiveQueues = 0;
        for (final Map.Entry<String, Map<PortKey, Object>> port : ports.entrySet())
        {
            final String name = port.getKey();
            final Map<PortKey, Object> values = port.getValue();
            final Set<PortKey> validKeys = valid.get(name);
            if (!validKeys.contains(TYPE))
            {
                queuesKnown = false;
                continue;
            }
            final PortType type = (PortType)values.get(TYPE);
            if (type.equals(PortType.VHOST_USER) || type.equals(PortType.MEMIF) || type.equals(PortType.SHM))
            {
                queuesKnown &= validKeys.contains(QUEUE_PAIRS);
                receiveQueues += validKeys.contains(QUEUE_PAIRS) ? (int)values.get(QUEUE_PAIRS) : 0;
            }
            else
            {
                receiveQueues++;
            }

            if (validKeys.contains(SOCKET))
            {
                final String socket = (String)values.get(SOCKET);
                final String owner = socketOwners.get(socket);
                final Map<PortKey, Object> ownerValues = owner == null ? null : ports.get(owner);
                if (owner == null)
                {
                    socketOwners.put(socket, name);
                }
                else if (type == PortType.VHOST_USER || ownerValues.get(TYPE) == PortType.VHOST_USER)
                {
                    problems.add(shown(name, SOCKET, values) + ": already the socket of port " + owner);
                }
                else if (validKeys.contains(ROLE) && valid.get(owner).contains(ROLE) &&
                    values.get(ROLE) != ownerValues.get(ROLE))
                {
                    problems.add(shown(name, ROLE, values) + ": port " + owner + " takes socket " +
                        ConfigKey.format(socket) + " as " + ((MemifRole)ownerValues.get(ROLE)).configName());
                }
                if (type == PortType.MEMIF && validKeys.contains(ID))
                {
                    final String socketAndId = socket + "\0" + values.get(ID);
                    final String idOwner = memifIdOwners.putIfAbsent(socketAndId, name);
                    if (idOwner != null)
                    {
                        problems.add(shown(name, ID, values) + ": port " + idOwner + " already uses id " +
                            values.get(ID) + " on socket " + ConfigKey.format(socket));
                    }
                }
            }
            if (validKeys.contains(INTERFACE))
            {
                final String owner = interfaceOwners.putIfAbsent((String)values.get(INTERFACE), name);
                if (owner != null)
                {
                    problems.add(shown(name, INTERFACE, values) + ": already the interface of port " + owner);
                }
            }
        }
        if (queuesKnown && ConfigKey.DATAPLANE_AGENTS.validIn(globals) &&
            (int)globals.get(ConfigKey.DATAPLANE_AGENTS) > receiveQueues)
        {
            problems.add(ConfigKey.DATAPLANE_AGENTS + "=" + globals.get(ConfigKey.DATAPLANE_AGENTS) +
                ": must be at most the receive queues of all ports = " + receiveQueues);
        }
    }

    private static String shown(final String name, final PortKey key, final Map<PortKey, Object> values)
    {
        return key.fullKey(name) + "=" + ConfigKey.format(values.get(key));
    }
}
