package io.pagewire.dataplane.engine;

import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.RingBuffer;
import io.pagewire.dataplane.guest.LatencyRecorder;
import io.pagewire.dataplane.os.Affinity;
import io.pagewire.dataplane.os.ThreadScheduling;
import io.pagewire.dataplane.stats.DutyCycleStallTracker;
import io.pagewire.dataplane.stats.SystemCounters;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.concurrent.Agent;

/**
 * The busy-polling dataplane: an Agrona {@link Agent} that owns a set of queue pairs and, every duty cycle, moves a
 * burst of frames NIC → guest and guest → NIC for each, applies at most one control command, and reports queue
 * breakage. {@link #doWork()} returns the work done so the runner's idle strategy can back off; tests call it
 * directly.
 * <p>
 * A busy-spinning agent reads the clock once every {@link #CLOCK_SAMPLE_CYCLES} cycles, not every cycle: on this
 * project's VMs (clock source kvm-clock) {@link System#nanoTime()} costs 30-80 ns on a quiet machine and up to 500 ns
 * under load ({@code ClockBenchmark} in perf/), as much as a whole busy cycle at small frames (found profiling
 * {@code bench pvp}). Its stalls are measured per window of {@link #CLOCK_SAMPLE_CYCLES} cycles: a window longer than
 * {@link #CYCLE_STALL_THRESHOLD_NS} counts as a stall, and the longest window is an upper bound of the longest cycle
 * (it holds at most 63 ordinary cycles more, microseconds against the 1 ms threshold). An agent whose idle strategy
 * parks reads the clock every cycle (window of 1): 64 parked cycles would add up to a false stall, and a thread that
 * parks can afford the read.
 * <p>
 * Nothing here blocks, allocates in steady state, or throws on guest input.
 * <p>
 * <b>Memory faults.</b> Guest memory is another process's file mapped here, and that process may shrink the file
 * (ftruncate) at any time: the next access beyond the new end is a SIGBUS. HotSpot (checked on JDK 25 for every kind
 * of access the dataplane makes: Unsafe get/put, volatile and release accesses, {@code copyMemory},
 * {@code setMemory}, {@code MemorySegment} get, interpreted, C1 and C2) turns a SIGBUS in an unsafe access into
 * {@code InternalError("a fault occurred in an unsafe memory access operation")}, but <em>asynchronously</em>: the
 * faulting instruction is skipped (a load returns garbage, a store is lost) and the error is thrown at the thread's
 * next safepoint poll, which may be a little later, in another queue pair's work, or only when {@link #doWork()}
 * returns. So the error is caught around the pairs' work here, and by {@link DataplaneRunner} around
 * {@code doWork()} itself, and both hand it to {@link #onMemoryFault(Throwable)}: the pairs whose memory no longer
 * backs its mapping are found (fstat of each region's kept descriptor) and broken with {@link QueueError#MEMORY_FAULT}
 * (or, when none is found, the pair that last touched memory), never polled again, and reported with the usual
 * QUEUE_BROKEN event; control then disconnects the frontend and unmaps only after the pair is detached. One thing is
 * not caught: {@code Unsafe.compareAndSetLong} run by the interpreter faults inside the VM and crashes it (JDK 25), so
 * the dataplane makes no compare-and-set on peer memory.
 */
public final class DataplaneAgent implements Agent
{
    /** A duty cycle longer than this is counted as a stall ({@code duty cycles over threshold}). */
    public static final long CYCLE_STALL_THRESHOLD_NS = 1_000_000;

    /** Duty cycles between two clock reads of a busy-spinning agent, a power of two. */
    public static final int CLOCK_SAMPLE_CYCLES = 64;

    /** Queue pairs one agent can serve. */
    public static final int MAX_QUEUE_PAIRS = 64;

    private final String name;
    private final EventPoller<DataplaneCommand> commands;
    private final RingBuffer<DataplaneEvent> events;
    private final EventPoller.Handler<DataplaneCommand> commandHandler = this::onCommand;
    private final QueuePair[] pairs = new QueuePair[MAX_QUEUE_PAIRS];
    private int pairCount;

