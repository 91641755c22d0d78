package io.pagewire.config;

import java.util.Objects;

/**
 * The virtio-net driver the device serves, table {@code [guest]}. The tuning keys apply to the embedded guest model.
 *
 * @param type            {@code guest.type}: which driver.
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
    GuestType type, int napiBudget, int wakeupLatencyNs, int refillBatch, BufferSizing rxBufferSizing, GuestTx tx)
{
    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public GuestConfig
    {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(rxBufferSizing, "rxBufferSizing");
        Objects.requireNonNull(tx, "tx");
    }
}
