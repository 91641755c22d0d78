package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.tx.TxReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static io.pagewire.dataplane.fixture.FakeGuestMemory.DEFAULT_BASE;
import static io.pagewire.dataplane.virtio.SplitRingLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every rule of DESIGN.md "Virtio rules that matter" / STYLE.md practice 8, one hostile chain at a time, through the
 * three consumers of chains (mergeable RX, one-chain RX, TX). A bad chain must break the queue with the exact
 * {@link QueueError}, counted once, without an exception, without writing one byte of guest memory, without
 * publishing a used element, and the queue must stay inert until re-enabled. Legitimate edge cases must not break it.
 */
class HostileChainTest
{
    private static final int QUEUE_SIZE = 16;
    private static final int HEADER_LENGTH = VirtioNetHeader.MRG_RXBUF_LENGTH;
    private static final int FRAME_LENGTH = 64;
    private static final int RX_LENGTH = HEADER_LENGTH + FRAME_LENGTH;

    // Region 0 holds rings and buffers; region 1 is adjacent to it in guest-physical space (separate host memory);
    // region 2 sits low, where a range wrapping past 2^64 would land.
    private static final long REGION_SIZE = 256 << 10;
    private static final long REGION_END = DEFAULT_BASE + REGION_SIZE;
    private static final long ADJACENT_BASE = REGION_END;
    private static final long SMALL_REGION_SIZE = 64 << 10;
    private static final long LOW_BASE = 0x10_0000;
    /** Where a 4 GiB sparse region goes for the tests that need descriptors of ≥ 2 GiB to be mapped. */
    private static final long SPARSE_BASE = 0x100_0000_0000L;
    private static final long SPARSE_SIZE = 1L << 32;

    /** How the device consumes the chain under test. */
    enum Role
    {
        MERGEABLE_RX, CHAIN_RX, TX;

        boolean receive()
        {
            return this != TX;
        }

        /** @return the direction flag a well-formed data descriptor carries for this role. */
        int dataFlags()
        {
            return receive() ? DESC_F_WRITE : 0;
        }

        /** @return the direction flag that is wrong for this role. */
        int wrongFlags()
        {
            return receive() ? 0 : DESC_F_WRITE;
        }

        /** @return what the consumer returns once the queue is broken. */
        int brokenResult()
        {
            return receive() ? RxWriter.QUEUE_BROKEN : 0;
        }
    }

    /** A guest range with a name for test reports. */
    record Range(String name, long address, long length)
    {
        @Override
        public String toString()
        {
            return name;
        }
    }

    private final FakeGuestMemory guest = new FakeGuestMemory(
        DEFAULT_BASE, REGION_SIZE, ADJACENT_BASE, SMALL_REGION_SIZE, LOW_BASE, SMALL_REGION_SIZE);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(FRAME_LENGTH, 64);
    private final GuardedTxSink sink = new GuardedTxSink(1 << 17, 64);
    private final SplittableRandom random = new SplittableRandom(20240601);
    /** The data buffers of the chain under construction, in chain order: {guest address, length}. */
    private final List<long[]> chainData = new ArrayList<>();

    private Role role;
    private TestVirtqueue queue;
    private DeviceVirtqueue device;
    private RxWriter rxWriter;
    private TxReader txReader;
    private boolean indirectNegotiated;
    private SparseRegion sparse;

    @AfterEach
    void tearDown()
    {
        try
        {
            assertTrue(guest.guardsIntact(), "device wrote outside guest memory");
            assertTrue(sink.guardsIntact(), "device wrote outside the claimed sink slot");
        }
        finally
        {
            if (sparse != null)
            {
                sparse.close();
            }
            sink.close();
            arena.close();
            guest.close();
        }
    }

    // ---- set-up and chain building --------------------------------------------------------------------------------

    private void setUp(final Role role)
    {
        setUp(role, true);
    }

