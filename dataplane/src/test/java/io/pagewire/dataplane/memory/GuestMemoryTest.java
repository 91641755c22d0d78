package io.pagewire.dataplane.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.pagewire.dataplane.memory.GuestMemory.NOT_MAPPED;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Translation and region-table validation of {@link GuestMemory}. Translation never dereferences, so host addresses
 * here are arbitrary non-zero numbers, chosen to differ from guest and user addresses.
 */
class GuestMemoryTest
{
    private static final long PAGE = 0x1000;
    /** 0xFFFF_FFFF_FFFF_F000: a page-sized region here ends exactly at 2^64. */
    private static final long TOP = -PAGE;

    // Regions A and B are adjacent in guest-physical space but far apart on the host.
    private static final long A_GUEST = 0x1_0000_0000L;
    private static final long A_SIZE = 0x10_0000;
    private static final long A_USER = 0x7f00_0000_0000L;
    private static final long A_HOST = 0x5555_0000_0000L;
    private static final long B_GUEST = A_GUEST + A_SIZE;
    private static final long B_SIZE = 0x2000;
    private static final long B_USER = 0x7f10_0000_0000L;
    private static final long B_HOST = 0x6666_0000_0000L;

    private final GuestMemory memory = new GuestMemory();

    private static String hex(final long value)
    {
        return "0x" + Long.toHexString(value);
    }

    private void addRegionA()
    {
        memory.addRegion(A_GUEST, A_SIZE, A_USER, A_HOST);
    }

    private void addRegionsAAndB()
    {
        addRegionA();
        memory.addRegion(B_GUEST, B_SIZE, B_USER, B_HOST);
    }

