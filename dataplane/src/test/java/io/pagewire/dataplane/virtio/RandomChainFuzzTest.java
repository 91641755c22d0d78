package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.tx.TxReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static io.pagewire.dataplane.fixture.FakeGuestMemory.DEFAULT_BASE;
import static io.pagewire.dataplane.virtio.SplitRingLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Seeded randomized test over a million or more descriptor chains (STYLE.md practice 14, after rust-vmm's
 * {@code fuzz_targets/virtio_queue.rs}): descriptor tables, available rings and indirect tables are filled with
 * structured-but-mutated chains, and sometimes with plain random bytes, then the mergeable RX writer, the one-chain
 * RX writer or the TX reader runs on them. Every round is compared with {@link ChainOracle}'s independent reading:
 * same result, same broken reason (or none), same used elements, same bytes sent, and no exception, no byte outside
 * the guest regions or the sink, no used len above the chain's capacity. The descriptors the device reads are counted
 * and must be exactly the oracle's, and below {@link DeviceVirtqueue#burstReadBudget} + 2 × size per frame or burst
 * (issue 12 point 3): one round in 64 repeats one head, often padded with empty descriptors, over the whole ring.
 * <p>
 * Replay: {@code -Dpagewire.fuzz.seed=0x... -Dpagewire.fuzz.chains=N}; failures name the seed and the round.
 */
class RandomChainFuzzTest
{
    private static final long DEFAULT_SEED = 0x7061_6765_7769_7265L;
    private static final long DEFAULT_CHAINS = 1_000_000;
    private static final long SEED = Long.getLong("pagewire.fuzz.seed", DEFAULT_SEED);
    private static final long CHAINS = Long.getLong("pagewire.fuzz.chains", DEFAULT_CHAINS);

    private static final int[] QUEUE_SIZES = {1, 2, 4, 8, 16, 64, 256};
    private static final int MAX_QUEUE_SIZE = 256;
    private static final long U32_MAX = 0xFFFF_FFFFL;

    // Region 0: rings, then an area for indirect tables, then buffers. Region 1 is adjacent to it.
    private static final long REGION_SIZE = 1 << 20;
    private static final long REGION_END = DEFAULT_BASE + REGION_SIZE;
    private static final long ADJACENT_SIZE = 64 << 10;
    private static final long ADJACENT_END = REGION_END + ADJACENT_SIZE;
    private static final int TABLE_AREA_SIZE = 64 << 10;

    private static final int SINK_CAPACITY = 96 << 10;
    private static final int SINK_FRAMES = 32;
    private static final int GUARD_CHECK_INTERVAL = 4096;

    /** Which consumer runs the round. */
    enum Role
    {
        MERGEABLE_RX(VirtioNetHeader.MRG_RXBUF_LENGTH),
        CHAIN_RX_10(VirtioNetHeader.LEGACY_LENGTH),
        CHAIN_RX_12(VirtioNetHeader.MRG_RXBUF_LENGTH),
        TX_10(VirtioNetHeader.LEGACY_LENGTH),
        TX_12(VirtioNetHeader.MRG_RXBUF_LENGTH);

        final int headerLength;

        Role(final int headerLength)
        {
            this.headerLength = headerLength;
        }

        boolean receive()
        {
            return this != TX_10 && this != TX_12;
        }
    }

    private static final Role[] ROLES = Role.values();

    /** One queue laid out by the fixture, with host views of its rings and its consumers. */
    private static final class FuzzQueue
    {
        final int size;
        final int mask;
        final TestVirtqueue queue;
        final DeviceVirtqueue device;
        final MemorySegment desc;
        final MemorySegment avail;
        final MemorySegment used;
        final RxWriter mergeable;
        final RxWriter chain10;
        final RxWriter chain12;
        final TxReader tx10;
        final TxReader tx12;
        final int[] free;

        FuzzQueue(final FakeGuestMemory guest, final int size)
        {
            this.size = size;
            this.mask = size - 1;
            queue = TestVirtqueue.of(guest, size);
            device = queue.device();
            desc = guest.segment(queue.descTable(), descTableLength(size));
            avail = guest.segment(queue.availRing(), availRingLength(size));
            used = guest.segment(queue.usedRing(), usedRingLength(size));
            mergeable = new MergeableRxWriter(device);
            chain10 = new ChainRxWriter(device, VirtioNetHeader.LEGACY_LENGTH);
            chain12 = new ChainRxWriter(device, VirtioNetHeader.MRG_RXBUF_LENGTH);
            tx10 = new TxReader(device, VirtioNetHeader.LEGACY_LENGTH);
            tx12 = new TxReader(device, VirtioNetHeader.MRG_RXBUF_LENGTH);
            free = new int[size];
            for (int i = 0; i < size; i++)
            {
                free[i] = i;
            }
        }

