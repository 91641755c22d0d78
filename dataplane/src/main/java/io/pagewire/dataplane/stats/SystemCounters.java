package io.pagewire.dataplane.stats;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * The process-wide {@link SystemCounter}s, allocated from a {@link CountersManager} and held as fields. Each has one
 * writer: the dataplane thread's, once per duty cycle, with {@link AtomicCounter#getAndAddRelease}; the control
 * thread's ({@code CONTROL_LOG_LINES_SUPPRESSED}, {@code VHOST_USER_*}), as things happen; the peer-write
 * watchdog's ({@code PEER_WRITES_INTERRUPTED});
 * {@link #dutyCycleStallTracker(long)} keeps the two duty-cycle time counters.
 */
public final class SystemCounters implements AutoCloseable
{
    /** How many counters this class allocates. */
    public static final int COUNT = SystemCounter.values().length;

    private final AtomicCounter[] all = new AtomicCounter[COUNT];
    private int allocated;

    private final AtomicCounter dutyCycles;
    private final AtomicCounter busyCycles;
    private final AtomicCounter idleCycles;
    private final AtomicCounter maxCycleTimeNs;
    private final AtomicCounter cycleTimeThresholdExceeded;
    private final AtomicCounter commandsApplied;
    private final AtomicCounter eventsDropped;
    private final AtomicCounter peerWritesInterrupted;
    private final AtomicCounter controlLogLinesSuppressed;
    private final AtomicCounter vhostUserMessageTimeouts;
    private final AtomicCounter vhostUserRepliesUnwritable;
    private final AtomicCounter vhostUserConnectFailures;
    private final AtomicCounter memoryFaults;
    private final AtomicCounter memoryFaultsUnattributed;

    /**
     * Allocates every {@link SystemCounter}, in the enum's order, each with type id {@link SystemCounter#id()}, key
     * queue {@link CounterKey#NO_QUEUE} and member 0, and label {@link SystemCounter#label()}.
     *
     * @param manager allocates the counters.
     * @throws IllegalStateException if the manager has fewer than {@link #COUNT} free counters (nothing stays
     *                               allocated then).
     */
    public SystemCounters(final CountersManager manager)
    {
        if (manager.available() < COUNT)
        {
            throw new IllegalStateException("counters full: the system counters need " + COUNT + " counters, " +
                manager.available() + " of " + manager.capacity() + " are free");
        }
        try
        {
            dutyCycles = allocate(manager, SystemCounter.DUTY_CYCLES);
            busyCycles = allocate(manager, SystemCounter.BUSY_CYCLES);
            idleCycles = allocate(manager, SystemCounter.IDLE_CYCLES);
            maxCycleTimeNs = allocate(manager, SystemCounter.MAX_CYCLE_TIME_NS);
            cycleTimeThresholdExceeded = allocate(manager, SystemCounter.CYCLE_TIME_THRESHOLD_EXCEEDED);
            commandsApplied = allocate(manager, SystemCounter.COMMANDS_APPLIED);
            eventsDropped = allocate(manager, SystemCounter.EVENTS_DROPPED);
            peerWritesInterrupted = allocate(manager, SystemCounter.PEER_WRITES_INTERRUPTED);
            controlLogLinesSuppressed = allocate(manager, SystemCounter.CONTROL_LOG_LINES_SUPPRESSED);
            vhostUserMessageTimeouts = allocate(manager, SystemCounter.VHOST_USER_MESSAGE_TIMEOUTS);
            vhostUserRepliesUnwritable = allocate(manager, SystemCounter.VHOST_USER_REPLIES_UNWRITABLE);
            vhostUserConnectFailures = allocate(manager, SystemCounter.VHOST_USER_CONNECT_FAILURES);
            memoryFaults = allocate(manager, SystemCounter.MEMORY_FAULTS);
            memoryFaultsUnattributed = allocate(manager, SystemCounter.MEMORY_FAULTS_UNATTRIBUTED);
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
    }

    private AtomicCounter allocate(final CountersManager manager, final SystemCounter counter)
    {
        final AtomicCounter atomicCounter = counter.allocate(manager, CounterKey.NO_QUEUE);
        all[allocated++] = atomicCounter;
        return atomicCounter;
    }

    /**
     * @param counter any system counter.
     * @return its counter.
     */
    public AtomicCounter get(final SystemCounter counter)
    {
        return switch (counter)
        {
            case DUTY_CYCLES -> dutyCycles;
            case BUSY_CYCLES -> busyCycles;
            case IDLE_CYCLES -> idleCycles;
            case MAX_CYCLE_TIME_NS -> maxCycleTimeNs;
            case CYCLE_TIME_THRESHOLD_EXCEEDED -> cycleTimeThresholdExceeded;
            case COMMANDS_APPLIED -> commandsApplied;
            case EVENTS_DROPPED -> eventsDropped;
            case PEER_WRITES_INTERRUPTED -> peerWritesInterrupted;
            case CONTROL_LOG_LINES_SUPPRESSED -> controlLogLinesSuppressed;
            case VHOST_USER_MESSAGE_TIMEOUTS -> vhostUserMessageTimeouts;
            case VHOST_USER_REPLIES_UNWRITABLE -> vhostUserRepliesUnwritable;
            case VHOST_USER_CONNECT_FAILURES -> vhostUserConnectFailures;
            case MEMORY_FAULTS -> memoryFaults;
            case MEMORY_FAULTS_UNATTRIBUTED -> memoryFaultsUnattributed;
        };
    }

    /**
     * @return {@link SystemCounter#DUTY_CYCLES}.
     */
    public AtomicCounter dutyCycles()
    {
        return dutyCycles;
    }

    /**
     * @return {@link SystemCounter#BUSY_CYCLES}.
     */
    public AtomicCounter busyCycles()
    {
        return busyCycles;
    }

    /**
     * @return {@link SystemCounter#IDLE_CYCLES}.
     */
    public AtomicCounter idleCycles()
    {
        return idleCycles;
    }

    /**
     * @return {@link SystemCounter#MAX_CYCLE_TIME_NS}.
     */
    public AtomicCounter maxCycleTimeNs()
    {
        return maxCycleTimeNs;
    }

    /**
     * @return {@link SystemCounter#CYCLE_TIME_THRESHOLD_EXCEEDED}.
     */
    public AtomicCounter cycleTimeThresholdExceeded()
    {
        return cycleTimeThresholdExceeded;
    }

    /**
     * @return {@link SystemCounter#COMMANDS_APPLIED}.
     */
    public AtomicCounter commandsApplied()
    {
        return commandsApplied;
    }

    /**
     * @return {@link SystemCounter#PEER_WRITES_INTERRUPTED}: the control thread, its single writer, copies
     *         {@code PeerWriteWatchdog.interrupts()} into it.
     */
    public AtomicCounter peerWritesInterrupted()
    {
        return peerWritesInterrupted;
    }

    /**
     * @return {@link SystemCounter#EVENTS_DROPPED}.
     */
    public AtomicCounter eventsDropped()
    {
        return eventsDropped;
    }

    /**
     * @return {@link SystemCounter#MEMORY_FAULTS}.
     */
    public AtomicCounter memoryFaults()
    {
        return memoryFaults;
    }

    /**
     * @return {@link SystemCounter#MEMORY_FAULTS_UNATTRIBUTED}.
     */
    public AtomicCounter memoryFaultsUnattributed()
    {
        return memoryFaultsUnattributed;
    }

    /**
     * @param cycleTimeThresholdNs a cycle longer than this counts as a stall, e.g. 1 ms.
     * @return a tracker writing {@link #maxCycleTimeNs()} and {@link #cycleTimeThresholdExceeded()}.
     */
    public DutyCycleStallTracker dutyCycleStallTracker(final long cycleTimeThresholdNs)
    {
        return new DutyCycleStallTracker(maxCycleTimeNs, cycleTimeThresholdExceeded, cycleTimeThresholdNs);
    }

    /**
     * Frees the counters. Idempotent. Not needed at shutdown, when the whole file goes; never after the
     * {@link CountersFile} is closed.
     */
    @Override
    public void close()
    {
        for (int i = 0; i < allocated; i++)
        {
            if (!all[i].isClosed())
            {
                all[i].close();
            }
        }
    }
}