    private long dutyCycles;
    private long busyCycles;
    private long commandsApplied;
    private long eventsDropped;
    private long maxCycleNs;
    private long lastCycleStartNs;
    private long threadId = -1;
    private volatile int nativeTid = -1;
    private final SystemCounters counters;
    private final DutyCycleStallTracker stallTracker;
    private final int cpu;
    private final int clockMask;
    private LatencyRecorder publishLatency;
    /** The pair whose guest memory the agent touched last: the one blamed for a fault no memory check explains. */
    private QueuePair faultCandidate;
    /** The pair {@link #onAttach} is enabling (reading its rings), else null. */
    private QueuePair attaching;
    private long memoryFaults;
    private long memoryFaultsUnattributed;

    /**
     * @param name  the agent's role name (the thread is named after it).
     * @param proxy    the rings shared with control.
     * @param counters where per-process counters are published, or null.
     * @param cpu      the CPU to pin the agent's thread to at start, or -1.
     */
    public DataplaneAgent(final String name, final DataplaneProxy proxy, final SystemCounters counters, final int cpu)
    {
        this(name, proxy, counters, cpu, 1);
    }

    /**
     * @param name              the agent's role name (the thread is named after it).
     * @param proxy             the rings shared with control.
     * @param counters          where per-process counters are published, or null.
     * @param cpu               the CPU to pin the agent's thread to at start, or -1.
     * @param clockSampleCycles duty cycles per clock read, a power of two: {@link #CLOCK_SAMPLE_CYCLES} when the
     *                          idle strategy busy-spins, 1 when it parks.
     */
    public DataplaneAgent(
        final String name, final DataplaneProxy proxy, final SystemCounters counters, final int cpu,
        final int clockSampleCycles)
    {
        if (clockSampleCycles < 1 || Integer.bitCount(clockSampleCycles) != 1)
        {
            throw new IllegalArgumentException("clockSampleCycles=" + clockSampleCycles + ": must be a power of two");
        }
        this.clockMask = clockSampleCycles - 1;
        this.name = name;
        this.counters = counters;
        this.stallTracker = counters == null ? null : counters.dutyCycleStallTracker(CYCLE_STALL_THRESHOLD_NS);
        this.cpu = cpu;
        this.commands = proxy.commandPoller();
        this.events = proxy.events();
    }

    @Override
    public void onStart()
    {
        threadId = Thread.currentThread().threadId();
        nativeTid = ThreadScheduling.currentTid();
        if (stallTracker != null)
        {
            stallTracker.update(System.nanoTime());
        }
        if (cpu >= 0)
        {
            Affinity.pinCurrentThread(cpu);
        }
    }

    @Override
    public int doWork() throws Exception
    {
        if ((++dutyCycles & clockMask) == 0)
        {
            trackClockWindow(System.nanoTime());
        }
        int work = 0;
        final QueuePair[] pairs = this.pairs;
        try
        {
            // Inside the try: attaching a pair reads its rings (QueuePair.enable), and that memory may be gone too.
            work += commands.poll(commandHandler) == EventPoller.PollState.PROCESSING ? 1 : 0;
            for (int i = 0, n = pairCount; i < n; i++)
            {
                final QueuePair pair = pairs[i];
                if (!pair.memoryFault())
                {
                    faultCandidate = pair;
                    work += pair.deliverToGuest();
                    work += pair.collectFromGuest();
                }
                reportBreakage(pair);
                pair.publishCounters();
            }
        }
        catch (final InternalError error)
        {
            // A SIGBUS in guest memory, delivered at a safepoint poll somewhere in this loop (see the class comment).
            onMemoryFault(error);
            work++;
        }
        if (work > 0)
        {
            busyCycles++;
        }
        publishCounters();
        return work;
    }