        void enable(final int baseIndex, final boolean eventIdx, final boolean indirectDesc)
        {
            device.enable(desc.address(), avail.address(), used.address(), baseIndex, eventIdx, indirectDesc);
        }

        int ringHead(final int idx)
        {
            return avail.get(ValueLayout.JAVA_SHORT_UNALIGNED, availElementOffset(idx, mask)) & 0xFFFF;
        }

        void putRingHead(final int idx, final int head)
        {
            avail.set(ValueLayout.JAVA_SHORT_UNALIGNED, availElementOffset(idx, mask), (short)head);
        }

        TxReader txReader(final Role role)
        {
            return role == Role.TX_10 ? tx10 : tx12;
        }
    }

    private final FakeGuestMemory guest = new FakeGuestMemory(DEFAULT_BASE, REGION_SIZE, REGION_END, ADJACENT_SIZE);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(VirtioNetHeader.MAX_FRAME_LENGTH + 1, 64);
    private final GuardedTxSink sink = new GuardedTxSink(SINK_CAPACITY, SINK_FRAMES);
    private final FuzzQueue[] queues = new FuzzQueue[QUEUE_SIZES.length];
    private final long tableArea;
    private final MemorySegment tables;
    private final long bufferArea;
    private final long bufferAreaSize;
    private final ChainOracle oracle;
    private final SplittableRandom random = new SplittableRandom(SEED);

    // The round being run.
    private long round;
    private FuzzQueue q;
    private Role role;
    private boolean indirectNegotiated;
    private int base;
    private int availIdx;
    private int frameLength;
    private int burst;

    // What the oracle predicts for it.
    private int expectedResult;
    private QueueError expectedError;
    private int expectedConsumed;
    private int expectedUsed;
    private final int[] usedId = new int[MAX_QUEUE_SIZE];
    private final long[] usedLength = new long[MAX_QUEUE_SIZE];
    private final long[] usedCapacity = new long[MAX_QUEUE_SIZE];
    private int expectedFrames;
    private final int[] frameLengths = new int[MAX_QUEUE_SIZE];
    private final long[] frameCrcs = new long[MAX_QUEUE_SIZE];
    private int expectedTooLong;
    private int expectedGso;
    private int expectedRunt;
    /** Descriptor reads the device is expected to make in the round, and the most a burst may start chains with. */
    private long expectedReads;
    private long budget;
    private boolean limitHit;
    /** The round's chains are padded with empty descriptors (randomLength mostly 0). */
    private boolean emptyPadding;
    /** The round's chains are written without mutations: well-formed, so their whole length is read. */
    private boolean clean;

    // Coverage, so that a generator gone blind fails the test instead of passing vacuously.
    private long examined;
    private final long[] errorsSeen = new long[QueueError.values().length];
    private long validChains;
    private long rxDelivered;
    private long rxNoBuffers;
    private long rxTooSmall;
    private long rxTooManySegments;
    private long txSent;
    private long txDropped;
    private long txRunts;
    private long workLimits;
    private long repeatedHeadRounds;

    RandomChainFuzzTest()
    {
        for (int i = 0; i < QUEUE_SIZES.length; i++)
        {
            queues[i] = new FuzzQueue(guest, QUEUE_SIZES[i]);
        }
        tableArea = guest.allocate(TABLE_AREA_SIZE, 4096);
        tables = guest.segment(tableArea, TABLE_AREA_SIZE);
        bufferArea = guest.allocate(1, 4096);
        bufferAreaSize = REGION_END - bufferArea;
        oracle = new ChainOracle(guest, 2 * MAX_QUEUE_SIZE);
        final SplittableRandom bytes = new SplittableRandom(SEED ^ 0x5DEECE66DL);
        for (long i = 0; i + 8 <= frame.byteSize(); i += 8)
        {
            frame.set(ValueLayout.JAVA_LONG_UNALIGNED, i, bytes.nextLong());
        }
    }

    @AfterEach
    void tearDown()
    {
        sink.close();
        arena.close();
        guest.close();
    }

    @Test
    void randomChainsNeverBreakTheRulesOrEscapeTheRegions()
    {
        System.out.printf("RandomChainFuzzTest: seed=0x%x chains=%d%n", SEED, CHAINS);
        final long maxRounds = 50 * CHAINS + 1000;
        while (examined < CHAINS && round < maxRounds)
        {
            round++;
            try
            {
                fuzzRound();
            }
            catch (final Throwable t)
            {
                throw new AssertionError(replay() + ": " + t, t);
            }
            if (round % GUARD_CHECK_INTERVAL == 0)
            {
                assertGuardsIntact();
            }
        }
        assertGuardsIntact();
        assertEveryQueueServesAValidSessionAfterwards();
        printCoverage();
        assertTrue(examined >= CHAINS, "examined " + examined + " chains in " + round + " rounds; " + replay());
        if (CHAINS >= DEFAULT_CHAINS / 10)
        {
            assertCoverage();
        }
    }

