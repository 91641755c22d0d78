/**
 * The bridge's decision logic: the forwarding database ({@link io.pagewire.dataplane.bridge.Fdb}: learning, aging,
 * per-port learn limits), frame classification ({@link io.pagewire.dataplane.bridge.EthernetFrame}), port VLAN
 * modes and port security ({@link io.pagewire.dataplane.bridge.PortPolicy}), the per-frame decision
 * ({@link io.pagewire.dataplane.bridge.Bridge}, {@link io.pagewire.dataplane.bridge.BridgeDecision}) and the VLAN
 * edit applied during the one copy ({@link io.pagewire.dataplane.bridge.VlanEdit}). The bridge decides; the ports
 * copy. Nothing here allocates per frame.
 */
package io.pagewire.dataplane.bridge;
