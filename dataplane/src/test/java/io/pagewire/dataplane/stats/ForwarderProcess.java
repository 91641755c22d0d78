package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.virtio.QueueError;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in forwarder in another JVM, for tests that read counters across processes as {@code pagewire stat} does.
 * {@link #main} creates its runtime directory under a base, allocates the system counters and queue pair 0, writes
 * the {@code EXPECTED_*} values, prints {@value #READY} and waits for its standard input to close; then it closes and
 * deletes everything, as a clean shutdown does.
 */
public final class ForwarderProcess implements AutoCloseable
{
    /** Printed by the child once its counters are written. */
    public static final String READY = "ready";
    /** {@code q0 rx packets} of the child. */
    public static final long EXPECTED_RX_PACKETS = 1234;
    /** {@code q0 rx bytes} of the child. */
    public static final long EXPECTED_RX_BYTES = 1_851_000;
    /** {@code q0 rx buffers per packet 3} of the child (the only non-zero bucket besides 65+). */
    public static final long EXPECTED_BUCKET_3 = 1200;
    /** {@code q0 rx buffers per packet 65+} of the child. */
    public static final long EXPECTED_BUCKET_65_PLUS = 34;
    /** {@code q0 queue error chain_too_long} of the child. */
    public static final long EXPECTED_CHAIN_TOO_LONG = 1;
    /** {@code duty cycles} of the child. */
    public static final long EXPECTED_DUTY_CYCLES = 99;

    private final Process process;
    private final Path base;

    private ForwarderProcess(final Process process, final Path base)
    {
        this.process = process;
        this.base = base;
    }

    /**
     * Starts the child and waits until its counters are written.
     *
     * @param base the runtime base directory the child creates its directory in.
     * @return the running child.
     */
    public static ForwarderProcess start(final Path base) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (final String argument : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (argument.startsWith("--"))
            {
                command.add(argument); // the flags of bin/jvm.options, as the launcher passes them
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ForwarderProcess.class.getName());
        command.add(base.toString());
        final Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        final ForwarderProcess child = new ForwarderProcess(process, base);
        final BufferedReader reader =
            new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        final String line = reader.readLine();
        if (!READY.equals(line))
        {
            child.close();
            throw new IllegalStateException("child forwarder did not start: printed " + line);
        }
        return child;
    }

    /**
     * @return the child's pid.
     */
    public long pid()
    {
        return process.pid();
    }

    /**
     * @return the child's runtime directory.
     */
    public RuntimeDirectory directory()
    {
        return RuntimeDirectory.of(base, process.pid());
    }

    /**
     * Asks the child to shut down cleanly and waits for it.
     *
     * @return its exit status.
     */
    public int stop() throws IOException, InterruptedException
    {
        process.getOutputStream().close();
        if (!process.waitFor(30, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            throw new IllegalStateException("child forwarder " + process.pid() + " did not stop");
        }
        return process.exitValue();
    }

    /**
     * Kills the child if it still runs.
     */
    @Override
    public void close()
    {
        if (process.isAlive())
        {
            process.destroyForcibly();
            try
            {
                process.waitFor(30, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The child.
     *
     * @param args the runtime base directory.
     */
    public static void main(final String[] args) throws IOException
    {
        final RuntimeDirectory directory = RuntimeDirectory.create(Path.of(args[0]));
        final CountersFile file =
            CountersFile.create(directory.countersFile(), SystemCounters.COUNT + QueueCounters.COUNTERS_PER_QUEUE_PAIR);
        final SystemCounters system = new SystemCounters(file.manager());
        final QueueCounters queue = new QueueCounters(file.manager(), 0);
        system.dutyCycles().getAndAddRelease(EXPECTED_DUTY_CYCLES);
        queue.rxPackets().getAndAddRelease(EXPECTED_RX_PACKETS);
        queue.rxBytes().getAndAddRelease(EXPECTED_RX_BYTES);
        queue.rxBuffersPerPacket(3).getAndAddRelease(EXPECTED_BUCKET_3);
        queue.rxBuffersPerPacket(300).getAndAddRelease(EXPECTED_BUCKET_65_PLUS);
        queue.queueErrors(QueueError.CHAIN_TOO_LONG).getAndAddRelease(EXPECTED_CHAIN_TOO_LONG);
        System.out.println(READY);
        System.out.flush();

        while (System.in.read() >= 0)
        {
            continue;
        }
        file.closeAndDelete();
        directory.delete();
    }
}
