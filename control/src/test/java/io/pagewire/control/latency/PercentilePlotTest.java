package io.pagewire.control.latency;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** The plot's axes: x is log10(1/(1-p)), y is log latency; a histogram's tail lands where it belongs. */
class PercentilePlotTest
{
    @Test
    void aStepAtTheNinetyNinthPercentileIsDrawnTwoDecadesRight()
    {
        final Histogram histogram = new Histogram(3);
        histogram.recordValueWithCount(1_000, 99_000);
        histogram.recordValueWithCount(1_000_000, 1_000);
        final String svg = new PercentilePlot("t").add("step", "red", false, histogram).svg();

        final Matcher path = Pattern.compile("<path d=\"([^\"]+)\"").matcher(svg);
        assertTrue(path.find(), svg);
        final String[] points = path.group(1).substring(1).split(" L");
        // Plot area: x from 80 to 670 over 6 decades; y on a log scale, so the 1 us points are the lowest on screen.
        final double[][] xy = new double[points.length][];
        double lowY = Double.MIN_VALUE;
        double highY = Double.MAX_VALUE;
        for (int i = 0; i < points.length; i++)
        {
            final String[] parts = points[i].trim().split(" ");
            xy[i] = new double[] {Double.parseDouble(parts[0]), Double.parseDouble(parts[1])};
            lowY = Math.max(lowY, xy[i][1]);
            highY = Math.min(highY, xy[i][1]);
        }
        double lastLowX = -1;
        double firstHighX = -1;
        for (final double[] point : xy)
        {
            if (point[1] == lowY)
            {
                lastLowX = point[0];
            }
            else if (point[1] == highY && firstHighX < 0)
            {
                firstHighX = point[0];
            }
        }
        assertTrue(lowY - highY > 100, "three decades apart on screen: " + lowY + " " + highY);
        final double decade = (900 - 80 - 230) / 6.0;
        assertTrue(lastLowX > 80 && lastLowX <= 80 + 2 * decade + 1, "1 us up to p99: " + lastLowX);
        assertTrue(firstHighX >= 80 + 2 * decade - 1, "1 ms from p99 on: " + firstHighX);
        assertTrue(svg.contains(">1 us<") && svg.contains(">1 ms<") && svg.contains(">99.9%<"), svg);
    }

    @Test
    void emptyHistogramsStillGiveAValidDocument()
    {
        final String svg = new PercentilePlot("empty").add("none", "blue", true, new Histogram(3)).svg();
        assertTrue(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"));
        assertFalse(svg.contains("<path "));
    }
}
