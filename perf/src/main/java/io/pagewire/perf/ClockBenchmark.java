package io.pagewire.perf;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What one clock read costs on this machine, the reason the dataplane reads the clock once per 64 duty cycles
 * ({@code DataplaneAgent.CLOCK_SAMPLE_CYCLES}) rather than every cycle. On this project's VMs (clock source
 * kvm-clock) {@link System#nanoTime()} measured 30-80 ns on a quiet machine and 200-500 ns while the other core was
 * busy, against ~20 ns with a TSC clock source on bare metal; a busy duty cycle at 64-byte frames costs about as
 * much. {@code cat /sys/devices/system/clocksource/clocksource0/current_clocksource} tells which clock a machine has.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
public class ClockBenchmark
{
    /** @return {@link System#nanoTime()}: what a per-cycle clock read costs. */
    @Benchmark
    public long nanoTime()
    {
        return System.nanoTime();
    }

    /** @return {@link System#currentTimeMillis()}, for comparison (a coarser clock, the same path on kvm-clock). */
    @Benchmark
    public long currentTimeMillis()
    {
        return System.currentTimeMillis();
    }
}
