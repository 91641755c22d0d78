package io.pagewire.dataplane.stats;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * An entry of one of pagewire's counter enums ({@link SystemCounter}, {@link QueueCounter} and the NIC ports'), like
 * Aeron's {@code SystemCounterDescriptor}: a stable {@link #id()}, used as the Agrona counter type id, and a label.
 * Each enum keeps its ids and labels next to its entries, where their rules are written (ids are part of the counters
 * file format read by other processes: never renumber or reuse one); this interface is the one place that allocates
 * an entry into the counters file with pagewire's {@link CounterKey}, and that finds an entry by its id.
 */
public interface CounterDescriptor
{
    /**
     * @return the stable id: the Agrona counter type id.
     */
    int id();

    /**
     * @return the label, as written in the counters file (for a per-queue entry, without what names the queue).
     */
    String label();

    /**
     * @return what this counter says about the frames a NIC port was handed or received, for the run summary's
     * balance; {@link FrameAccounting#NONE} (the default) for a counter that is not part of it.
     */
    default FrameAccounting accounting()
    {
        return FrameAccounting.NONE;
    }

    /**
     * Allocates this entry's counter for one queue pair, or for the process. Entries whose per-queue labels name the
     * queue override this ({@link QueueCounter}, {@code MemifCounter}).
     *
     * @param manager the counters file's manager.
     * @param queue   the queue pair written in the key, or {@link CounterKey#NO_QUEUE}.
     * @return the counter, labelled {@link #label()}, key {@code (queue, 0)}.
     */
    default AtomicCounter allocate(final CountersManager manager, final int queue)
    {
        return allocate(manager, label(), queue, 0);
    }

    /**
     * Allocates one counter of this entry, with type id {@link #id()} and the key {@code (queue, member)}.
     *
     * @param manager   the counters file's manager.
     * @param fullLabel the label written in the counters file.
     * @param queue     the queue pair, or {@link CounterKey#NO_QUEUE}.
     * @param member    the member number, 0 for a single counter (see {@link CounterKey}).
     * @return the counter.
     */
    default AtomicCounter allocate(
        final CountersManager manager, final String fullLabel, final int queue, final int member)
    {
        return manager.newCounter(fullLabel, id(), (key) -> CounterKey.write(key, queue, member));
    }

    /**
     * @param entries all entries of one enum ({@code values()}).
     * @param id      a type id read from a counters file.
     * @param <T>     the enum.
     * @return the entry with that id, or null if there is none (another enum's, or a newer version's).
     */
    static <T extends CounterDescriptor> T byId(final T[] entries, final int id)
    {
        for (final T entry : entries)
        {
            if (entry.id() == id)
            {
                return entry;
            }
        }
        return null;
    }
}
