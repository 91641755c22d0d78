package io.pagewire.dataplane.port.pcap;

import io.pagewire.dataplane.stats.CounterDescriptor;

/**
 * The pcap port's counters, in the counters file next to the queue counters so {@code pagewire stat} shows them:
 * each has a stable {@link #id()} (the Agrona type id, in the pcap port's range 340..359) and a label. The key's
 * queue is the queue pair the port serves (always 0: a pcap port has one), member 0
 * ({@link CounterDescriptor#allocate(org.agrona.concurrent.status.CountersManager, int)}).
 * <p>
 * Ids are part of the counters file format: never renumber or reuse one; add new ones at the end.
 */
public enum PcapCounter implements CounterDescriptor
{
    /** Frames replayed from nic.pcap.read: released to the dataplane (delivered to the guest or dropped by it). */
    FRAMES_REPLAYED(340, "nic.pcap.frames_replayed"),
    /** Times the replay started again from the beginning of the file (nic.pcap.loop). */
    LOOPS(341, "nic.pcap.loops"),
    /** Frames written to nic.pcap.write (by the writer thread: in the file). */
    FRAMES_WRITTEN(342, "nic.pcap.frames_written"),
    /** Frames transmitted while the ring to the writer thread was full: not in the file. */
    WRITE_DROPS(343, "nic.pcap.write_drops"),
    /** Records of nic.pcap.read skipped because they cannot be a frame (caplen 0, or above the file's snaplen). */
    BAD_RECORDS(344, "nic.pcap.bad_records"),
    /** Frames handed to the writer thread but lost to an I/O error (disk full): not in the file. */
    WRITE_ERRORS(345, "nic.pcap.write_errors");

    private final int id;
    private final String label;

    PcapCounter(final int id, final String label)
    {
        this.id = id;
        this.label = label;
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String label()
    {
        return label;
    }
}