    private void publishCounters()
    {
        final SystemCounters counters = this.counters;
        if (counters != null)
        {
            counters.dutyCycles().setRelease(dutyCycles);
            counters.busyCycles().setRelease(busyCycles);
            counters.idleCycles().setRelease(dutyCycles - busyCycles);
            counters.commandsApplied().setRelease(commandsApplied);
            counters.eventsDropped().setRelease(eventsDropped);
            counters.memoryFaults().setRelease(memoryFaults);
            counters.memoryFaultsUnattributed().setRelease(memoryFaultsUnattributed);
        }
    }

    /**
     * @param error anything thrown on a dataplane thread.
     * @return whether it is HotSpot's report of a fault (SIGBUS) in an unsafe memory access, e.g. a peer's shrunk
     *         memory: {@code InternalError("a fault occurred in an unsafe memory access operation")} (older JDKs said
     *         "a fault occurred in a recent unsafe memory access operation in compiled Java code").
     */
    public static boolean isMemoryFault(final Throwable error)
    {
        final String message;
        return error instanceof InternalError && (message = error.getMessage()) != null &&
            message.startsWith("a fault occurred in ") && message.contains("unsafe memory access operation");
    }

    /**
     * Handles a memory fault on the agent's thread, wherever it surfaced (in {@link #doWork()} or, by way of
     * {@link DataplaneRunner}, after it returned): breaks with {@link QueueError#MEMORY_FAULT} every attached pair whose
     * guest memory no longer backs its mapping, or, when none is found, the pair that touched guest memory last.
     * Broken pairs are not polled again; their breakage is reported in the next duty cycle. Allocates (an fstat per
     * region): this is not the data path.
     *
     * @param error what was caught.
     * @throws Error {@code error} itself when it is not a memory fault ({@link #isMemoryFault(Throwable)}).
     */
    public void onMemoryFault(final Throwable error)
    {
        if (!isMemoryFault(error))
        {
            if (error instanceof Error e)
            {
                throw e;
            }
            throw new IllegalStateException(error);
        }
        memoryFaults++;
        boolean found = false;
        final QueuePair attaching = this.attaching;
        if (attaching != null && !attaching.memoryFault())
        {
            // The fault surfaced while a pair was being attached (its rings were read): that pair is the one to
            // break, never one already running. The poller hands the same ATTACH again next cycle (its sequence was
            // not advanced), and onAttach then adds the broken pair without touching its memory.
            attaching.markMemoryFault();
            found = true;
        }
        for (int i = 0; i < pairCount; i++)
        {
            final QueuePair pair = pairs[i];
            if (!pair.memoryFault() && pair.memoryLost())
            {
                pair.markMemoryFault();
                found = true;
            }
        }
        if (!found)
        {
            // Memory still there (hugetlbfs pages that could not be had, a hole in the file): blame the last toucher.
            memoryFaultsUnattributed++;
            final QueuePair candidate = faultCandidate;
            for (int i = 0; i < pairCount; i++)
            {
                if (pairs[i] == candidate)
                {
                    candidate.markMemoryFault();
                }
            }
        }
        publishCounters();
    }

    private void trackClockWindow(final long nowNs)
    {
        if (lastCycleStartNs != 0)
        {
            final long cycleNs = nowNs - lastCycleStartNs;
            if (cycleNs > maxCycleNs)
            {
                maxCycleNs = cycleNs;
            }
        }
        lastCycleStartNs = nowNs;
        if (stallTracker != null)
        {
            stallTracker.measureAndUpdate(nowNs);
        }
    }

    /** Applies one command; returning false makes the poller stop: at most one command per duty cycle. */
    private boolean onCommand(final DataplaneCommand command, final long sequence, final boolean endOfBatch)
    {
        if (command.type() == null)
        {
            // Applied and cleared already: a memory fault surfaced after clear() but before the poller moved on.
            return false;
        }
        switch (command.type())
        {
            case ATTACH -> onAttach(command.queuePair());
            case DETACH -> onDetach(command.pairIndex());
        }
        command.clear();
        commandsApplied++;
        return false;
    }