    private void setUp(final Role role, final boolean indirectNegotiated)
    {
        this.role = role;
        this.indirectNegotiated = indirectNegotiated;
        queue = new TestVirtqueue(guest, QUEUE_SIZE, true, indirectNegotiated);
        device = queue.device();
        switch (role)
        {
            case MERGEABLE_RX -> rxWriter = new MergeableRxWriter(device);
            case CHAIN_RX -> rxWriter = new ChainRxWriter(device, HEADER_LENGTH);
            case TX -> txReader = new TxReader(device, HEADER_LENGTH);
        }
        for (int i = 0; i < FRAME_LENGTH; i++)
        {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte)random.nextInt());
        }
    }

    /** Hands the device one frame (RX) or collects a burst (TX). */
    private int run()
    {
        return role.receive() ?
            rxWriter.deliverToGuest(frame.address(), FRAME_LENGTH) :
            txReader.collectFromGuest(sink, QUEUE_SIZE);
    }

    /** Allocates a buffer of random bytes in region 0 and records it as the next part of the chain's data. */
    private long data(final int length)
    {
        return dataAt(guest.allocate(Math.max(length, 1), 16), length);
    }

    /** Fills an existing guest range with random bytes and records it as the next part of the chain's data. */
    private long dataAt(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        guest.put(address, bytes);
        chainData.add(new long[] {address, length});
        return address;
    }

    private void desc(final int index, final long address, final long length, final int flags, final int next)
    {
        queue.writeDescriptor(index, address, (int)length, flags, next);
    }

    /** A last data descriptor, correct for the role. */
    private void dataDesc(final int index, final int length)
    {
        desc(index, data(length), length, role.dataFlags(), 0);
    }

    /** A data descriptor with NEXT, correct for the role. */
    private void dataDesc(final int index, final int length, final int next)
    {
        desc(index, data(length), length, role.dataFlags() | DESC_F_NEXT, next);
    }

    /** @return the guest address of a zeroed indirect table of {@code entries} descriptors. */
    private long table(final int entries)
    {
        final long table = guest.allocate((long)entries * DESC_SIZE, DESC_TABLE_ALIGNMENT);
        guest.fill(table, (long)entries * DESC_SIZE, (byte)0);
        return table;
    }

    private void entry(final long table, final int index, final long address, final long length, final int flags,
        final int next)
    {
        TestVirtqueue.writeDescriptorAt(
            guest.segment(table, (long)(index + 1) * DESC_SIZE), index, address, (int)length, flags, next);
    }

    /** A well-formed table entry; the last one when {@code next} is negative. */
    private void dataEntry(final long table, final int index, final int length, final int next)
    {
        entry(table, index, data(length), length, role.dataFlags() | (next >= 0 ? DESC_F_NEXT : 0), Math.max(next, 0));
    }

    /** Descriptor {@code index} refers to {@code table} of {@code entries} descriptors. */
    private void indirectDesc(final int index, final long table, final int entries)
    {
        desc(index, table, (long)entries * DESC_SIZE, DESC_F_INDIRECT, 0);
    }

    private void offer(final int head)
    {
        queue.rawMakeAvailable(head);
    }

    private byte[] snapshotOfGuestMemory()
    {
        final ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (int r = 0; r < guest.regionCount(); r++)
        {
            all.writeBytes(guest.get(guest.regionStart(r), (int)guest.regionSize(r)));
        }
        return all.toByteArray();
    }

    private byte[] chainBytes()
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (final long[] part : chainData)
        {
            bytes.writeBytes(guest.get(part[0], (int)part[1]));
        }
        return bytes.toByteArray();
    }

    /** Zeroes the virtio-net header at the start of the chain's data (GSO_NONE, so TX sends the frame). */
    private void zeroTxHeader()
    {
        int remaining = HEADER_LENGTH;
        for (final long[] part : chainData)
        {
            final int n = (int)Math.min(remaining, part[1]);
            guest.fill(part[0], n, (byte)0);
            remaining -= n;
        }
    }

    private byte[] expectedRxBytes()
    {
        final byte[] expected = new byte[RX_LENGTH];
        expected[VirtioNetHeader.NUM_BUFFERS_OFFSET] = 1;
        MemorySegment.copy(frame, ValueLayout.JAVA_BYTE, 0, expected, HEADER_LENGTH, FRAME_LENGTH);
        return expected;
    }

    // ---- assertions -----------------------------------------------------------------------------------------------

    /** Runs the device on the chains offered so far and checks that it broke the queue with exactly {@code error}. */
    private void assertBreaks(final QueueError error)
    {
        final byte[] before = snapshotOfGuestMemory();
        final int usedIdxBefore = queue.usedIdx();
        final int lastAvailBefore = device.lastAvailIdx();

        final int result = assertDoesNotThrow(this::run, "guest input must never throw");
        assertBrokenBy(error, result);
        assertFalse(device.publishUsed(), "nothing to publish, nothing to notify");
        assertEquals(usedIdxBefore, queue.usedIdx(), "no used element published");
        assertEquals(lastAvailBefore, device.lastAvailIdx(), "no chain consumed");
        assertEquals(0, sink.frames(), "no frame sent");
        assertArrayEquals(before, snapshotOfGuestMemory(), "no byte of guest memory written");
        assertTrue(guest.guardsIntact(), "device wrote outside guest memory");

        for (int again = 0; again < 3; again++)
        {
            assertBrokenBy(error, assertDoesNotThrow(this::run));
            assertEquals(lastAvailBefore, device.lastAvailIdx(), "a broken queue stays inert");
        }
        assertArrayEquals(before, snapshotOfGuestMemory(), "a broken queue writes nothing later either");
    }

    private void assertBrokenBy(final QueueError error, final int result)
    {
        assertEquals(role.brokenResult(), result, "consumer result");
        assertEquals(error, device.brokenReason(), "broken reason");
        assertFalse(device.isRunning());
        for (final QueueError e : QueueError.values())
        {
            assertEquals(e == error ? 1 : 0, device.errorCount(e), "count of " + e);
        }
        assertEquals(DeviceVirtqueue.BROKEN, device.availableChains());
    }

    /** Runs the device on the one chain offered at {@code head} and checks it was delivered whole. */
    private void assertDelivered(final int head)
    {
        if (!role.receive())
        {
            zeroTxHeader();
        }
        final int usedIdx = device.usedIdx();
        final int result = assertDoesNotThrow(this::run);
        assertTrue(device.isRunning(), () -> "queue broken: " + device.brokenReason());
        assertEquals(1, result, "chains used");
        device.publishUsed();
        assertEquals((usedIdx + 1) & 0xFFFF, queue.usedIdx(), "one used element published");
        assertEquals(head, queue.usedElementId(usedIdx), "used id is the head");
        final byte[] chain = chainBytes();
        if (role.receive())
        {
            assertEquals(RX_LENGTH, queue.usedElementLength(usedIdx), "used len");
            assertArrayEquals(expectedRxBytes(), Arrays.copyOf(chain, RX_LENGTH), "header and frame in the chain");
        }
        else
        {
            assertEquals(0, queue.usedElementLength(usedIdx), "used len of a TX chain");
            assertEquals(1, sink.frames());
            assertArrayEquals(Arrays.copyOfRange(chain, HEADER_LENGTH, chain.length), sink.frame(0), "frame sent");
        }
    }

    // ---- argument sources -----------------------------------------------------------------------------------------

    private static Stream<Arguments> everyRoleWith(final Object... values)
    {
        return Arrays.stream(Role.values()).flatMap(role -> Arrays.stream(values).map(v -> Arguments.of(role, v)));
    }

    static Stream<Arguments> availIndexJumps()
    {
        return everyRoleWith(QUEUE_SIZE + 1, 0x8000, 0xFFFF);
    }

    static Stream<Arguments> headsOutOfRange()
    {
        return everyRoleWith(QUEUE_SIZE, QUEUE_SIZE + 1, 0xFFFF);
    }

    static Stream<Arguments> nextsOutOfRange()
    {
        return everyRoleWith(QUEUE_SIZE, 0x8000, 0xFFFF);
    }

    static Stream<Arguments> badIndirectLengths()
    {
        return everyRoleWith(0, 8, 17, 24, 31, 16 * 3 + 1);
    }

    static Stream<Arguments> tooLargeIndirectLengths()
    {
        return everyRoleWith((long)(QUEUE_SIZE + 1) * DESC_SIZE, 0x1_0000L * DESC_SIZE, 0xFFFF_FFF0L);
    }

    static Stream<Arguments> unmappedRanges()
    {
        return everyRoleWith(
            new Range("below region 0", DEFAULT_BASE - 16, 16),
            new Range("address 0", 0, 16),
            new Range("straddles region 0 end into adjacent region 1", REGION_END - 8, 16),
            new Range("straddles region 1 end", ADJACENT_BASE + SMALL_REGION_SIZE - 8, 16),
            new Range("past every region", ADJACENT_BASE + SMALL_REGION_SIZE, 1),
            new Range("longer than region 0", DEFAULT_BASE, REGION_SIZE + 1),
            new Range("length near u32 max", DEFAULT_BASE, 0xFFFF_0000L),
            new Range("near 2^64, wraps to 0x10", 0xFFFF_FFFF_FFFF_FFF0L, 0x20),
            new Range("near 2^64, wraps into the low region", -16L, LOW_BASE + 32),
            new Range("last byte of the address space", -1L, 1),
            new Range("32-bit truncation of region 0", DEFAULT_BASE & 0xFFFF_FFFFL, 16));
    }

    static Stream<Arguments> unmappedTables()
    {
        return everyRoleWith(
            new Range("below region 0", DEFAULT_BASE - 32, 32),
            new Range("straddles region 0 end", REGION_END - 16, 32),
            new Range("near 2^64, wraps into the low region", -16L, 32));
    }

    // ---- avail ring and heads (§2.7.13.3) -------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, avail.idx {1}")
    @MethodSource("availIndexJumps")
    void availIndexJumpBeyondQueueSizeBreaks(final Role role, final int availIdx)
    {
        setUp(role);
        queue.rawSetAvailIdx(availIdx);
        assertBreaks(QueueError.AVAIL_INDEX_JUMP);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void availIndexExactlyQueueSizeAheadIsAFullRingNotAJump(final Role role)
    {
        setUp(role);
        for (int head = 0; head < QUEUE_SIZE; head++)
        {
            dataDesc(head, RX_LENGTH);
            offer(head);
        }
        assertEquals(QUEUE_SIZE, device.availableChains());
        assertTrue(assertDoesNotThrow(this::run) > 0);
        assertTrue(device.isRunning(), () -> "queue broken: " + device.brokenReason());
    }

    @ParameterizedTest(name = "{0}, head {1}")
    @MethodSource("headsOutOfRange")
    void headOutOfRangeBreaks(final Role role, final int head)
    {
        setUp(role);
        offer(head);
        assertBreaks(QueueError.HEAD_OUT_OF_RANGE);
    }

    // ---- next and loops (§2.7.5.2) --------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, next {1}")
    @MethodSource("nextsOutOfRange")
    void nextOutOfRangeBreaks(final Role role, final int next)
    {
        setUp(role);
        dataDesc(0, 32, next);
        offer(0);
        assertBreaks(QueueError.NEXT_OUT_OF_RANGE);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void selfLoopBreaks(final Role role)
    {
        setUp(role);
        dataDesc(3, 32, 3);
        offer(3);
        assertBreaks(QueueError.CHAIN_TOO_LONG);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void cycleThroughTheWholeTableBreaks(final Role role)
    {
        setUp(role);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            dataDesc(i, 8, (i + 1) % QUEUE_SIZE);
        }
        offer(0);
        assertBreaks(QueueError.CHAIN_TOO_LONG);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void loopNotThroughTheHeadBreaks(final Role role)
    {
        setUp(role);
        dataDesc(0, 32, 1);
        dataDesc(1, 32, 2);
        dataDesc(2, 32, 3);
        dataDesc(3, 32, 1);
        offer(0);
        assertBreaks(QueueError.CHAIN_TOO_LONG);
    }

    // ---- indirect descriptors (§2.7.5.3.1) ------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void indirectWithoutNegotiationBreaks(final Role role)
    {
        setUp(role, false);
        final long table = table(1);
        dataEntry(table, 0, RX_LENGTH, -1);
        indirectDesc(0, table, 1);
        offer(0);
        assertBreaks(QueueError.INDIRECT_NOT_NEGOTIATED);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void indirectWithNextBreaks(final Role role)
    {
        setUp(role);
        final long table = table(1);
        dataEntry(table, 0, RX_LENGTH, -1);
        desc(0, table, DESC_SIZE, DESC_F_INDIRECT | DESC_F_NEXT, 1);
        dataDesc(1, 32);
        offer(0);
        assertBreaks(QueueError.INDIRECT_WITH_NEXT);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void indirectInsideAnIndirectTableBreaks(final Role role)
    {
        setUp(role);
        final long inner = table(1);
        dataEntry(inner, 0, RX_LENGTH, -1);
        final long outer = table(2);
        dataEntry(outer, 0, 32, 1);
        entry(outer, 1, inner, DESC_SIZE, DESC_F_INDIRECT, 0);
        indirectDesc(0, outer, 2);
        offer(0);
        assertBreaks(QueueError.NESTED_INDIRECT);
    }

    @ParameterizedTest(name = "{0}, len {1}")
    @MethodSource("badIndirectLengths")
    void indirectLengthNotANonZeroMultipleOf16Breaks(final Role role, final int length)
    {
        setUp(role);
        final long table = table(4);
        for (int i = 0; i < 4; i++)
        {
            dataEntry(table, i, 32, i < 3 ? i + 1 : -1);
        }
        desc(0, table, length, DESC_F_INDIRECT, 0);
        offer(0);
        assertBreaks(QueueError.INDIRECT_LENGTH);
    }

    @ParameterizedTest(name = "{0}, len {1}")
    @MethodSource("tooLargeIndirectLengths")
    void indirectTableWithMoreEntriesThanTheQueueSizeBreaks(final Role role, final long length)
    {
        setUp(role);
        final long table = table(QUEUE_SIZE + 1);
        dataEntry(table, 0, RX_LENGTH, -1);
        desc(0, table, length, DESC_F_INDIRECT, 0);
        offer(0);
        assertBreaks(QueueError.INDIRECT_TOO_LARGE);
    }

    @ParameterizedTest(name = "{0}, next {1}")
    @MethodSource("nextsOutOfRange")
    void nextOutOfRangeOfTheQueueInsideAnIndirectTableBreaks(final Role role, final int next)
    {
        setUp(role);
        final long table = table(4);
        dataEntry(table, 0, 32, next);
        indirectDesc(0, table, 4);
        offer(0);
        assertBreaks(QueueError.NEXT_OUT_OF_RANGE);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void nextPastTheIndirectTableButInsideTheQueueBreaks(final Role role)
    {
        // Entry 1 points at index 4: below the queue size (16) but past the 4-entry table.
        setUp(role);
        final long table = table(4);
        dataEntry(table, 0, 8, 1);
        dataEntry(table, 1, 8, 4);
        dataEntry(table, 2, 8, 3);
        dataEntry(table, 3, 8, -1);
        indirectDesc(0, table, 4);
        offer(0);
        assertBreaks(QueueError.NEXT_OUT_OF_RANGE);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void selfLoopInsideAnIndirectTableBreaks(final Role role)
    {
        setUp(role);
        final long table = table(4);
        dataEntry(table, 0, 32, 0);
        indirectDesc(0, table, 4);
        offer(0);
        assertBreaks(QueueError.CHAIN_TOO_LONG);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void cycleThroughAWholeIndirectTableBreaks(final Role role)
    {
        setUp(role);
        final int entries = QUEUE_SIZE;
        final long table = table(entries);
        for (int i = 0; i < entries; i++)
        {
            dataEntry(table, i, 8, (i + 1) % entries);
        }
        indirectDesc(0, table, entries);
        offer(0);
        assertBreaks(QueueError.CHAIN_TOO_LONG);
    }

    @ParameterizedTest(name = "{0}, table {1}")
    @MethodSource("unmappedTables")
    void indirectTableNotMappedBreaks(final Role role, final Range table)
    {
        setUp(role);
        desc(0, table.address(), table.length(), DESC_F_INDIRECT, 0);
        offer(0);
        assertBreaks(QueueError.ADDRESS_NOT_MAPPED);
    }

    // ---- addresses -------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("unmappedRanges")
    void descriptorOutsideGuestMemoryBreaks(final Role role, final Range range)
    {
        setUp(role);
        desc(0, range.address(), range.length(), role.dataFlags(), 0);
        offer(0);
        assertBreaks(QueueError.ADDRESS_NOT_MAPPED);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("unmappedRanges")
    void descriptorOutsideGuestMemoryAfterAGoodOneBreaks(final Role role, final Range range)
    {
        setUp(role);
        dataDesc(0, RX_LENGTH, 1);
        desc(1, range.address(), range.length(), role.dataFlags(), 0);
        offer(0);
        assertBreaks(QueueError.ADDRESS_NOT_MAPPED);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("unmappedRanges")
    void indirectEntryOutsideGuestMemoryBreaks(final Role role, final Range range)
    {
        setUp(role);
        final long table = table(2);
        dataEntry(table, 0, 32, 1);
        entry(table, 1, range.address(), range.length(), role.dataFlags(), 0);
        indirectDesc(0, table, 2);
        offer(0);
        assertBreaks(QueueError.ADDRESS_NOT_MAPPED);
    }

    // ---- direction (§2.7.4.2) --------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void wrongDirectionInTheFirstDescriptorBreaks(final Role role)
    {
        setUp(role);
        desc(0, data(RX_LENGTH), RX_LENGTH, role.wrongFlags(), 0);
        offer(0);
        assertBreaks(wrongDirectionError());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void wrongDirectionAfterAGoodDescriptorBreaks(final Role role)
    {
        setUp(role);
        dataDesc(0, RX_LENGTH, 1);
        desc(1, data(32), 32, role.wrongFlags(), 0);
        offer(0);
        assertBreaks(wrongDirectionError());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void wrongDirectionInsideAnIndirectTableBreaks(final Role role)
    {
        setUp(role);
        final long table = table(2);
        dataEntry(table, 0, RX_LENGTH, 1);
        entry(table, 1, data(32), 32, role.wrongFlags(), 0);
        indirectDesc(0, table, 2);
        offer(0);
        assertBreaks(wrongDirectionError());
    }

    private QueueError wrongDirectionError()
    {
        return role.receive() ? QueueError.READABLE_IN_RX : QueueError.WRITABLE_IN_TX;
    }

    // ---- lengths ---------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void lengthsSummingPast2To32BreakBeforeTheHugeDescriptorIsTranslated(final Role role)
    {
        // readChain adds the length before translating, so the overflow is reported even though the second
        // descriptor is not mapped either: without the overflow check this would be ADDRESS_NOT_MAPPED.
        setUp(role);
        dataDesc(0, 16, 1);
        desc(1, data(16), 0xFFFF_FFF0L, role.dataFlags(), 0);
        offer(0);
        assertBreaks(QueueError.LENGTH_OVERFLOW);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void lengthsSummingPast2To32InsideAnIndirectTableBreak(final Role role)
    {
        setUp(role);
        final long table = table(2);
        dataEntry(table, 0, 16, 1);
        entry(table, 1, data(16), 0xFFFF_FFF0L, role.dataFlags(), 0);
        indirectDesc(0, table, 2);
        offer(0);
        assertBreaks(QueueError.LENGTH_OVERFLOW);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void twoFullyMappedDescriptorsSummingPast2To32Break(final Role role)
    {
        setUp(role);
        sparse = new SparseRegion(guest.memory(), SPARSE_BASE, SPARSE_SIZE);
        assertNotEquals(GuestMemory.NOT_MAPPED, guest.memory().translate(SPARSE_BASE, 0xFFFF_FFF0L),
            "precondition: each descriptor on its own is mapped");
        desc(0, SPARSE_BASE, 0xFFFF_FFF0L, role.dataFlags() | DESC_F_NEXT, 1);
        desc(1, SPARSE_BASE + 16, 0xFFFF_FFF0L, role.dataFlags(), 0);
        offer(0);
        assertBreaks(QueueError.LENGTH_OVERFLOW);
    }

    @Test
    void txChainShorterThanTheHeaderBreaks()
    {
        setUp(Role.TX);
        dataDesc(0, HEADER_LENGTH - 1);
        offer(0);
        assertBreaks(QueueError.HEADER_TRUNCATED);
    }

    @Test
    void txChainOfOnlyZeroLengthDescriptorsBreaks()
    {
        setUp(Role.TX);
        dataDesc(0, 0, 1);
        dataDesc(1, 0);
        offer(0);
        assertBreaks(QueueError.HEADER_TRUNCATED);
    }

    @Test
    void txHeaderSplitOverDescriptorsButStillShortBreaks()
    {
        setUp(Role.TX);
        final long table = table(2);
        dataEntry(table, 0, 6, 1);
        dataEntry(table, 1, HEADER_LENGTH - 7, -1);
        indirectDesc(0, table, 2);
        offer(0);
        assertBreaks(QueueError.HEADER_TRUNCATED);
    }

    // ---- receive chains that can hold nothing (issue 12 point 3) ---------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Role.class, names = {"MERGEABLE_RX", "CHAIN_RX"})
    void receiveChainOfOneZeroLengthDescriptorBreaks(final Role role)
    {
        // Linux vhost-net refuses it ("unexpected descriptor format for RX"); with MRG_RXBUF every buffer MUST hold
        // at least the virtio-net header (virtio 1.2 §5.1.6.3.1).
        setUp(role);
        dataDesc(0, 0);
        offer(0);
        assertBreaks(QueueError.EMPTY_RX_CHAIN);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Role.class, names = {"MERGEABLE_RX", "CHAIN_RX"})
    void receiveChainOfOnlyZeroLengthDescriptorsBreaks(final Role role)
    {
        setUp(role);
        for (int i = 0; i < QUEUE_SIZE - 1; i++)
        {
            dataDesc(i, 0, i + 1);
        }
        dataDesc(QUEUE_SIZE - 1, 0);
        offer(0);
        assertBreaks(QueueError.EMPTY_RX_CHAIN);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Role.class, names = {"MERGEABLE_RX", "CHAIN_RX"})
    void receiveIndirectTableOfEmptyEntriesBreaks(final Role role)
    {
        setUp(role);
        final long table = table(QUEUE_SIZE);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            dataEntry(table, i, 0, i < QUEUE_SIZE - 1 ? i + 1 : -1);
        }
        indirectDesc(3, table, QUEUE_SIZE);
        offer(3);
        assertBreaks(QueueError.EMPTY_RX_CHAIN);
    }

    @Test
    void mergeableBreaksOnAnEmptyChainAfterGoodOnesAndWritesNothing()
    {
        setUp(Role.MERGEABLE_RX);
        dataDesc(0, RX_LENGTH / 2);
        offer(0);
        dataDesc(1, 0);
        offer(1);
        assertBreaks(QueueError.EMPTY_RX_CHAIN);
    }

    @Test
    void mergeableBreaksOnTheSameEmptyHeadRepeatedAfterOneRead()
    {
        setUp(Role.MERGEABLE_RX);
        dataDesc(0, 0);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            offer(0);
        }
        final long before = device.descriptorReads();
        assertBreaks(QueueError.EMPTY_RX_CHAIN);
        assertEquals(1, device.descriptorReads() - before, "the first empty chain ends the walk");
    }

    // ---- transmit runts (issue 12 point 7) --------------------------------------------------------------------------

    @ParameterizedTest(name = "frame of {0} bytes")
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1, 13})
    void txFrameShorterThanAnEthernetHeaderIsDroppedAsARunt(final int frameLength)
    {
        setUp(Role.TX);
        dataDesc(0, HEADER_LENGTH, 1);
        dataDesc(1, frameLength);
        zeroTxHeader();
        offer(0);

        assertEquals(1, assertDoesNotThrow(this::run), "the chain is consumed");
        assertTrue(device.isRunning(), () -> "queue broken: " + device.brokenReason());
        assertEquals(0, sink.frames(), "nothing sent");
        assertEquals(1, txReader.droppedRunt());
        assertEquals(0, txReader.sentFrames());
        assertTrue(device.publishUsed());
        assertEquals(1, queue.usedIdx(), "returned to the guest");
        assertEquals(0, queue.usedElementId(0));
        assertEquals(0, queue.usedElementLength(0));
    }

    @Test
    void txChainOfOnlyTheHeaderIsDroppedAsARunt()
    {
        setUp(Role.TX);
        dataDesc(0, HEADER_LENGTH);
        zeroTxHeader();
        offer(0);
        assertEquals(1, assertDoesNotThrow(this::run));
        assertEquals(0, sink.frames(), "a 0-byte frame is not sent");
        assertEquals(1, txReader.droppedRunt());
    }

    @Test
    void txFrameOfExactlyAnEthernetHeaderIsSent()
    {
        setUp(Role.TX);
        dataDesc(0, HEADER_LENGTH + TxReader.MIN_FRAME_LENGTH);
        offer(0);
        assertDelivered(0);
        assertEquals(0, txReader.droppedRunt());
    }

    // ---- several chains, inertness and recovery ------------------------------------------------------------------

    @Test
    void mergeableWritesNothingWhenALaterChainOfTheSameFrameIsBad()
    {
        setUp(Role.MERGEABLE_RX);
        dataDesc(0, RX_LENGTH / 2);
        offer(0);
        offer(QUEUE_SIZE);
        assertBreaks(QueueError.HEAD_OUT_OF_RANGE);
    }

    @Test
    void txSendsTheGoodChainsBeforeTheBadOne()
    {
        setUp(Role.TX);
        dataDesc(0, HEADER_LENGTH + 20);
        zeroTxHeader();
        offer(0);
        dataDesc(1, 32, QUEUE_SIZE);
        offer(1);

        assertEquals(1, assertDoesNotThrow(this::run), "the good chain is consumed");
        assertEquals(QueueError.NEXT_OUT_OF_RANGE, device.brokenReason());
        assertEquals(1, device.errorCount(QueueError.NEXT_OUT_OF_RANGE));
        assertEquals(1, device.lastAvailIdx(), "the bad chain is not consumed");
        assertTrue(device.publishUsed());
        assertEquals(1, queue.usedIdx());
        assertEquals(0, queue.usedElementId(0));
        assertEquals(1, sink.frames());
        assertEquals(20, sink.frameLength(0));
        assertEquals(0, txReader.collectFromGuest(sink, QUEUE_SIZE), "inert after breaking");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void brokenQueueIgnoresChainsThatAreValid(final Role role)
    {
        setUp(role);
        offer(QUEUE_SIZE);
        assertBreaks(QueueError.HEAD_OUT_OF_RANGE);
        dataDesc(0, RX_LENGTH + 100);
        offer(0);
        assertBrokenBy(QueueError.HEAD_OUT_OF_RANGE, assertDoesNotThrow(this::run));
        assertEquals(0, device.lastAvailIdx());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void reEnabledQueueServesValidChainsAgain(final Role role)
    {
        setUp(role);
        offer(QUEUE_SIZE);
        assertBreaks(QueueError.HEAD_OUT_OF_RANGE);

        // A device reset: the frontend re-enables the ring past the bad entry (vhost-user SET_VRING_BASE).
        device.enable(
            guest.host(queue.descTable(), descTableLength(QUEUE_SIZE)),
            guest.host(queue.availRing(), availRingLength(QUEUE_SIZE)),
            guest.host(queue.usedRing(), usedRingLength(QUEUE_SIZE)),
            1, true, indirectNegotiated);
        assertTrue(device.isRunning());
        assertNull(device.brokenReason());

        dataDesc(5, RX_LENGTH + 10);
        offer(5);
        assertDelivered(5);
    }

    // ---- legitimate edge cases: must not break --------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void chainOfExactlyQueueSizeDescriptorsIsValid(final Role role)
    {
        setUp(role);
        final int head = 5;
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            final int index = (head + i) % QUEUE_SIZE;
            if (i < QUEUE_SIZE - 1)
            {
                dataDesc(index, 8, (index + 1) % QUEUE_SIZE);
            }
            else
            {
                dataDesc(index, 8);
            }
        }
        offer(head);
        assertDelivered(head);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void indirectTableOfExactlyQueueSizeEntriesIsValid(final Role role)
    {
        setUp(role);
        final long table = table(QUEUE_SIZE);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            dataEntry(table, i, 8, i < QUEUE_SIZE - 1 ? i + 1 : -1);
        }
        indirectDesc(2, table, QUEUE_SIZE);
        offer(2);
        assertDelivered(2);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void zeroLengthDescriptorsAreValid(final Role role)
    {
        setUp(role);
        dataDesc(0, 0, 1);
        dataDesc(1, 40, 2);
        dataDesc(2, 0, 3);
        desc(3, dataAt(REGION_END, 0), 0, role.dataFlags() | DESC_F_NEXT, 4);
        dataDesc(4, 60, 5);
        dataDesc(5, 0);
        offer(0);
        assertDelivered(0);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void directDescriptorsFollowedByAnIndirectOneAreValid(final Role role)
    {
        // §2.7.5.3: a chain may hold direct descriptors and then one that refers to an indirect table.
        setUp(role);
        dataDesc(0, 20, 1);
        final long table = table(3);
        dataEntry(table, 0, 20, 1);
        dataEntry(table, 1, 20, 2);
        dataEntry(table, 2, 20, -1);
        indirectDesc(1, table, 3);
        offer(0);
        assertDelivered(0);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void longestLegalChainFitsTheScatterList(final Role role)
    {
        // Queue-size - 1 direct descriptors, then an indirect table of queue-size entries: 2 × size - 1 segments.
        setUp(role);
        for (int i = 0; i < QUEUE_SIZE - 1; i++)
        {
            dataDesc(i, 4, i + 1);
        }
        final long table = table(QUEUE_SIZE);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            dataEntry(table, i, 4, i < QUEUE_SIZE - 1 ? i + 1 : -1);
        }
        indirectDesc(QUEUE_SIZE - 1, table, QUEUE_SIZE);
        offer(0);
        assertDelivered(0);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void directionFlagOnTheIndirectDescriptorItselfIsIgnored(final Role role)
    {
        // §2.7.5.3.1: "The device MUST ignore the write-only flag in the descriptor that refers to an indirect table."
        setUp(role);
        final long table = table(1);
        dataEntry(table, 0, RX_LENGTH + 4, -1);
        desc(0, table, DESC_SIZE, DESC_F_INDIRECT | role.wrongFlags(), 0);
        offer(0);
        assertDelivered(0);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Role.class)
    void descriptorEndingExactlyAtTheRegionEndIsValid(final Role role)
    {
        setUp(role);
        desc(0, dataAt(REGION_END - 100, 100), 100, role.dataFlags(), 0);
        offer(0);
        assertDelivered(0);
    }

    // ---- buffers of 2 GiB or more in a large region ----------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Role.class, names = {"MERGEABLE_RX", "CHAIN_RX"})
    void receiveBufferOf2GiBOrMoreInALargeRegionIsDelivered(final Role role)
    {
        // Linux never posts such a buffer, but a guest may, and regions of several GiB are normal: the chain is
        // valid and must neither break the queue nor throw.
        setUp(role);
        sparse = new SparseRegion(guest.memory(), SPARSE_BASE, SPARSE_SIZE);
        desc(0, SPARSE_BASE, 0x8000_0000L, DESC_F_WRITE, 0);
        offer(0);

        final int result = assertDoesNotThrow(this::run, "a 2 GiB descriptor must not throw");
        assertEquals(1, result);
        assertTrue(device.isRunning());
        device.publishUsed();
        assertEquals(1, queue.usedIdx());
        assertEquals(RX_LENGTH, queue.usedElementLength(0));
        assertArrayEquals(expectedRxBytes(), sparse.bytes(0, RX_LENGTH));
    }

    @Test
    void transmitChainOf4GiBMinusOneIsDroppedAsTooLongNotBroken()
    {
        setUp(Role.TX);
        sparse = new SparseRegion(guest.memory(), SPARSE_BASE, SPARSE_SIZE);
        desc(0, SPARSE_BASE, 0xFFFF_FFFFL, 0, 0);
        offer(0);

        assertEquals(1, assertDoesNotThrow(this::run));
        assertTrue(device.isRunning());
        assertEquals(1, txReader.droppedTooLong());
        assertEquals(0, sink.frames());
        device.publishUsed();
        assertEquals(1, queue.usedIdx());
        assertEquals(0, queue.usedElementLength(0));
    }

    /** A guest region of several GiB backed by a sparse file: only pages the device touches take memory or disk. */
    private static final class SparseRegion implements AutoCloseable
    {
        private final java.nio.file.Path file;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment segment;

        SparseRegion(final GuestMemory memory, final long guestBase, final long size)
        {
            try
            {
                file = Files.createTempFile("pagewire-sparse-region", ".mem");
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
                {
                    segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
                }
            }
            catch (final IOException e)
            {
                throw new UncheckedIOException(e);
            }
            memory.addRegion(guestBase, size, guestBase, segment.address());
        }

        byte[] bytes(final long offset, final int length)
        {
            return segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
        }

        @Override
        public void close()
        {
            arena.close();
            try
            {
                Files.deleteIfExists(file);
            }
            catch (final IOException e)
            {
                throw new UncheckedIOException(e);
            }
        }
    }
}
