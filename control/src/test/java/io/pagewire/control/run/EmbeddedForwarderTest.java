package io.pagewire.control.run;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.VerifyStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The assembled forwarder, in process: steady-state allocation, and a guest reset in the middle of traffic. */
class EmbeddedForwarderTest
{
    @TempDir
    Path temp;

    private static void runFor(final EmbeddedForwarder forwarder, final long millis) throws InterruptedException
    {
        final long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() - end < 0)
        {
            forwarder.poll();
            Thread.sleep(5);
        }
    }

    @Test
    void dataplaneAllocatesNothingPerPacketInSteadyState() throws Exception
    {
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(PagewireConfig.defaults(), temp))
        {
            forwarder.start();
            runFor(forwarder, 3000);
            forwarder.stop();
            assertNull(forwarder.failure());
            assertTrue(forwarder.finalPair().rxPackets() > 10_000, "traffic flowed");
            // Any allocation per packet costs at least 16 bytes per packet. What a threaded run can still show is a
            // one-off few hundred bytes when the JIT deoptimizes late on a loaded machine; the exact-zero count over
            // 2x10^6 frames is asserted deterministically on one thread by AllocationFreeTest.
            final double perPacket = forwarder.dataplaneAllocatedBytesPerPacket();
            assertTrue(perPacket < 0.05, "dataplane bytes allocated per packet in steady state: " + perPacket +
                " (" + forwarder.dataplaneAllocatedBytes() + " bytes)");
        }
    }

    @Test
    void guestResetMidTrafficStopsTheQueuesWithoutCorruptionAndCountersAddUp() throws Exception
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of("guest.tx=off"));
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(config, temp))
        {
            forwarder.start();
            runFor(forwarder, 700);
            forwarder.device().status(0);
            final QueuePair pair = forwarder.device().lastDetached();
            assertNotNull(pair, "the dataplane handed the queue pair back");
            assertFalse(pair.rxQueue().isRunning());
            assertFalse(pair.txQueue().isRunning());
            final long deliveredAtReset = pair.rxPackets();
            runFor(forwarder, 200);
            forwarder.stop();

            assertEquals(deliveredAtReset, pair.rxPackets(), "nothing delivered after the reset");
            final VerifyStats verify = forwarder.peer().guest().verify();
            assertEquals(0, verify.corrupt());
            assertEquals(0, verify.duplicated());
            assertEquals(0, verify.reordered());
            assertEquals(pair.rxPackets(), verify.checked(), "the guest saw every frame delivered before the reset");
            // Wait policy: every frame the source sent was delivered or still waits in the NIC ring.
            final int waiting = forwarder.peer().source().sent() == pair.rxPackets() ? 0 :
                config.nic().ringSize() - nicFreeSlots(forwarder);
            assertEquals(forwarder.peer().source().sent(), pair.rxPackets() + waiting);
            assertTrue(pair.rxPackets() > 0);
        }
    }

    private static int nicFreeSlots(final EmbeddedForwarder forwarder)
    {
        return forwarder.peer().nicRxFreeSlots();
    }
}