    private String replay()
    {
        return String.format(
            "seed=0x%x round=%d role=%s queueSize=%d base=%d availIdx=%d frameLength=%d burst=%d indirect=%b " +
            "(replay with -Dpagewire.fuzz.seed=0x%x -Dpagewire.fuzz.chains=%d)",
            SEED, round, role, q == null ? 0 : q.size, base, availIdx, frameLength, burst, indirectNegotiated,
            SEED, CHAINS);
    }

    private void assertGuardsIntact()
    {
        assertTrue(guest.guardsIntact(), () -> "device wrote outside guest memory by " + replay());
        assertTrue(sink.guardsIntact(), () -> "device wrote outside its sink slot by " + replay());
    }

    // ---- one round ------------------------------------------------------------------------------------------------

    private void fuzzRound()
    {
        q = queues[random.nextInt(queues.length)];
        role = ROLES[random.nextInt(ROLES.length)];
        indirectNegotiated = random.nextInt(8) != 0;
        base = random.nextInt(0x10000);
        int offered = chainsToOffer();
        emptyPadding = false;
        clean = false;
        if (random.nextInt(64) == 0)
        {
            offered = q.size;
            writeRepeatedHead(offered);
        }
        else if (random.nextInt(16) == 0)
        {
            writeRandomBytes(offered);
        }
        else
        {
            writeStructuredChains(offered);
        }
        availIdx = availIndex(offered);
        q.avail.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL_IDX_OFFSET, (short)availIdx);
        q.enable(base, random.nextBoolean(), indirectNegotiated);
        frameLength = frameLength();
        burst = 1 + random.nextInt(offered + 2);

        predict();
        final long[] countsBefore = errorCounts();
        final long tooLongBefore = role.receive() ? 0 : q.txReader(role).droppedTooLong();
        final long gsoBefore = role.receive() ? 0 : q.txReader(role).droppedGso();
        final long runtBefore = role.receive() ? 0 : q.txReader(role).droppedRunt();
        final long readsBefore = q.device.descriptorReads();
        final long limitsBefore = q.device.workLimits();
        sink.reset();

        final int result = run();

