package io.pagewire.dataplane.engine;

import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.os.Fds;
import io.pagewire.dataplane.os.Mapping;
import io.pagewire.dataplane.os.MemoryFiles;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.QueueError;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A peer that shrinks the memory behind a running queue pair (ftruncate after it was shared): the agent's thread,
 * run by {@link DataplaneRunner} as the forwarder runs it, survives the SIGBUS; the pair whose memory went is broken
 * with {@link QueueError#MEMORY_FAULT} and reported; another pair on the same agent, over memory that stays, goes on
 * forwarding. Each pair's guest is a memfd mapped twice, as a frontend's and pagewire's mappings are.
 */
class DataplaneAgentMemoryFaultTest
{
    private static final long GUEST_BASE = 0x1_0000_0000L;
    private static final long MEMORY_SIZE = 1 << 20;
    private static final int RING_SIZE = 64;
    private static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask();

    @TempDir
    Path temp;

    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();
    private final List<Guest> guests = new ArrayList<>();
    private DataplaneRunner runner;

    /** One guest: its memfd, the frontend's mapping and pagewire's, rings, a NIC port, the queue pair. */
    private final class Guest implements AutoCloseable
    {
        final int memfd;
        final Mapping frontendMapping;
        final Mapping backendMapping;
        final GuestMemory frontendView = new GuestMemory();
        final GuestMemory backendView = new GuestMemory();
        final ShmNicPort nic;
        final DriverVirtqueue rx;
        final DriverVirtqueue tx;
        final QueuePair pair;
        long next = GUEST_BASE;

        Guest(final int index, final boolean withBacking)
        {
            memfd = Fds.memfdCreate("test-guest-" + index, MEMORY_SIZE);
            frontendMapping = Mapping.map(memfd, 0, MEMORY_SIZE);
            backendMapping = Mapping.map(memfd, 0, MEMORY_SIZE);
            frontendView.addRegion(GUEST_BASE, MEMORY_SIZE, GUEST_BASE, frontendMapping.address());
            backendView.addRegion(GUEST_BASE, MEMORY_SIZE, GUEST_BASE, backendMapping.address(),
                withBacking ? MemoryFiles.duplicate(memfd) : -1, MEMORY_SIZE);
            nic = ShmNicPort.create(temp.resolve("nic" + index), 256, 2048);
            rx = ring();
            tx = ring();
            final DeviceVirtqueue rxQueue = new DeviceVirtqueue(RING_SIZE, backendView);
            final DeviceVirtqueue txQueue = new DeviceVirtqueue(RING_SIZE, backendView);
            pair = new QueuePair(index, rxQueue, new MergeableRxWriter(rxQueue), txQueue,
                new TxReader(txQueue, 12, FEATURES), addresses(rx), addresses(tx), FEATURES, nic, queue -> { },
                RxPolicy.DROP, 32, null).guestMemory(backendView);
        }

        private DriverVirtqueue ring()
        {
            final long desc = allocate(SplitRingLayout.descTableLength(RING_SIZE));
            final long avail = allocate(SplitRingLayout.availRingLength(RING_SIZE));
            final long used = allocate(SplitRingLayout.usedRingLength(RING_SIZE));
            return new DriverVirtqueue(RING_SIZE, frontendView, desc, avail, used, false);
        }

        private QueuePair.RingAddresses addresses(final DriverVirtqueue queue)
        {
            // The driver's addresses are the frontend mapping's; the same offsets in pagewire's mapping.
            final long shift = backendMapping.address() - frontendMapping.address();
            return new QueuePair.RingAddresses(queue.descTableAddress() + shift, queue.availRingAddress() + shift,
                queue.usedRingAddress() + shift, 0);
        }

        long allocate(final long length)
        {
            final long address = next;
            next += (length + 63) & ~63L;
            return address;
        }

        /** Posts receive buffers and one frame on the NIC; returns the used count to wait for. */
        int sendOneFrameToGuest()
        {
            rx.addBuffer(allocate(2048), 2048, true);
            rx.publishAvail();
            final long slot = nic.rxRing().claim(100);
            assertNotEquals(0, slot, "NIC ring has room");
            nic.rxRing().commit(100);
            return 1;
        }

        /** Frames the guest received and released so far. */
        long received;

        boolean takeReceived()
        {
            final int used = rx.usedAvailable();
            if (used > 0)
            {
                rx.releaseUsed(used);
                received += used;
            }
            return used > 0;
        }

        @Override
        public void close()
        {
            nic.closeAndDelete();
            backendMapping.close();
            frontendMapping.close();
            backendView.closeBackingFds();
            Fds.closeQuietly(memfd);
        }
    }

    @AfterEach
    void tearDown()
    {
        if (runner != null)
        {
            runner.close();
        }
        guests.forEach(Guest::close);
    }

    @Test
    void shrunkMemoryBreaksOnlyItsPairAndTheAgentGoesOn() throws Exception
    {
        final Guest hostile = guest(0, true);
        final Guest other = guest(1, true);
        start();
        for (final Guest guest : guests)
        {
            proxy.attach(guest.pair);
        }
        await(() -> agent.queuePairCount() == 2, "both pairs attached");
        for (final Guest guest : guests)
        {
            guest.sendOneFrameToGuest();
            await(guest::takeReceived, "a frame in guest " + guest.pair.index());
        }

        MemoryFiles.truncate(hostile.memfd, 0);

        await(() -> events.contains("QUEUE_BROKEN 0 rx MEMORY_FAULT"), "pair 0 reported broken by a memory fault");
        assertTrue(events.contains("QUEUE_BROKEN 0 tx MEMORY_FAULT"), "both rings of pair 0 reported: " + events);
        assertTrue(hostile.pair.memoryFault());
        assertFalse(other.pair.memoryFault(), "the other pair's memory is still there");
        assertTrue(agent.memoryFaults() >= 1);
        assertEquals(0, agent.memoryFaultsUnattributed(), "the shrunk memory was found");
        assertEquals(QueueError.MEMORY_FAULT, hostile.pair.rxQueue().brokenReason());
        assertNull(other.pair.rxQueue().brokenReason());
        assertTrue(runner.isRunning(), "the agent's thread goes on");

        // The other pair still forwards, frame after frame.
        for (int i = 0; i < 20; i++)
        {
            other.sendOneFrameToGuest();
            await(other::takeReceived, "frame " + i + " in the other guest");
        }
        final long faults = agent.memoryFaults();
        Thread.sleep(50);
        assertEquals(faults, agent.memoryFaults(), "a broken pair is no longer polled (no fault after fault)");

        // Both pairs are given back on request: the hostile one's memory may then be unmapped.
        proxy.detach(0);
        proxy.detach(1);
        await(() -> events.contains("DETACHED 0") && events.contains("DETACHED 1"), "both pairs given back");
        assertNull(failure.get());
    }

    @Test
    void aFaultNoMemoryCheckExplainsBreaksThePairThatTouchedMemory() throws Exception
    {
        // No backing fd kept: the agent cannot find what went, and blames the only pair it ran.
        final Guest hostile = guest(0, false);
        start();
        proxy.attach(hostile.pair);
        await(() -> agent.queuePairCount() == 1, "the pair attached");

        MemoryFiles.truncate(hostile.memfd, 0);

        await(() -> events.contains("QUEUE_BROKEN 0 rx MEMORY_FAULT"), "pair 0 reported broken");
        assertTrue(agent.memoryFaultsUnattributed() >= 1);
        assertTrue(runner.isRunning());
        proxy.detach(0);
        await(() -> events.contains("DETACHED 0"), "the pair given back");
        assertNull(failure.get());
    }

    /**
     * The memory goes before the pair starts (truncated between SET_MEM_TABLE and the last kick): attaching reads the
     * rings and faults inside the command handler. That pair is broken and still attached (so its breakage is reported
     * and it can be detached), the command is not applied twice, and a running pair is not blamed.
     */
    @Test
    void memoryShrunkBeforeAttachBreaksThatPairNotARunningOne() throws Exception
    {
        final Guest other = guest(1, true);
        final Guest hostile = guest(0, true);
        start();
        proxy.attach(other.pair);
        await(() -> agent.queuePairCount() == 1, "the good pair attached");
        other.sendOneFrameToGuest();
        await(other::takeReceived, "a frame in the good guest");

        MemoryFiles.truncate(hostile.memfd, 0);
        proxy.attach(hostile.pair);

        await(() -> events.contains("QUEUE_BROKEN 0 rx MEMORY_FAULT"), "the attaching pair reported broken");
        assertTrue(events.contains("ATTACHED 0"), "it was attached all the same: " + events);
        assertFalse(other.pair.memoryFault(), "the running pair is not blamed");
        assertEquals(2, agent.queuePairCount());
        for (int i = 0; i < 5; i++)
        {
            other.sendOneFrameToGuest();
            await(other::takeReceived, "frame " + i + " in the good guest after the fault");
        }
        proxy.detach(0);
        await(() -> events.contains("DETACHED 0"), "the broken pair given back");
        assertEquals(1, agent.queuePairCount());
        assertTrue(runner.isRunning());
        assertNull(failure.get());
    }

    private Guest guest(final int index, final boolean withBacking)
    {
        final Guest guest = new Guest(index, withBacking);
        guests.add(guest);
        return guest;
    }

    private void start()
    {
        runner = DataplaneRunner.start(new SleepingIdleStrategy(10_000), failure::set, agent);
    }

    private void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (true)
        {
            proxy.pollEvents((event, sequence, endOfBatch) ->
            {
                events.add(event.type() + " " + event.queuePair().index() +
                    (event.type() == DataplaneEvent.Type.QUEUE_BROKEN ? (event.rx() ? " rx " : " tx ") + event.error() :
                    ""));
                return true;
            });
            if (condition.getAsBoolean())
            {
                return;
            }
            if (failure.get() != null)
            {
                fail("the dataplane reported an error", failure.get());
            }
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out waiting for " + what + "; events " + events + ", agent thread " +
                    (runner.isRunning() ? "running" : "ended"));
            }
            Thread.sleep(1);
        }
    }
}
