package io.pagewire.dataplane.engine;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.IdleStrategy;

/**
 * Runs a {@link DataplaneAgent} on its own thread, as Agrona's {@code AgentRunner} does, with one difference: a memory
 * fault that surfaces after {@link DataplaneAgent#doWork()} returned is handed back to the agent
 * ({@link DataplaneAgent#onMemoryFault(Throwable)}) instead of ending the thread. {@code AgentRunner} (Agrona 2.6)
 * passes an {@link Error} to its error handler and then rethrows it, which ends the agent's thread.
 * <p>
 * HotSpot reports a SIGBUS in guest memory as an asynchronous {@code InternalError}, thrown at the next safepoint
 * poll; when that poll is {@code doWork()}'s own return, the error appears at the call site here, or at the back
 * edge of the loop that calls it. Both lie inside the {@code try} of the loop below (the inner loop's back edge is
 * inside the block), so no such error escapes the thread. Other exceptions go to the error handler and the agent
 * runs on; other errors go to the error handler and end the thread, as with {@code AgentRunner}.
 */
public final class DataplaneRunner implements Runnable, AutoCloseable
{
    private static final long CLOSE_WAIT_MS = 1000;
    private static final long CLOSE_GIVE_UP_NS = 10_000_000_000L;

    private final IdleStrategy idleStrategy;
    private final ErrorHandler errorHandler;
    private final DataplaneAgent agent;
    private volatile boolean running = true;
    private volatile boolean closed;
    private Thread thread;

    /**
     * @param idleStrategy what to do after each duty cycle, given its work count.
     * @param errorHandler told of every throwable other than a memory fault, on the agent's thread.
     * @param agent        the agent.
     */
    public DataplaneRunner(final IdleStrategy idleStrategy, final ErrorHandler errorHandler,
        final DataplaneAgent agent)
    {
        this.idleStrategy = idleStrategy;
        this.errorHandler = errorHandler;
        this.agent = agent;
    }

    /**
     * Starts a runner on a new platform thread named after the agent's role.
     *
     * @return the runner, running.
     */
    public static DataplaneRunner start(
        final IdleStrategy idleStrategy, final ErrorHandler errorHandler, final DataplaneAgent agent)
    {
        final DataplaneRunner runner = new DataplaneRunner(idleStrategy, errorHandler, agent);
        runner.thread = Thread.ofPlatform().name(agent.roleName()).unstarted(runner);
        runner.thread.start();
        return runner;
    }

    @Override
    public void run()
    {
        try
        {
            agent.onStart();
        }
        catch (final Throwable t)
        {
            errorHandler.onError(t);
            running = false;
        }
        while (running)
        {
            try
            {
                while (running)
                {
                    idleStrategy.idle(agent.doWork());
                }
            }
            catch (final Throwable t)
            {
                if (DataplaneAgent.isMemoryFault(t))
                {
                    agent.onMemoryFault(t);
                }
                else
                {
                    errorHandler.onError(t);
                    if (t instanceof Error)
                    {
                        running = false;
                    }
                }
            }
        }
        try
        {
            agent.onClose();
        }
        catch (final Throwable t)
        {
            errorHandler.onError(t);
        }
    }

    /** @return the agent. */
    public DataplaneAgent agent()
    {
        return agent;
    }

    /** @return whether the thread is still running the agent. */
    public boolean isRunning()
    {
        final Thread thread = this.thread;
        return thread != null && thread.isAlive();
    }

    /**
     * Stops the agent and waits for its thread to end (interrupting it while it does not, as {@code AgentRunner}
     * does: an idle strategy may be parked). Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        running = false;
        final Thread thread = this.thread;
        if (thread == null || thread == Thread.currentThread())
        {
            return;
        }
        boolean interrupted = false;
        final long deadlineNs = System.nanoTime() + CLOSE_GIVE_UP_NS;
        while (thread.isAlive())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                // A thread stuck for good (a page fault that never ends, say) must not keep the process from
                // stopping: leave it; stopped() says so, and the owner keeps what it may touch mapped.
                System.err.println("pagewire: dataplane thread " + thread.getName() + " did not stop within " +
                    CLOSE_GIVE_UP_NS / 1_000_000_000L + " s; leaving it");
                break;
            }
            try
            {
                thread.join(CLOSE_WAIT_MS);
                if (thread.isAlive())
                {
                    thread.interrupt();
                }
            }
            catch (final InterruptedException e)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** @return whether the agent's thread has ended (or never started); false after {@link #close()} gave up. */
    public boolean stopped()
    {
        final Thread thread = this.thread;
        return thread == null || !thread.isAlive();
    }
}
