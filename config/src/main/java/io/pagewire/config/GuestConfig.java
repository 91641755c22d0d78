package io.pagewire.config;

import java.util.Objects;

/**
 * The virtio-net driver the device serves, table {@code [guest]}. {@code socket} and {@code mode} apply to
 * {@link GuestType#VHOST_USER}; the tuning keys from {@code napiBudget} on apply to the embedded guest model.
 *
 * @param type            {@code guest.type}: which driver.
 * @param socket          {@code guest.socket}: the vhost-user Unix socket path, non-empty and at most 107 bytes
 *                        (sun_path).
 * @param mode            {@code guest.mode}: whether pagewire listens on {@code socket} or connects to it.
 * @param queuePairs      {@code guest.queue_pairs}: queue pairs the device offers, each with its own NIC port, in
 *                        1..64; 1 with {@link GuestType#EMBEDDED}.
 * @param napiBudget      {@code guest.napi_budget}: packets the guest takes per poll (Linux NAPI weight), in
 *                        1..65536.
 * @param wakeupLatencyNs {@code guest.wakeup_latency_ns}: nanoseconds between used buffers appearing while the guest
 *                        is idle and its first poll (interrupt delivery and scheduling), in 0..1000000000.
 * @param refillBatch     {@code guest.refill_batch}: the guest re-posts RX buffers once this many are free, in
 *                        1..32768.
 * @param rxBufferSizing  {@code guest.rx.buffer_sizing}: how RX buffers are sized; {@link BufferSizing#EWMA} only with
 *                        {@code rx.mode=mergeable}.
 * @param tx              {@code guest.tx}: what the guest sends on its TX queue.
 */
public record GuestConfig(
    GuestType type,
    String socket,
    VhostUserMode mode,
    int queuePairs,
    int napiBudget,
    int wakeupLatencyNs,
    int refillBatch,
    BufferSizing rxBufferSizing,
    GuestTx tx)
{
    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public GuestConfig
    {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(rxBufferSizing, "rxBufferSizing");
        Objects.requireNonNull(tx, "tx");
    }

    /**
     * The components that predate vhost-user; {@code socket}, {@code mode} and {@code queuePairs} take their
     * registry defaults.
     */
    public GuestConfig(
        final GuestType type,
        final int napiBudget,
        final int wakeupLatencyNs,
        final int refillBatch,
        final BufferSizing rxBufferSizing,
        final GuestTx tx)
    {
        this(
            type,
            (String)ConfigKey.GUEST_SOCKET.defaultValue(),
            (VhostUserMode)ConfigKey.GUEST_MODE.defaultValue(),
            (Integer)ConfigKey.GUEST_QUEUE_PAIRS.defaultValue(),
            napiBudget,
            wakeupLatencyNs,
            refillBatch,
            rxBufferSizing,
            tx);
    }
}
