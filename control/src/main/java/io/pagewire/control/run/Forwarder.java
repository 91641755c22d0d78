package io.pagewire.control.run;

import io.pagewire.dataplane.stats.CountersFile;
import io.pagewire.dataplane.stats.RuntimeDirectory;

import java.util.Map;

/** A runnable forwarder as {@code pagewire run} drives it, whatever its guest. Control-thread object. */
public interface Forwarder extends AutoCloseable
{
    /** Starts the threads (and, for the embedded guest, negotiates). */
    void start();

    /** Control-thread housekeeping between status lines (dataplane events, the vhost-user socket); never blocks. */
    void poll();

    /**
     * Housekeeping that may wait up to {@code timeoutMs} for something to do (a request on the vhost-user socket);
     * by default {@link #poll()} then a sleep.
     */
    default void poll(final int timeoutMs)
    {
        poll();
        try
        {
            Thread.sleep(timeoutMs);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops traffic, lets what is in flight land, gives the queues back, stops the threads. */
    void stop();

    /** @return the first error a thread hit, or null. */
    Throwable failure();

    /** @return the run's numbers, after {@link #stop()}. */
    RunResult result();

    /** @return the counters file, for status lines. */
    CountersFile countersFile();

    /** @return the runtime directory. */
    RuntimeDirectory directory();

    /**
     * @param queuePair a queue pair index.
     * @return the size of that pair's RX virtqueue while the pair is attached (the frontend's choice for vhost-user,
     * which need not be {@code virtqueue.rx.size}), else 0: its ring occupancy counter then holds a stale value.
     * Control thread.
     */
    int rxRingSize(int queuePair);

    /** @return frames the traffic sources dropped at a full NIC ring so far. */
    long nicRingFullDrops();

    /** @return the busy-polling threads by role ({@code dataplane}, {@code peer}) and their Linux thread ids. */
    Map<String, Integer> busyThreads();

    /** @return the line printed when forwarding starts. */
    String startMessage();

    @Override
    void close();
}
