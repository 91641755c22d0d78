package io.pagewire.dataplane.engine;

import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.RingBuffer;

/**
 * Control's one way into a dataplane agent (Aeron's {@code SenderProxy} pattern): commands go onto a Disruptor ring
 * that the agent polls with an {@link EventPoller} inside its duty cycle; events come back on a second ring that the
 * agent publishes to with {@code tryPublishEvent} only. Nothing else crosses between the threads.
 * <p>
 * Command publication may wait for ring space (control can wait; the dataplane never does). Several control threads
 * may publish (the command ring is multi-producer); events are read by one control thread.
 */
public final class DataplaneProxy
{
    /** Commands in flight at most: control changes are rare. */
    public static final int COMMAND_RING_SIZE = 64;
    /** Events buffered for control: enough for every queue of every pair to report at once. */
    public static final int EVENT_RING_SIZE = 1024;

    private final RingBuffer<DataplaneCommand> commands =
        RingBuffer.createMultiProducer(DataplaneCommand::new, COMMAND_RING_SIZE);
    private final RingBuffer<DataplaneEvent> events =
        RingBuffer.createSingleProducer(DataplaneEvent::new, EVENT_RING_SIZE);
    private final EventPoller<DataplaneCommand> commandPoller = commands.newPoller();
    private final EventPoller<DataplaneEvent> eventPoller = events.newPoller();

    /** Creates both rings; each poller's sequence gates its ring's producer. */
    public DataplaneProxy()
    {
        commands.addGatingSequences(commandPoller.getSequence());
        events.addGatingSequences(eventPoller.getSequence());
    }

    /** Tells the agent to start serving a queue pair. */
    public void attach(final QueuePair queuePair)
    {
        commands.publishEvent((command, sequence, pair) -> command.set(DataplaneCommand.Type.ATTACH, pair,
            pair.index()), queuePair);
    }

    /** Tells the agent to stop serving a queue pair; a DETACHED event answers. */
    public void detach(final int pairIndex)
    {
        commands.publishEvent((command, sequence, index) -> command.set(DataplaneCommand.Type.DETACH, null, index),
            pairIndex);
    }

    /**
     * Hands control the events published so far, in order.
     *
     * @param handler called per event; return false to stop after this event.
     * @return true if events were processed.
     */
    public boolean pollEvents(final EventPoller.Handler<DataplaneEvent> handler)
    {
        try
        {
            return eventPoller.poll(handler) == EventPoller.PollState.PROCESSING;
        }
        catch (final Exception e)
        {
            throw new IllegalStateException("event handler failed", e);
        }
    }

    EventPoller<DataplaneCommand> commandPoller()
    {
        return commandPoller;
    }

    RingBuffer<DataplaneEvent> events()
    {
        return events;
    }
}
