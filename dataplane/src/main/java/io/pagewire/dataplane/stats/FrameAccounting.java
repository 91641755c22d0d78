package io.pagewire.dataplane.stats;

/**
 * What a NIC port's counter says about the frames the dataplane handed to the port or took from it, so the run summary
 * can balance them ("frames taken from the guest = sent + dropped by cause") without knowing each port's counters by
 * name: a port declares the role of each of its counters ({@link CounterDescriptor#accounting()}), and a new drop
 * counter of any port enters the balance by declaring {@link #NIC_TX_DROP} or {@link #NIC_RX_DROP}.
 */
public enum FrameAccounting
{
    /** Not part of the balance (kicks, connects, offload statistics, errors that lose no frame). */
    NONE,
    /** Frames the dataplane handed to the port that the port passed on (to the kernel, to the peer). */
    NIC_TX_SENT,
    /** Frames the dataplane handed to the port that the port dropped, unsent: each such counter is one cause. */
    NIC_TX_DROP,
    /** A gauge: frames the dataplane handed to the port that the port still holds, neither sent nor dropped yet. */
    NIC_TX_IN_FLIGHT,
    /** Frames the port received and dropped itself, before or instead of handing them to the dataplane. */
    NIC_RX_DROP
}
