package io.pagewire.control.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The option reader both bench subcommands parse with: the loop, each typed reader, and their messages. */
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