        final long reads = q.device.descriptorReads() - readsBefore;
        assertEquals(expectedResult, result, "result");
        assertEquals(expectedReads, reads, "descriptors read");
        assertTrue(reads < budget + 2L * q.size, () -> "read " + reads + " descriptors for one frame or burst");
        assertEquals(limitHit ? 1 : 0, q.device.workLimits() - limitsBefore, "bursts cut short by the read budget");
        assertQueueState(countsBefore);
        assertUsedElements();
        if (!role.receive())
        {
            assertSentFrames();
            assertEquals(expectedTooLong, q.txReader(role).droppedTooLong() - tooLongBefore, "dropped too long");
            assertEquals(expectedGso, q.txReader(role).droppedGso() - gsoBefore, "dropped GSO");
            assertEquals(expectedRunt, q.txReader(role).droppedRunt() - runtBefore, "dropped runts");
        }
        if (expectedError != null)
        {
            assertInertOnceBroken();
        }
        recordCoverage(result);
    }

    private int run()
    {
        return switch (role)
        {
            case MERGEABLE_RX -> q.mergeable.deliverToGuest(frame.address(), frameLength);
            case CHAIN_RX_10 -> q.chain10.deliverToGuest(frame.address(), frameLength);
            case CHAIN_RX_12 -> q.chain12.deliverToGuest(frame.address(), frameLength);
            case TX_10, TX_12 -> q.txReader(role).collectFromGuest(sink, burst);
        };
    }

    private int brokenResult()
    {
        return role.receive() ? RxWriter.QUEUE_BROKEN : 0;
    }

    // ---- checks ---------------------------------------------------------------------------------------------------

    /** After all the hostile rounds, each queue, re-enabled as a frontend would, delivers and collects a frame. */
    private void assertEveryQueueServesAValidSessionAfterwards()
    {
        final long rxBuffer = bufferArea;
        final long txBuffer = bufferArea + 4096;
        for (final FuzzQueue queue : queues)
        {
            q = queue;
            role = Role.MERGEABLE_RX;
            base = random.nextInt(0x10000);
            TestVirtqueue.writeDescriptorAt(q.desc, 0, rxBuffer, 4096, DESC_F_WRITE, 0);
            q.putRingHead(base, 0);
            q.avail.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL_IDX_OFFSET, (short)(base + 1));
            q.enable(base, false, true);
            assertEquals(1, q.mergeable.deliverToGuest(frame.address(), 1514), () -> "RX after fuzzing, " + replay());

            role = Role.TX_12;
            oracle.view(txBuffer, VirtioNetHeader.MRG_RXBUF_LENGTH).fill((byte)0);
            TestVirtqueue.writeDescriptorAt(q.desc, 0, txBuffer, VirtioNetHeader.MRG_RXBUF_LENGTH + 60, 0, 0);
            q.enable(base, false, true);
            sink.reset();
            assertEquals(1, q.tx12.collectFromGuest(sink, 1), () -> "TX after fuzzing, " + replay());
            assertEquals(1, sink.frames());
            assertEquals(60, sink.frameLength(0));
            assertTrue(q.device.isRunning());
        }
    }

    private long[] errorCounts()
    {
        final QueueError[] errors = QueueError.values();
        final long[] counts = new long[errors.length];
        for (int i = 0; i < errors.length; i++)
        {
            counts[i] = q.device.errorCount(errors[i]);
        }
        return counts;
    }

    private void assertQueueState(final long[] countsBefore)
    {
        final DeviceVirtqueue device = q.device;
        assertEquals(expectedError, device.brokenReason(), "broken reason");
        assertEquals(device.isRunning(), device.brokenReason() == null, "a stopped queue names its reason");
        final long[] countsAfter = errorCounts();
        for (final QueueError e : QueueError.values())
        {
            assertEquals(e == expectedError ? 1 : 0, countsAfter[e.ordinal()] - countsBefore[e.ordinal()],
                () -> "count of " + e);
        }
        assertEquals((base + expectedConsumed) & 0xFFFF, device.lastAvailIdx(), "chains consumed");
        assertEquals((base + expectedUsed) & 0xFFFF, device.usedIdx(), "used elements added");
    }

    private void assertUsedElements()
    {
        long total = 0;
        for (int i = 0; i < expectedUsed; i++)
        {
            final int offset = usedElementOffset(base + i, q.mask);
            final int id = q.used.get(ValueLayout.JAVA_INT_UNALIGNED, offset + USED_ELEMENT_ID_OFFSET);
            final long len = q.used.get(ValueLayout.JAVA_INT_UNALIGNED, offset + USED_ELEMENT_LEN_OFFSET) & U32_MAX;
            final int element = i;
            assertEquals(usedId[i], id, () -> "used id " + element);
            assertTrue(len <= usedCapacity[i], () -> "used len " + len + " > chain capacity " + usedCapacity[element]);
            assertEquals(usedLength[i], len, () -> "used len " + element);
            total += len;
        }
        if (role.receive() && expectedUsed > 0)
        {
            assertEquals(role.headerLength + frameLength, total, "bytes written = header + frame");
        }
        if (expectedUsed > 0)
        {
            q.device.publishUsed();
            assertEquals(q.device.usedIdx(), q.queue.usedIdx(), "used.idx published");
        }
    }

    private void assertSentFrames()
    {
        assertEquals(expectedFrames, sink.frames(), "frames sent");
        final CRC32 crc = new CRC32();
        for (int i = 0; i < expectedFrames; i++)
        {
            final int sent = i;
            assertEquals(frameLengths[i], sink.frameLength(i), () -> "length of frame " + sent);
            crc.reset();
            crc.update(sink.frameView(i).asByteBuffer());
            assertEquals(frameCrcs[i], crc.getValue(), () -> "bytes of frame " + sent);
        }
    }

    private void assertInertOnceBroken()
    {
        final long[] counts = errorCounts();
        final int lastAvail = q.device.lastAvailIdx();
        assertEquals(brokenResult(), run(), "a broken queue stays broken");
        assertArrayEquals(counts, errorCounts(), "a broken queue counts nothing more");
        assertEquals(lastAvail, q.device.lastAvailIdx(), "a broken queue consumes nothing");
    }

    // ---- prediction -------------------------------------------------------------------------------------------------

    private void predict()
    {
        expectedError = null;
        expectedConsumed = 0;
        expectedUsed = 0;
        expectedFrames = 0;
        expectedTooLong = 0;
        expectedGso = 0;
        expectedRunt = 0;
        expectedReads = 0;
        limitHit = false;
        budget = DeviceVirtqueue.burstReadBudget(q.size);
        switch (role)
        {
            case MERGEABLE_RX -> predictMergeable();
            case CHAIN_RX_10, CHAIN_RX_12 -> predictChain();
            case TX_10, TX_12 -> predictTx();
        }
    }

    private int availDelta()
    {
        return (availIdx - base) & 0xFFFF;
    }

    /** {@link #readHead}: the chain was read (valid, or too many segments). */
    private static final int READ = 0;
    /** {@link #readHead}: the queue breaks on it (expectedError set). */
    private static final int BREAKS = 1;
    /** {@link #readHead}: the burst's read budget is spent before the chain (DeviceVirtqueue.WORK_LIMIT). */
    private static final int LIMIT = 2;

    /**
     * Reads, through the oracle, the chain whose head is {@code i} places past the base in the available ring, and
     * notes the head as the id of used element {@code slot}. The head is checked first, then the read budget.
     *
     * @return {@link #READ}, {@link #BREAKS} or {@link #LIMIT}.
     */
    private int readHead(final int i, final int slot, final boolean deviceWritable, final int segmentsBefore)
    {
        examined++;
        final int head = q.ringHead(base + i);
        if (head >= q.size)
        {
            expectedError = QueueError.HEAD_OUT_OF_RANGE;
            return BREAKS;
        }
        if (expectedReads >= budget)
        {
            limitHit = true;
            return LIMIT;
        }
        usedId[slot] = head;
        oracle.walk(q.desc, q.size, indirectNegotiated, head, deviceWritable, segmentsBefore, 2 * q.size);
        expectedReads += oracle.reads;
        if (oracle.outcome == ChainOracle.BROKEN)
        {
            expectedError = oracle.error;
            return BREAKS;
        }
        return READ;
    }

    private void predictMergeable()
    {
        if (frameLength > VirtioNetHeader.MAX_FRAME_LENGTH)
        {
            expectedResult = RxWriter.FRAME_TOO_LONG;
            return;
        }
        final int available = availDelta();
        if (available > q.size)
        {
            expectedError = QueueError.AVAIL_INDEX_JUMP;
            expectedResult = RxWriter.QUEUE_BROKEN;
            return;
        }
        final long needed = role.headerLength + frameLength;
        long capacity = 0;
        int segments = 0;
        int buffers = 0;
        while (capacity < needed)
        {
            if (buffers == available)
            {
                expectedResult = RxWriter.NO_BUFFERS;
                return;
            }
            final int read = readHead(buffers, buffers, true, segments);
            if (read != READ)
            {
                expectedResult = read == LIMIT ? RxWriter.WORK_LIMIT : RxWriter.QUEUE_BROKEN;
                return;
            }
            if (oracle.outcome == ChainOracle.SCATTER_FULL)
            {
                expectedResult = RxWriter.TOO_MANY_SEGMENTS;
                return;
            }
            usedCapacity[buffers] = oracle.capacity;
            capacity += oracle.capacity;
            segments += oracle.segments;
            buffers++;
        }
        long remaining = needed;
        for (int i = 0; i < buffers; i++)
        {
            usedLength[i] = Math.min(remaining, usedCapacity[i]);
            remaining -= usedLength[i];
        }
        expectedUsed = buffers;
        expectedConsumed = buffers;
        expectedResult = buffers;
    }

    private void predictChain()
    {
        if (frameLength > VirtioNetHeader.MAX_FRAME_LENGTH)
        {
            expectedResult = RxWriter.FRAME_TOO_LONG;
            return;
        }
        final int available = availDelta();
        if (available > q.size)
        {
            expectedError = QueueError.AVAIL_INDEX_JUMP;
            expectedResult = RxWriter.QUEUE_BROKEN;
            return;
        }
        if (available == 0)
        {
            expectedResult = RxWriter.NO_BUFFERS;
            return;
        }
        final int read = readHead(0, 0, true, 0);
        if (read != READ)
        {
            expectedResult = read == LIMIT ? RxWriter.WORK_LIMIT : RxWriter.QUEUE_BROKEN;
            return;
        }
        if (oracle.outcome == ChainOracle.SCATTER_FULL)
        {
            expectedResult = RxWriter.TOO_MANY_SEGMENTS;
            return;
        }
        final int needed = role.headerLength + frameLength;
        if (oracle.capacity < needed)
        {
            expectedResult = RxWriter.BUFFER_TOO_SMALL;
            return;
        }
        usedCapacity[0] = oracle.capacity;
        usedLength[0] = needed;
        expectedUsed = 1;
        expectedConsumed = 1;
        expectedResult = 1;
    }

    private void predictTx()
    {
        final int available = availDelta();
        if (available > q.size)
        {
            expectedError = QueueError.AVAIL_INDEX_JUMP;
            expectedResult = 0;
            return;
        }
        final int limit = Math.min(available, burst);
        long sinkRoom = SINK_CAPACITY;
        while (expectedConsumed < limit)
        {
            if (readHead(expectedConsumed, expectedUsed, false, 0) != READ ||
                oracle.outcome == ChainOracle.SCATTER_FULL)
            {
                break;
            }
            if (oracle.capacity < role.headerLength)
            {
                expectedError = QueueError.HEADER_TRUNCATED;
                break;
            }
            final long length = oracle.capacity - role.headerLength;
            if (length < TxReader.MIN_FRAME_LENGTH)
            {
                expectedRunt++;
            }
            else if (length > VirtioNetHeader.MAX_FRAME_LENGTH)
            {
                expectedTooLong++;
            }
            else if (oracle.byteAt(VirtioNetHeader.GSO_TYPE_OFFSET) != VirtioNetHeader.GSO_NONE)
            {
                expectedGso++;
            }
            else
            {
                if (expectedFrames == SINK_FRAMES || length > sinkRoom)
                {
                    break;
                }
                frameLengths[expectedFrames] = (int)length;
                frameCrcs[expectedFrames] = oracle.crcFrom(role.headerLength);
                expectedFrames++;
                sinkRoom -= length;
            }
            usedCapacity[expectedUsed] = oracle.capacity;
            usedLength[expectedUsed] = 0;
            expectedUsed++;
            expectedConsumed++;
        }
        expectedResult = expectedConsumed;
    }

    // ---- generation -------------------------------------------------------------------------------------------------

    private int chainsToOffer()
    {
        // Mostly a few chains: a broken chain ends the round, so chains past it are generated for nothing.
        final int r = random.nextInt(32);
        if (r < 28)
        {
            return 1 + random.nextInt(Math.min(4, q.size));
        }
        return r < 31 ? 1 + random.nextInt(q.size) : q.size;
    }

    private int availIndex(final int offered)
    {
        return switch (random.nextInt(64))
        {
            case 0 -> random.nextInt(0x10000);
            case 1 -> (base + q.size + 1 + random.nextInt(16)) & 0xFFFF;
            case 2 -> (base + q.size) & 0xFFFF;
            case 3 -> (base + random.nextInt(q.size + 1)) & 0xFFFF;
            default -> (base + offered) & 0xFFFF;
        };
    }

    private int frameLength()
    {
        final int r = random.nextInt(100);
        if (r < 55)
        {
            return random.nextInt(1515);
        }
        if (r < 80)
        {
            return 1515 + random.nextInt(7500);
        }
        if (r < 95)
        {
            return random.nextInt(VirtioNetHeader.MAX_FRAME_LENGTH + 1);
        }
        return r < 98 ? VirtioNetHeader.MAX_FRAME_LENGTH : VirtioNetHeader.MAX_FRAME_LENGTH + 1;
    }

    /** Plain random bytes in the descriptor table, the ring entries and a window of the indirect-table area. */
    private void writeRandomBytes(final int offered)
    {
        for (long i = 0; i < q.desc.byteSize(); i += 8)
        {
            q.desc.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
        }
        final long window = 4096;
        final long start = random.nextLong(TABLE_AREA_SIZE / window) * window;
        for (long i = 0; i < window; i += 8)
        {
            tables.set(ValueLayout.JAVA_LONG_UNALIGNED, start + i, random.nextLong());
        }
        for (int i = 0; i < offered; i++)
        {
            final int head = random.nextInt(0x10000);
            q.putRingHead(base + i, random.nextBoolean() ? head & q.mask : head);
        }
    }

    /**
     * One chain, over up to every descriptor and often padded with empty descriptors, whose head fills all
     * {@code offered} ring entries: the quadratic walk's worst case, made of chains each legal on its own.
     */
    private void writeRepeatedHead(final int offered)
    {
        repeatedHeadRounds++;
        emptyPadding = random.nextBoolean();
        clean = random.nextBoolean();
        final int direct = random.nextBoolean() ? q.size : 1 + random.nextInt(q.size);
        for (int d = 0; d < direct; d++)
        {
            final int pick = d + random.nextInt(q.size - d);
            final int index = q.free[pick];
            q.free[pick] = q.free[d];
            q.free[d] = index;
        }
        final int head = buildChain(java.util.Arrays.copyOf(q.free, direct));
        for (int i = 0; i < offered; i++)
        {
            q.putRingHead(base + i, head);
        }
    }

    private void writeStructuredChains(final int offered)
    {
        int free = q.size;
        for (int i = 0; i < offered; i++)
        {
            final int direct = directCount();
            final int[] indices = new int[direct];
            for (int d = 0; d < direct; d++)
            {
                if (free > 0)
                {
                    // Draw without replacement, so chains use disjoint descriptors while any are free.
                    final int pick = random.nextInt(free);
                    indices[d] = q.free[pick];
                    q.free[pick] = q.free[--free];
                    q.free[free] = indices[d];
                }
                else
                {
                    indices[d] = random.nextInt(q.size);
                }
            }
            final int head = buildChain(indices);
            q.putRingHead(base + i, random.nextInt(64) == 0 ? q.size + random.nextInt(0x10000 - q.size) : head);
        }
    }

    private int directCount()
    {
        return random.nextInt(32) == 0 ? 1 + random.nextInt(q.size) : 1 + random.nextInt(Math.min(4, q.size));
    }

    /** Writes a chain over {@code indices}, maybe ending in an indirect table, with occasional mutations. */
    private int buildChain(final int[] indices)
    {
        final boolean endsIndirect = random.nextInt(5) == 0;
        long firstData = -1;
        for (int i = 0; i < indices.length; i++)
        {
            final boolean last = i == indices.length - 1;
            final long data;
            if (last && endsIndirect)
            {
                data = writeIndirectDescriptor(indices[i]);
            }
            else
            {
                data = writeDataDescriptor(q.desc, indices[i], last ? -1 : indices[i + 1], q.size, indices[0]);
            }
            firstData = firstData < 0 ? data : firstData;
        }
        if (!role.receive() && firstData >= 0 && random.nextInt(4) != 0)
        {
            zeroHeaderAt(firstData);
        }
        return indices[0];
    }

    /**
     * Writes one data descriptor into {@code table} (a descriptor table or an indirect table).
     *
     * @param next       the next index of a well-formed chain, or -1 for its last descriptor.
     * @param loopTarget an earlier index of the same chain, for making loops.
     * @return its address, when it lies in guest memory and its first bytes could hold a header, else -1.
     */
    private long writeDataDescriptor(
        final MemorySegment table, final int index, final int next, final int tableSize, final int loopTarget)
    {
        final long length = randomLength();
        final long address = clean ? bufferArea + random.nextLong(bufferAreaSize - length + 1) : randomAddress(length);
        int flags = (role.receive() ? DESC_F_WRITE : 0) | (next >= 0 ? DESC_F_NEXT : 0);
        int nextField = Math.max(next, 0);
        final int r = clean ? 255 : random.nextInt(256);
        if (r < 3)
        {
            flags ^= DESC_F_WRITE;
        }
        else if (r < 5)
        {
            nextField = random.nextInt(0x10000);
            flags |= DESC_F_NEXT;
        }
        else if (r < 8)
        {
            nextField = random.nextInt(tableSize);
            flags |= DESC_F_NEXT;
        }
        else if (r < 10)
        {
            nextField = loopTarget;
            flags |= DESC_F_NEXT;
        }
        else if (r < 12)
        {
            flags &= ~DESC_F_NEXT;
        }
        else if (r < 13)
        {
            flags |= DESC_F_INDIRECT;
        }
        else if (r < 14)
        {
            flags = random.nextInt(0x10000);
        }
        TestVirtqueue.writeDescriptorAt(table, index, address, (int)length, flags, nextField);
        return length > 0 && oracle.regionOf(address, VirtioNetHeader.MRG_RXBUF_LENGTH) >= 0 ? address : -1;
    }

    /** Writes descriptor {@code index} as a reference to a freshly written indirect table, with mutations. */
    private long writeIndirectDescriptor(final int index)
    {
        final int entries = random.nextInt(32) == 0 ? q.size : 1 + random.nextInt(Math.min(q.size, 6));
        final long tableLength = (long)entries * DESC_SIZE;
        final long offset = random.nextLong((TABLE_AREA_SIZE - tableLength) / DESC_SIZE + 1) * DESC_SIZE;
        final MemorySegment table = tables.asSlice(offset, tableLength);
        long firstData = -1;
        for (int i = 0; i < entries; i++)
        {
            final long data = writeDataDescriptor(table, i, i < entries - 1 ? i + 1 : -1, entries, 0);
            firstData = firstData < 0 ? data : firstData;
            if (!clean && random.nextInt(128) == 0)
            {
                // A nested indirect descriptor, pointing at a plausible table.
                table.set(ValueLayout.JAVA_SHORT_UNALIGNED, (long)i * DESC_SIZE + DESC_FLAGS_OFFSET,
                    (short)(DESC_F_INDIRECT | (random.nextBoolean() ? DESC_F_NEXT : 0)));
            }
        }
        long length = tableLength;
        long address = tableArea + offset;
        int flags = DESC_F_INDIRECT | (random.nextBoolean() ? DESC_F_WRITE : 0);
        switch (clean ? 47 : random.nextInt(48))
        {
            case 0 -> length = 0;
            case 1 -> length += 1 + random.nextInt(15);
            case 2 -> length = (long)(q.size + 1 + random.nextInt(4)) * DESC_SIZE;
            case 3 -> length = random.nextLong(U32_MAX + 1);
            case 4 -> flags |= DESC_F_NEXT;
            case 5 -> address = randomAddress(length);
            default ->
            {
            }
        }
        TestVirtqueue.writeDescriptorAt(q.desc, index, address, (int)length, flags, random.nextInt(q.size));
        return firstData;
    }

    private void zeroHeaderAt(final long address)
    {
        oracle.view(address, VirtioNetHeader.MRG_RXBUF_LENGTH).fill((byte)0);
    }

    private long randomLength()
    {
        if (emptyPadding)
        {
            return random.nextInt(32) == 0 ? 1 + random.nextInt(64) : 0;
        }
        if (clean)
        {
            return random.nextInt(2049);
        }
        final int r = random.nextInt(100);
        if (r < 8)
        {
            return 0;
        }
        if (r < 60)
        {
            return 1 + random.nextInt(2048);
        }
        if (r < 75)
        {
            return 2049 + random.nextInt(18000);
        }
        if (r < 85)
        {
            return 8 + random.nextInt(8);
        }
        if (r < 92)
        {
            return random.nextLong(U32_MAX + 1);
        }
        return r < 96 ? U32_MAX - random.nextInt(64) : 1 + random.nextInt(64);
    }

    private long randomAddress(final long length)
    {
        final int r = random.nextInt(100);
        if (r < 80)
        {
            return bufferArea + random.nextLong(Math.max(bufferAreaSize - length + 1, 1));
        }
        if (r < 84)
        {
            return REGION_END - length;
        }
        if (r < 87)
        {
            return REGION_END - length + 1 + random.nextInt(8);
        }
        if (r < 90)
        {
            return REGION_END + random.nextLong(Math.max(ADJACENT_SIZE - length + 1, 1));
        }
        if (r < 92)
        {
            return ADJACENT_END - length + 1 + random.nextInt(8);
        }
        if (r < 94)
        {
            return random.nextLong();
        }
        if (r < 96)
        {
            return -1L - random.nextInt(64);
        }
        return r < 99 ? DEFAULT_BASE - 1 - random.nextInt(16) : 0;
    }

    // ---- coverage ---------------------------------------------------------------------------------------------------

    private void recordCoverage(final int result)
    {
        if (expectedError != null)
        {
            errorsSeen[expectedError.ordinal()]++;
        }
        validChains += expectedUsed;
        if (role.receive())
        {
            switch (result)
            {
                case RxWriter.NO_BUFFERS -> rxNoBuffers++;
                case RxWriter.BUFFER_TOO_SMALL -> rxTooSmall++;
                case RxWriter.TOO_MANY_SEGMENTS -> rxTooManySegments++;
                default -> rxDelivered += result > 0 ? 1 : 0;
            }
        }
        else
        {
            txSent += expectedFrames;
            txDropped += expectedTooLong + expectedGso + expectedRunt;
            txRunts += expectedRunt;
        }
        workLimits += limitHit ? 1 : 0;
    }

    private void printCoverage()
    {
        final StringBuilder errors = new StringBuilder();
        for (final QueueError e : QueueError.values())
        {
            errors.append(' ').append(e).append('=').append(errorsSeen[e.ordinal()]);
        }
        System.out.printf("RandomChainFuzzTest: %d rounds, %d chains examined, %d used; rx delivered=%d " +
            "no_buffers=%d too_small=%d too_many_segments=%d; tx sent=%d dropped=%d runts=%d; repeated-head rounds=%d " +
            "work limits=%d;%s%n",
            round, examined, validChains, rxDelivered, rxNoBuffers, rxTooSmall, rxTooManySegments, txSent, txDropped,
            txRunts, repeatedHeadRounds, workLimits, errors);
    }

    private void assertCoverage()
    {
        for (final QueueError e : QueueError.values())
        {
            if (e == QueueError.MEMORY_FAULT)
            {
                continue; // not a descriptor rule: the dataplane agent's, when peer memory shrinks (its own tests)
            }
            assertTrue(errorsSeen[e.ordinal()] > 0, "the generator never produced " + e + "; " + replay());
        }
        assertTrue(rxDelivered > CHAINS / 100, "too few RX deliveries: " + rxDelivered);
        assertTrue(txSent > CHAINS / 100, "too few TX frames sent: " + txSent);
        assertTrue(txRunts > 0, "the generator never produced a TX runt");
        assertTrue(workLimits > 0, "no round reached the descriptor read budget");
    }
}
