package io.pagewire.perf;

import io.pagewire.dataplane.memory.MemoryCopy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

/**
 * {@link MemoryCopy#copy}, the one copy every frame takes, from a cache-line aligned off-heap source that stays in
 * cache: the floor under the receive and transmit benchmarks at the same frame sizes.
 * <p>
 * {@code HOT}: always the same destination, so both sides are in L1/L2 (the copy's instruction cost).
 * {@code RING}: the destination moves on by a page-rounded frame length each time through 1 MiB, as the writes into
 * a 256-entry ring of 4096-byte guest buffers do in {@code MergeableRxBenchmark} (the copy plus its cache misses).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = JvmOptions.ARGFILE)
@State(Scope.Thread)
public class MemoryCopyBenchmark
{
    private static final long RING_BYTES = 1L << 20;
    private static final long PAGE = 4096;

    /** Bytes copied. */
    @Param({"64", "1514", "9000"})
    public int length;

    /** HOT: one destination; RING: destinations rotating through 1 MiB. */
    @Param({"HOT", "RING"})
    public String destination;

    private Arena arena;
    private long source;
    private long area;
    private long stride;
    private long limit;
    private long offset;

    @Setup(Level.Trial)
    public void setUp()
    {
        arena = Arena.ofShared();
        source = Frames.random(arena, length, length).address();
        final boolean ring = destination.equals("RING");
        stride = ring ? (length + PAGE - 1) / PAGE * PAGE : 0;
        limit = ring ? RING_BYTES / stride * stride : 1;
        area = arena.allocate(ring ? limit : length, PAGE).address();
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        arena.close();
    }

    /** Copies {@code length} bytes (the copy's effect is in off-heap memory, which the JIT cannot discard). */
    @Benchmark
    public void copy()
    {
        MemoryCopy.copy(source, area + offset, length);
        final long next = offset + stride;
        offset = next == limit ? 0 : next;
    }
}