    /**
     * Makes every queue pair attached from now on sample its receive bursts' latency up to used-ring publication
     * (see {@link QueuePair}); set it before the agent starts. The agent's thread is the recorder's single writer.
     *
     * @param recorder where to record, or null for nothing.
     */
    public void publishLatency(final LatencyRecorder recorder)
    {
        publishLatency = recorder;
    }

    void onAttach(final QueuePair pair)
    {
        final int slot = find(pair.index());
        if (slot >= 0 && pairs[slot] == pair)
        {
            // The same ATTACH handed again: a memory fault surfaced after it was applied but before the poller
            // advanced past it. It is attached already.
            return;
        }
        if (pairCount == MAX_QUEUE_PAIRS || slot >= 0)
        {
            publish(DataplaneEvent.Type.DETACHED, pair, false, null);
            return;
        }
        attaching = pair;
        faultCandidate = pair; // an unattributed fault from here on is this pair's, not last cycle's
        if (!pair.memoryFault())
        {
            pair.enable();
        }
        pair.publishLatency(publishLatency);
        pairs[pairCount++] = pair;
        attaching = null;
        publish(DataplaneEvent.Type.ATTACHED, pair, false, null);
    }

    void onDetach(final int pairIndex)
    {
        final int slot = find(pairIndex);
        if (slot < 0)
        {
            return;
        }
        final QueuePair pair = pairs[slot];
        pair.disable();
        System.arraycopy(pairs, slot + 1, pairs, slot, pairCount - slot - 1);
        pairs[--pairCount] = null;
        if (faultCandidate == pair)
        {
            faultCandidate = null;
        }
        publish(DataplaneEvent.Type.DETACHED, pair, false, null);
    }

    private int find(final int pairIndex)
    {
        for (int i = 0; i < pairCount; i++)
        {
            if (pairs[i].index() == pairIndex)
            {
                return i;
            }
        }
        return -1;
    }

    private void reportBreakage(final QueuePair pair)
    {
        reportBreakage(pair, pair.rxQueue(), true);
        reportBreakage(pair, pair.txQueue(), false);
    }

    private void reportBreakage(final QueuePair pair, final DeviceVirtqueue queue, final boolean rx)
    {
        final QueueError error = queue.brokenReason();
        if (error != null && !pair.breakageReported(rx) && publish(DataplaneEvent.Type.QUEUE_BROKEN, pair, rx, error))
        {
            pair.markBreakageReported(rx);
        }
    }

    private boolean publish(
        final DataplaneEvent.Type type, final QueuePair pair, final boolean rx, final QueueError error)
    {
        final boolean published = events.tryPublishEvent(
            (event, sequence, t, p, e) -> event.set(t, p, rx, e), type, pair, error);
        if (!published)
        {
            eventsDropped++;
        }
        return published;
    }

    @Override
    public String roleName()
    {
        return name;
    }

    /** @return the number of queue pairs served. */
    public int queuePairCount()
    {
        return pairCount;
    }

    /** @return duty cycles run. */
    public long dutyCycles()
    {
        return dutyCycles;
    }

    /** @return duty cycles that did work. */
    public long busyCycles()
    {
        return busyCycles;
    }

    /** @return control commands applied. */
    public long commandsApplied()
    {
        return commandsApplied;
    }

    /** @return events that could not be published because control's ring was full. */
    public long eventsDropped()
    {
        return eventsDropped;
    }

    /** @return memory faults caught ({@link #onMemoryFault(Throwable)}). */
    public long memoryFaults()
    {
        return memoryFaults;
    }

    /** @return memory faults after which no pair's memory was found shrunk. */
    public long memoryFaultsUnattributed()
    {
        return memoryFaultsUnattributed;
    }

    /** @return the longest clock window (the duty cycles between two clock reads), in nanoseconds. */
    public long maxCycleNs()
    {
        return maxCycleNs;
    }

    /** @return the Linux thread id of the thread running this agent, or -1 before it started. */
    public int nativeTid()
    {
        return nativeTid;
    }

    /** @return the id of the thread running this agent, or -1 before it started. */
    public long threadId()
    {
        return threadId;
    }
}
