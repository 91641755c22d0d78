package io.pagewire.perf.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The option reader the bench subcommands parse with: the loop, each typed reader, and their messages. */
class BenchArgsTest
{
    /** @return the reader positioned on the one option {@code option value}. */
    private static BenchArgs on(final String option, final String value)
    {
        final BenchArgs args = new BenchArgs(new String[]{option, value});
        assertTrue(args.next());
        return args;
    }

    private static String message(final String option, final String value, final Function<BenchArgs, ?> read)
    {
        return assertThrows(IllegalArgumentException.class, () -> read.apply(on(option, value))).getMessage();
    }

    @Test
    void optionsComeInPairsInTheOrderGiven()
    {
        final BenchArgs args = new BenchArgs(new String[]{"--a", "1", "--b", "x,y", "--a", "2"});
        final List<String> seen = new ArrayList<>();
        while (args.next())
        {
            seen.add(args.option() + "=" + args.value());
        }
        assertEquals(List.of("--a=1", "--b=x,y", "--a=2"), seen);
        assertFalse(args.next());
        assertFalse(new BenchArgs(new String[0]).next());
    }

    @Test
    void anOptionWithoutItsValueIsNamed()
    {
        final BenchArgs args = new BenchArgs(new String[]{"--reps", "3", "--seconds"});
        assertTrue(args.next());
        assertEquals("--seconds: missing value",
            assertThrows(IllegalArgumentException.class, args::next).getMessage());
        assertEquals("unknown option --fast", on("--fast", "1").unknown().getMessage());
    }

    @Test
    void helpStandsAloneWhereverItIs()
    {
        final BenchArgs args = new BenchArgs(new String[]{"--reps", "3", "--help", "-h", "--out", "--help"});
        assertTrue(args.next());
        assertFalse(args.help());
        assertTrue(args.next());
        assertTrue(args.help());
        assertEquals("--help", args.option());
        assertEquals(null, args.value());
        assertTrue(args.next());
        assertTrue(args.help());
        assertEquals("-h", args.option());
        assertTrue(args.next());
        assertFalse(args.help(), "a value that spells --help is a value");
        assertEquals("--help", args.value());
        assertFalse(args.next());

        final BenchArgs alone = new BenchArgs(new String[]{"--help"});
        assertTrue(alone.next(), "no missing value");
        assertEquals("unknown option --help", alone.unknown().getMessage(), "for a command without help");
    }

    @Test
    void durationsNameTheirOption()
    {
        assertEquals(1_500_000_000L, on("--duration", "1500ms").duration());
        assertEquals(2_000_000_000L, on("--warmup", "2s").duration());
        assertEquals(120_000_000_000L, on("--probe", "2m").duration());
        assertEquals(1_500_000_000L, on("--probe", "1.5").duration());
        assertEquals("--warmup 0s: must be a positive duration such as 10s, 500ms or 2m",
            message("--warmup", "0s", BenchArgs::duration));
        assertEquals("--probe 5h: must be a positive duration such as 10s, 500ms or 2m",
            message("--probe", "5h", BenchArgs::duration));
    }

    @Test
    void percentagesNameTheFirstMemberOutOfRange()
    {
        assertEquals(List.of(1, 50, 100), on("--loads", "1, 50,100").percentages("load"));
        assertEquals("--loads 0: each load must be a percentage in 1..100",
            message("--loads", "20,0,101", a -> a.percentages("load")));
        assertEquals("--loads 101: each load must be a percentage in 1..100",
            message("--loads", "101", a -> a.percentages("load")));
        assertEquals("--loads x: each load must be a percentage in 1..100",
            message("--loads", "x", a -> a.percentages("load")));
        assertEquals("--loads : each load must be a percentage in 1..100",
            message("--loads", ",50", a -> a.percentages("load")));
    }

    @Test
    void integersAreBoundedInclusivelyAndTrimmed()
    {
        assertEquals(1, on("--reps", "1").integer(1, 100));
        assertEquals(100, on("--reps", " 100 ").integer(1, 100));
        assertEquals("--reps 0: must be a number in 1..100", message("--reps", "0", a -> a.integer(1, 100)));
        assertEquals("--reps 101: must be a number in 1..100", message("--reps", "101", a -> a.integer(1, 100)));
        assertEquals("--reps x: must be a number in 1..100", message("--reps", "x", a -> a.integer(1, 100)));
        assertEquals("--reps 1,2: must be a number in 1..100", message("--reps", "1,2", a -> a.integer(1, 100)));
    }

    @Test
    void integerListsCheckEveryMember()
    {
        assertEquals(List.of(60, 1500, 9000), on("--sizes", "60, 1500,9000").ints(60, 9000));
        assertEquals("--sizes 64,x: must be numbers in 60..9000", message("--sizes", "64,x", a -> a.ints(60, 9000)));
        assertEquals("--sizes 59,64: must be numbers in 60..9000", message("--sizes", "59,64", a -> a.ints(60, 9000)));
        assertEquals("--sizes ,64: must be numbers in 60..9000", message("--sizes", ",64", a -> a.ints(60, 9000)));
    }

    @Test
    void onOffOrBothIsTheMatrixToRun()
    {
        assertEquals(List.of(true), on("--mrg", "on").onOff());
        assertEquals(List.of(false), on("--mrg", "off").onOff());
        assertEquals(List.of(true, false), on("--mrg", "both").onOff());
        assertEquals("--tso ON: must be on, off or both", message("--tso", "ON", BenchArgs::onOff));
    }

    @Test
    void aFlagIsOnOrOff()
    {
        assertEquals(true, on("--pin-guest", "on").flag());
        assertEquals(false, on("--pin-guest", "off").flag());
        assertEquals("--pin-guest both: must be on or off", message("--pin-guest", "both", BenchArgs::flag));
    }

    @Test
    void namesKeepTheirOrderAndMustBeKnown()
    {
        assertEquals(List.of("dpdk", "pagewire"), on("--backends", "dpdk,pagewire").names("pagewire", "dpdk"));
        assertEquals("--backends pagewire,vpp: each must be pagewire or dpdk",
            message("--backends", "pagewire,vpp", a -> a.names("pagewire", "dpdk")));
    }
}
