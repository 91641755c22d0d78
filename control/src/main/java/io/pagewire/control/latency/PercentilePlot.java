package io.pagewire.control.latency;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A latency-by-percentile plot as SVG, the way HdrHistogram's plotter draws one: the x axis is
 * {@code 1 / (1 - percentile)} on a log scale, so 90 %, 99 %, 99.9 %, ... are evenly spaced and the tail gets as
 * much room as the median; the y axis is latency on a log scale. One line per histogram.
 */
public final class PercentilePlot
{
    private static final int WIDTH = 900;
    private static final int HEIGHT = 560;
    private static final int LEFT = 80;
    private static final int RIGHT = 230;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    /** Rightmost x: 99.9999 %. */
    private static final double MAX_X_DECADES = 6;
    private static final String[] X_LABELS = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};

    private record Series(String name, String color, boolean dashed, double[] x, double[] yNs)
    {
    }

    private final String title;
    private final List<Series> series = new ArrayList<>();

    /**
     * @param title the plot's title.
     */
    public PercentilePlot(final String title)
    {
        this.title = title;
    }

    /**
     * Adds one line: the histogram's value at each percentile (HdrHistogram's percentile iteration, 5 steps per
     * halving of the distance to 100 %).
     *
     * @param name      the legend entry.
     * @param color     an SVG color.
     * @param dashed    whether the line is dashed.
     * @param histogram values in nanoseconds.
     * @return this.
     */
    public PercentilePlot add(final String name, final String color, final boolean dashed, final Histogram histogram)
    {
        final List<double[]> points = new ArrayList<>();
        if (histogram.getTotalCount() > 0)
        {
            for (final HistogramIterationValue value : histogram.percentiles(5))
            {
                final double percentile = value.getPercentileLevelIteratedTo() / 100.0;
                final double x = percentile >= 1.0 ? MAX_X_DECADES :
                    Math.min(MAX_X_DECADES, Math.log10(1.0 / (1.0 - percentile)));
                points.add(new double[] {x, Math.max(1, histogram.highestEquivalentValue(value.getValueIteratedTo()))});
                if (percentile >= 1.0 || x >= MAX_X_DECADES)
                {
                    break;
                }
            }
        }
        final double[] xs = new double[points.size()];
        final double[] ys = new double[points.size()];
        for (int i = 0; i < xs.length; i++)
        {
            xs[i] = points.get(i)[0];
            ys[i] = points.get(i)[1];
        }
        series.add(new Series(name, color, dashed, xs, ys));
        return this;
    }

    /** @return the SVG document. */
    public String svg()
    {
        double minNs = Double.MAX_VALUE;
        double maxNs = 0;
        for (final Series s : series)
        {
            for (final double y : s.yNs())
            {
                minNs = Math.min(minNs, y);
                maxNs = Math.max(maxNs, y);
            }
        }
        if (maxNs == 0)
        {
            minNs = 1_000;
            maxNs = 1_000_000;
        }
        final int lowDecade = (int)Math.floor(Math.log10(minNs));
        final int highDecade = Math.max(lowDecade + 1, (int)Math.ceil(Math.log10(maxNs)));
        final double plotWidth = WIDTH - LEFT - RIGHT;
        final double plotHeight = HEIGHT - TOP - BOTTOM;

        final StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " +
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"25\" font-size=\"15\">%s</text>%n", LEFT,
            escape(title)));
        for (int decade = 0; decade <= MAX_X_DECADES; decade++)
        {
            final double x = LEFT + plotWidth * decade / MAX_X_DECADES;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" " +
                "stroke=\"#ddd\"/>%n", x, TOP, x, HEIGHT - BOTTOM));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                x, HEIGHT - BOTTOM + 18, X_LABELS[decade]));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">percentile " +
            "(log scale of 1/(1-p))</text>%n", LEFT + plotWidth / 2, HEIGHT - 15));
        for (int decade = lowDecade; decade <= highDecade; decade++)
        {
            final double y = yOf(Math.pow(10, decade), lowDecade, highDecade, plotHeight);
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" " +
                "stroke=\"#ddd\"/>%n", LEFT, y, LEFT + plotWidth, y));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                LEFT - 6, y + 4, nanosLabel(decade)));
        }
        svg.append(String.format(Locale.ROOT, "<text transform=\"translate(18 %.1f) rotate(-90)\" " +
            "text-anchor=\"middle\">latency (log scale)</text>%n", TOP + plotHeight / 2));
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" " +
            "fill=\"none\" stroke=\"#888\"/>%n", LEFT, TOP, plotWidth, plotHeight));

        int legend = 0;
        for (final Series s : series)
        {
            final StringBuilder path = new StringBuilder();
            for (int i = 0; i < s.x().length; i++)
            {
                path.append(i == 0 ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f",
                    LEFT + plotWidth * s.x()[i] / MAX_X_DECADES, yOf(s.yNs()[i], lowDecade, highDecade, plotHeight)));
            }
            final String dash = s.dashed() ? " stroke-dasharray=\"6 4\"" : "";
            if (!path.isEmpty())
            {
                svg.append(String.format(Locale.ROOT, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" " +
                    "stroke-width=\"2\"%s/>%n", path, s.color(), dash));
            }
            final double ly = TOP + 10 + legend * 20;
            final double lx = WIDTH - RIGHT + 15;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" " +
                "stroke=\"%s\" stroke-width=\"2\"%s/>%n", lx, ly, lx + 30, ly, s.color(), dash));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\">%s</text>%n", lx + 36, ly + 4,
                escape(s.name())));
            legend++;
        }
        return svg.append("</svg>\n").toString();
    }

    private static double yOf(final double ns, final int lowDecade, final int highDecade, final double plotHeight)
    {
        final double fraction = (Math.log10(Math.max(ns, 1)) - lowDecade) / (highDecade - lowDecade);
        return TOP + plotHeight * (1 - fraction);
    }

    private static String nanosLabel(final int decade)
    {
        final String[] units = {"ns", "us", "ms", "s"};
        final int unit = Math.min(units.length - 1, Math.max(0, decade / 3));
        final long value = (long)Math.pow(10, decade - unit * 3);
        return value + " " + units[unit];
    }

    private static String escape(final String text)
    {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
