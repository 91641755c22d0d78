package io.pagewire.dataplane.stats;

/**
 * The forwarder's process-wide counters, like Aeron's {@code SystemCounterDescriptor}: each has a stable
 * {@link #id()}, used as the Agrona counter type id, and a label. Their key's queue is {@link CounterKey#NO_QUEUE}.
 * <p>
 * Ids are part of the counters file format read by other processes: never renumber or reuse one; add new ones at the
 * end. System counter ids are 1..99 ({@link QueueCounter} ids are 100 and up; 0 is Agrona's default type).
 */
public enum SystemCounter implements CounterDescriptor
{
    /** Dataplane duty cycles ({@code doWork()} calls). */
    DUTY_CYCLES(1, "duty cycles"),
    /** Duty cycles that did work (returned a work count above 0). */
    BUSY_CYCLES(2, "busy cycles"),
    /** Duty cycles that found nothing to do. */
    IDLE_CYCLES(3, "idle cycles"),
    /**
     * Longest clock window in ns: the time between two clock reads of the dataplane (every duty cycle, or every 64 when
     * it busy-spins), an upper bound of the longest duty cycle (see {@link DutyCycleStallTracker}).
     */
    MAX_CYCLE_TIME_NS(4, "max duty cycle time ns"),
    /** Clock windows longer than the stall threshold: stalls of the dataplane (see {@link DutyCycleStallTracker}). */
    CYCLE_TIME_THRESHOLD_EXCEEDED(5, "duty cycles over threshold"),
    /** Commands from control the dataplane applied. */
    COMMANDS_APPLIED(6, "commands applied"),
    /** Events the dataplane could not publish to control because the ring was full. */
    EVENTS_DROPPED(7, "events dropped"),
    /**
     * Writes (or reads) of a peer's eventfd that slept and were interrupted by {@code PeerWriteWatchdog}'s signal:
     * one per signal sent (a write that stays blocked gets one per scan period). Copied from the watchdog's total by
     * the control thread.
     */
    PEER_WRITES_INTERRUPTED(10, "peer fd writes interrupted"),
    /**
     * Log lines of the control thread's peers (vhost-user) suppressed by the rate limit ({@link LogLimiter}); written
     * by the control thread.
     */
    CONTROL_LOG_LINES_SUPPRESSED(12, "control log lines suppressed"),
    /**
     * vhost-user frontends disconnected because they stopped mid-message for longer than the message timeout;
     * written by the control thread.
     */
    VHOST_USER_MESSAGE_TIMEOUTS(13, "vhost-user message timeouts"),
    /**
     * vhost-user frontends disconnected because a reply could not be written at once (their socket buffer full: they
     * do not read); written by the control thread.
     */
    VHOST_USER_REPLIES_UNWRITABLE(14, "vhost-user replies unwritable"),
    /**
     * Failed connect attempts to the frontend in vhost-user client mode (no socket, nobody listening, or its listen
     * backlog full), each followed by a backoff; written by the control thread.
     */
    VHOST_USER_CONNECT_FAILURES(15, "vhost-user connect failures"),
    /**
     * Faults (SIGBUS, reported by the JVM as an InternalError) caught while the dataplane touched peer memory: each
     * broke the queue pairs whose memory was found shrunk (queue error memory_fault).
     */
    MEMORY_FAULTS(8, "memory faults"),
    /**
     * Memory faults after which no queue pair's memory was found shrunk (e.g. hugetlbfs pages that could not be had):
     * the pair being processed, if any, was broken instead.
     */
    MEMORY_FAULTS_UNATTRIBUTED(9, "memory faults unattributed");

    private static final SystemCounter[] VALUES = values();

    private final int id;
    private final String label;

    SystemCounter(final int id, final String label)
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

    /**
     * @param id a type id read from a counters file.
     * @return the entry with that id, or null if it is not a system counter.
     */
    public static SystemCounter get(final int id)
    {
        return CounterDescriptor.byId(VALUES, id);
    }
}
