package io.pagewire.dataplane.engine;

/** What the dataplane does with a frame when the guest has not posted enough receive buffers for it. */
public enum RxPolicy
{
    /** Leave the frame in the NIC ring and try again next cycle, as a NIC whose ring fills; the NIC may then drop. */
    WAIT,
    /** Drop the frame and count it ({@code no_buffers}): the NIC keeps draining at line rate. */
    DROP
}