    private IllegalArgumentException rejected(final long guest, final long size, final long user, final long host)
    {
        final int before = memory.regionCount();
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> memory.addRegion(guest, size, user, host));
        assertEquals(before, memory.regionCount(), "a rejected region is not added");
        return e;
    }

    private static void assertMentions(final String message, final String... parts)
    {
        for (final String part : parts)
        {
            assertTrue(message.contains(part), "message '" + message + "' should mention '" + part + "'");
        }
    }

    // ---- translate ------------------------------------------------------------------------------------------------

    @Test
    void regionStartsAndLastBytesMapToTheirHostAddresses()
    {
        addRegionsAAndB();
        assertEquals(A_HOST, memory.translate(A_GUEST, 1));
        assertEquals(A_HOST + A_SIZE - 1, memory.translate(A_GUEST + A_SIZE - 1, 1));
        assertEquals(B_HOST, memory.translate(B_GUEST, 1));
        assertEquals(B_HOST + B_SIZE - 1, memory.translate(B_GUEST + B_SIZE - 1, 1));
        assertEquals(A_HOST + 0x1234, memory.translate(A_GUEST + 0x1234, 16));
    }

    @Test
    void wholeRegionIsOneRange()
    {
        addRegionsAAndB();
        assertEquals(A_HOST, memory.translate(A_GUEST, A_SIZE));
        assertEquals(B_HOST, memory.translate(B_GUEST, B_SIZE));
    }

    @Test
    void rangeEndingExactlyAtRegionEndIsMappedOneBytePastIsNot()
    {
        addRegionsAAndB();
        final long end = B_GUEST + B_SIZE;
        assertEquals(B_HOST + B_SIZE - 16, memory.translate(end - 16, 16));
        assertEquals(NOT_MAPPED, memory.translate(end - 16, 17));
        assertEquals(NOT_MAPPED, memory.translate(end, 1));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST, B_SIZE + 1));
    }

    @Test
    void addressesJustOutsideEveryRegionAreNotMapped()
    {
        addRegionsAAndB();
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST - 1, 1));
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST - 1, 2), "starts one byte before the region");
        assertEquals(NOT_MAPPED, memory.translate(0, 1));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST + B_SIZE, 16));
    }

    @Test
    void rangeStraddlingTwoAdjacentRegionsIsNotMappedWhicheverRegionWasHitLast()
    {
        addRegionsAAndB();
        // Adjacent in guest space, not on the host: no single host pointer covers the range.
        assertEquals(A_HOST, memory.translate(A_GUEST, 1));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST - 8, 16), "after a hit in A");
        assertEquals(B_HOST, memory.translate(B_GUEST, 1));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST - 8, 16), "after a hit in B");
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST, A_SIZE + 1));
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST, A_SIZE + B_SIZE));
    }

    @Test
    void lastHitHintNeverAnswersForTheWrongRegion()
    {
        addRegionsAAndB();
        for (int i = 0; i < 4; i++)
        {
            assertEquals(A_HOST + i, memory.translate(A_GUEST + i, 8));
            assertEquals(B_HOST + i, memory.translate(B_GUEST + i, 8));
            assertEquals(A_HOST + A_SIZE - 8, memory.translate(B_GUEST - 8, 8), "last 8 bytes of A, hint on B");
        }
    }

    @ParameterizedTest(name = "length 0x{0}")
    @ValueSource(longs = {A_SIZE + 1, 0xFFFF_FFFFL, 0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE, -1L})
    void lengthLargerThanTheRegionIsNotMapped(final long length)
    {
        addRegionsAAndB();
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST, length));
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST + 1, length));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST, length));
        assertEquals(NOT_MAPPED, memory.translateUser(A_USER, length));
    }

    @Test
    void rangesThatWrapPast2To64AreNotMapped()
    {
        addRegionsAAndB();
        // 0xFFFF_FFFF_FFFF_FFF0 + 0x20 wraps to 0x10; + A_GUEST + 0x20 would wrap into region A.
        assertEquals(NOT_MAPPED, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, 0x20));
        assertEquals(NOT_MAPPED, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, A_GUEST + 0x20));
        assertEquals(NOT_MAPPED, memory.translate(-1L, A_GUEST + 2));
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST + 16, -16L), "a length that wraps back to the start");
    }

    @Test
    void zeroLengthRangesAreMappedInsideARegionOrAtItsEndOnly()
    {
        addRegionsAAndB();
        assertEquals(A_HOST, memory.translate(A_GUEST, 0));
        assertEquals(A_HOST + 100, memory.translate(A_GUEST + 100, 0));
        assertEquals(B_HOST + B_SIZE, memory.translate(B_GUEST + B_SIZE, 0), "end of a region (documented)");
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST + B_SIZE + 1, 0));
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST - 1, 0));
        assertEquals(NOT_MAPPED, memory.translate(-1L, 0));
    }

    @Test
    void regionEndingAt2To64IsTranslatedWithoutWrapping()
    {
        memory.addRegion(TOP, PAGE, TOP, A_HOST);
        assertEquals(A_HOST, memory.translate(TOP, PAGE));
        assertEquals(A_HOST + 0xFF0, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, 0x10));
        assertEquals(A_HOST + 0xFFF, memory.translate(-1L, 1));
        assertEquals(NOT_MAPPED, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, 0x11));
        assertEquals(NOT_MAPPED, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, 0x20));
        assertEquals(NOT_MAPPED, memory.translate(-1L, 2));
        assertEquals(NOT_MAPPED, memory.translate(TOP, PAGE + 1));
    }

    @Test
    void regionAtZeroDoesNotCatchRangesThatWrapIntoIt()
    {
        memory.addRegion(0, PAGE, PAGE, A_HOST);
        assertEquals(A_HOST, memory.translate(0, PAGE));
        assertEquals(NOT_MAPPED, memory.translate(0xFFFF_FFFF_FFFF_FFF0L, 0x20), "wraps to [0, 0x10)");
        assertEquals(NOT_MAPPED, memory.translate(-1L, 1));
    }

    @Test
    void translateUserUsesTheFrontendsAddressesNotGuestPhysicalOnes()
    {
        addRegionsAAndB();
        assertEquals(A_HOST + 0x40, memory.translateUser(A_USER + 0x40, 0x100));
        assertEquals(B_HOST, memory.translateUser(B_USER, B_SIZE));
        assertEquals(NOT_MAPPED, memory.translateUser(A_GUEST, 16), "a guest-physical address is not a user one");
        assertEquals(NOT_MAPPED, memory.translate(A_USER, 16), "a user address is not a guest-physical one");
    }

    @Test
    void translateUserChecksTheWholeRange()
    {
        addRegionsAAndB();
        assertEquals(A_HOST + A_SIZE - 16, memory.translateUser(A_USER + A_SIZE - 16, 16));
        assertEquals(NOT_MAPPED, memory.translateUser(A_USER + A_SIZE - 16, 17));
        assertEquals(NOT_MAPPED, memory.translateUser(A_USER - 1, 2));
        assertEquals(NOT_MAPPED, memory.translateUser(A_USER, -1L));
        assertEquals(NOT_MAPPED, memory.translateUser(0xFFFF_FFFF_FFFF_FFF0L, A_USER + 0x20));
        assertEquals(A_HOST + A_SIZE, memory.translateUser(A_USER + A_SIZE, 0));
    }

    @Test
    void clearForgetsEveryRegion()
    {
        addRegionsAAndB();
        memory.clear();
        assertEquals(0, memory.regionCount());
        assertEquals(NOT_MAPPED, memory.translate(A_GUEST, 1));
        assertEquals(NOT_MAPPED, memory.translate(B_GUEST, 1));
        assertEquals(NOT_MAPPED, memory.translateUser(A_USER, 1));
        memory.addRegion(A_GUEST, A_SIZE, A_USER, A_HOST + PAGE);
        assertEquals(A_HOST + PAGE, memory.translate(A_GUEST, 1), "the new table is used after clear");
    }

    // ---- addRegion ------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "start = A + {0}")
    @ValueSource(longs = {0, 1, A_SIZE - 1, -PAGE + 1})
    void rejectsGuestPhysicalOverlapNamingBothRegions(final long offset)
    {
        addRegionA();
        final long start = A_GUEST + offset;
        assertMentions(rejected(start, PAGE, B_USER, B_HOST).getMessage(), hex(start), hex(A_GUEST), "overlaps");
    }

    @Test
    void rejectsARegionThatContainsAnExistingOne()
    {
        addRegionA();
        assertMentions(rejected(A_GUEST - PAGE, A_SIZE + 2 * PAGE, B_USER, B_HOST).getMessage(),
            hex(A_GUEST - PAGE), "overlaps");
    }

    @Test
    void rejectsOverlapInTheFrontendsAddressesAlone()
    {
        addRegionA();
        assertMentions(rejected(B_GUEST, B_SIZE, A_USER + A_SIZE - 1, B_HOST).getMessage(), hex(B_GUEST), "overlaps");
    }

    @Test
    void acceptsAdjacentRegions()
    {
        addRegionA();
        memory.addRegion(B_GUEST, B_SIZE, A_USER + A_SIZE, B_HOST);
        memory.addRegion(A_GUEST - PAGE, PAGE, A_USER - PAGE, B_HOST + B_SIZE);
        assertEquals(3, memory.regionCount());
        assertEquals(B_HOST, memory.translate(B_GUEST, 1));
        assertEquals(B_HOST + B_SIZE, memory.translate(A_GUEST - PAGE, 1));
        assertEquals(B_HOST, memory.translateUser(A_USER + A_SIZE, 1));
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(longs = {0, -1, Long.MIN_VALUE})
    void rejectsEmptyOrNegativeSizeNamingTheSize(final long size)
    {
        addRegionA();
        assertMentions(rejected(B_GUEST, size, B_USER, B_HOST).getMessage(), "size=" + size);
    }

    @Test
    void rejectsGuestRangeThatWrapsNamingIt()
    {
        assertMentions(rejected(-PAGE, PAGE + 1, B_USER, B_HOST).getMessage(), hex(-PAGE), "wraps");
        assertMentions(rejected(-1L, 2, B_USER, B_HOST).getMessage(), hex(-1L), "wraps");
    }

    @Test
    void rejectsUserOrHostRangeThatWraps()
    {
        assertMentions(rejected(B_GUEST, B_SIZE, -PAGE, B_HOST).getMessage(), hex(B_GUEST), "wraps");
        assertMentions(rejected(B_GUEST, B_SIZE, B_USER, -PAGE).getMessage(), hex(B_GUEST), "wraps");
    }

    @Test
    void acceptsRegionEndingExactlyAt2To64()
    {
        memory.addRegion(TOP, PAGE, TOP, A_HOST);
        assertEquals(1, memory.regionCount());
    }

    @Test
    void rejectsHostAddressZeroBecauseZeroMeansNotMapped()
    {
        assertMentions(rejected(B_GUEST, B_SIZE, B_USER, NOT_MAPPED).getMessage(), "host address");
    }

    @Test
    void rejectsMoreThanMaxRegionsNamingTheLimit()
    {
        for (int i = 0; i < GuestMemory.MAX_REGIONS; i++)
        {
            final long offset = i * PAGE;
            memory.addRegion(B_GUEST + offset, PAGE, B_USER + offset, B_HOST + offset);
        }
        assertEquals(GuestMemory.MAX_REGIONS, memory.regionCount());
        final long next = B_GUEST + GuestMemory.MAX_REGIONS * PAGE;
        assertMentions(rejected(next, PAGE, B_USER + GuestMemory.MAX_REGIONS * PAGE, A_HOST).getMessage(),
            String.valueOf(GuestMemory.MAX_REGIONS));
        final long last = (GuestMemory.MAX_REGIONS - 1) * PAGE;
        assertEquals(B_HOST + last, memory.translate(B_GUEST + last, PAGE), "the last region is searched");
        assertEquals(NOT_MAPPED, memory.translate(next, 1));
    }
}
