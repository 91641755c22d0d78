package io.pagewire.control.latency;

import org.HdrHistogram.Histogram;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The percentiles of a latency histogram, in nanoseconds: what the summary, the text report and {@code /metrics}
 * show. Immutable, so a snapshot taken on the control thread can be read by any thread.
 *
 * @param count  values recorded.
 * @param minNs  smallest value.
 * @param meanNs mean value.
 * @param p50Ns  median.
 * @param p90Ns  90th percentile.
 * @param p99Ns  99th percentile.
 * @param p999Ns 99.9th percentile.
 * @param p9999Ns 99.99th percentile.
 * @param maxNs  largest value.
 */
public record LatencySnapshot(
    long count, long minNs, double meanNs, long p50Ns, long p90Ns, long p99Ns, long p999Ns, long p9999Ns, long maxNs)
{
    /** Nothing recorded. */
    public static final LatencySnapshot EMPTY = new LatencySnapshot(0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** The percentiles reported, as fractions in (0, 1], in the order of {@link #percentileValuesNs()}. */
    public static final double[] QUANTILES = {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};

    /**
     * @param histogram values in nanoseconds.
     * @return its percentiles (each the highest value equivalent to the recorded one, as HdrHistogram reports them).
     */
    public static LatencySnapshot of(final Histogram histogram)
    {
        if (histogram.getTotalCount() == 0)
        {
            return EMPTY;
        }
        return new LatencySnapshot(histogram.getTotalCount(), histogram.getMinValue(), histogram.getMean(),
            histogram.getValueAtPercentile(50), histogram.getValueAtPercentile(90),
            histogram.getValueAtPercentile(99), histogram.getValueAtPercentile(99.9),
            histogram.getValueAtPercentile(99.99), histogram.getMaxValue());
    }

    /** @return p50, p90, p99, p99.9, p99.99 and max, in the order of {@link #QUANTILES}. */
    public long[] percentileValuesNs()
    {
        return new long[] {p50Ns, p90Ns, p99Ns, p999Ns, p9999Ns, maxNs};
    }

    /** @return the {@code latency} section of the summary JSON (values in ns). */
    public Map<String, Object> json()
    {
        final Map<String, Object> json = new LinkedHashMap<>();
        json.put("count", count);
        json.put("min_ns", minNs);
        json.put("mean_ns", meanNs);
        json.put("p50_ns", p50Ns);
        json.put("p90_ns", p90Ns);
        json.put("p99_ns", p99Ns);
        json.put("p99_9_ns", p999Ns);
        json.put("p99_99_ns", p9999Ns);
        json.put("max_ns", maxNs);
        return json;
    }

    /** @return one line of percentiles in microseconds, counting frames. */
    public String text()
    {
        return text("frames");
    }

    /**
     * @param what what a value is of ("frames", "bursts").
     * @return one line of percentiles in microseconds.
     */
    public String text(final String what)
    {
        return String.format(Locale.ROOT,
            "%,d %s; us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f",
            count, what, p50Ns / 1e3, p90Ns / 1e3, p99Ns / 1e3, p999Ns / 1e3, p9999Ns / 1e3, maxNs / 1e3);
    }
}
