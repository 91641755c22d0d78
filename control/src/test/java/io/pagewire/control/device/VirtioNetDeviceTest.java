package io.pagewire.control.device;

import io.pagewire.config.PagewireConfig;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.guest.EmbeddedGuest;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.ShmNicPort;
import io.pagewire.dataplane.virtio.DeviceStatus;
import io.pagewire.dataplane.virtio.FeatureBit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static io.pagewire.dataplane.virtio.DeviceStatus.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Feature negotiation and the status state machine (virtio 1.2 §3.1), driven the way a driver drives it, with the
 * dataplane agent stepped by hand ({@code doWork()}) on the test thread.
 */
class VirtioNetDeviceTest
{
    @TempDir
    Path temp;

    private final GuestMemory memory = new GuestMemory();
    private final DataplaneProxy proxy = new DataplaneProxy();
    private final DataplaneAgent agent = new DataplaneAgent("test-dataplane", proxy, null, -1);
    private ShmNicPort nic;
    private EmbeddedGuest guest;

    @AfterEach
    void tearDown()
    {
        if (guest != null)
        {
            guest.close();
        }
        if (nic != null)
        {
            nic.closeAndDelete();
        }
    }

    private VirtioNetDevice device(final String... overrides)
    {
        final PagewireConfig config = PagewireConfig.load(null, List.of(overrides));
        nic = ShmNicPort.create(temp.resolve("nic.ring"), 64, 2048);
        guest = new EmbeddedGuest(config, memory);
        return new VirtioNetDevice(config, memory, proxy, nic, GuestNotifier.POLLING, null);
    }

    private void stepDataplane() throws Exception
    {
        for (int i = 0; i < 4; i++)
        {
            agent.doWork();
        }
    }

    @Test
    void offersWhatTheConfigSays()
    {
        final VirtioNetDevice device = device("features.event_idx=false");
        final long offered = device.deviceFeatures();
        assertTrue(FeatureBit.MRG_RXBUF.isSetIn(offered));
        assertTrue(FeatureBit.VERSION_1.isSetIn(offered));
        assertTrue(FeatureBit.INDIRECT_DESC.isSetIn(offered));
        assertFalse(FeatureBit.EVENT_IDX.isSetIn(offered));
        assertFalse(FeatureBit.GUEST_TSO4.isSetIn(offered), "no receive offloads by default");
        assertFalse(FeatureBit.GUEST_CSUM.isSetIn(offered));
    }

    @Test
    void guestTsoOffersTheReceiveOffloadsWithTheChecksumTheyDependOn()
    {
        final long offered = device("features.guest_tso=true").deviceFeatures();
        assertTrue(FeatureBit.GUEST_CSUM.isSetIn(offered));
        assertTrue(FeatureBit.GUEST_TSO4.isSetIn(offered));
        assertTrue(FeatureBit.GUEST_TSO6.isSetIn(offered));
        assertFalse(FeatureBit.HOST_TSO4.isSetIn(offered), "the guest's own TSO stays off: pagewire does not segment");
    }

    @Test
    void featuresNotOfferedAreRefusedAtFeaturesOk()
    {
        final VirtioNetDevice device = device("features.mrg_rxbuf=false", "rx.mode=big");
        device.status(ACKNOWLEDGE | DRIVER);
        device.driverFeatures(FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask());
        device.status(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        assertEquals(0, device.status() & FEATURES_OK, "FEATURES_OK stays clear: MRG_RXBUF was not offered");
        assertEquals(1, device.featuresRefused());
        assertTrue(device.log().getLast().contains("MRG_RXBUF"), device.log().toString());
        assertEquals(0, device.negotiatedFeatures());

        device.status(ACKNOWLEDGE | DRIVER | DRIVER_OK);
        assertNotEquals(0, device.status() & DEVICE_NEEDS_RESET, "DRIVER_OK without FEATURES_OK");
        assertNull(device.attached());
    }

    @Test
    void unknownFeatureBitsAreRefused()
    {
        final VirtioNetDevice device = device();
        device.status(ACKNOWLEDGE | DRIVER);
        device.driverFeatures(device.deviceFeatures() | (1L << 50));
        device.status(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        assertEquals(0, device.status() & FEATURES_OK);
        assertTrue(device.log().getLast().contains("BIT_50"), device.log().toString());
    }

    @Test
    void mergeableNegotiationGivesTheMergeableWriterAnd12ByteHeader() throws Exception
    {
        final VirtioNetDevice device = device();
        guest.start(device);
        assertEquals(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, device.status());
        assertTrue(FeatureBit.MRG_RXBUF.isSetIn(device.negotiatedFeatures()));
        stepDataplane();
        assertEquals(1, agent.queuePairCount());
        assertTrue(device.attached().rxQueue().isRunning());
    }

    @Test
    void withoutMrgRxbufTheHeaderIs12WithVersion1And10Without() throws Exception
    {
        for (final boolean version1 : new boolean[] {true, false})
        {
            final VirtioNetDevice device = device("rx.mode=big", "features.version_1=" + version1);
            guest.start(device);
            final QueuePair pair = device.attached();
            assertNotNull(pair, device.log().toString());
            assertFalse(FeatureBit.MRG_RXBUF.isSetIn(device.negotiatedFeatures()));
            assertEquals(version1, FeatureBit.VERSION_1.isSetIn(device.negotiatedFeatures()));
            stepDataplane();
            final long before = nic.rxRing().producerIndex();
            // One frame through: the used length tells the header size the device chose.
            final long slot = nic.rxRing().claim(100);
            assertNotEquals(0, slot);
            nic.rxRing().commit(100);
            assertEquals(before + 1, nic.rxRing().producerIndex());
            stepDataplane();
            assertEquals(1, pair.rxPackets());
            assertEquals(1, pair.buffersPerPacket()[1]);
            assertEquals(version1 ? 12 : 10, usedLengthOfFirstElement(pair) - 100,
                "header length with VERSION_1=" + version1);
            whileDataplaneRuns(() -> device.status(0));
            assertEquals(0, agent.queuePairCount(), "reset detaches");
            tearDown();
            memory.clear();
            nic = null;
            guest = null;
        }
    }

    private int usedLengthOfFirstElement(final QueuePair pair)
    {
        final java.lang.foreign.MemorySegment all = java.lang.foreign.MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        final long used = ringAddress(pair);
        return all.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, used + 8);
    }

    private long ringAddress(final QueuePair pair)
    {
        return pair.rxRings().usedRing();
    }

    @Test
    void resetStopsTheQueuesAndHandsThemBack() throws Exception
    {
        final VirtioNetDevice device = device();
        guest.start(device);
        stepDataplane();
        final QueuePair pair = device.attached();
        whileDataplaneRuns(() -> device.status(0));
        assertEquals(0, device.status());
        assertSame(pair, device.lastDetached());
        assertFalse(pair.rxQueue().isRunning(), "queues disabled");
        assertEquals(0, agent.queuePairCount());
    }

    /** Runs {@code action} on this (control) thread while the agent runs its duty cycle on another. */
    private void whileDataplaneRuns(final Runnable action) throws InterruptedException
    {
        final Thread dataplane = Thread.ofPlatform().name("test-dataplane").start(() ->
        {
            try
            {
                while (!Thread.currentThread().isInterrupted())
                {
                    agent.doWork();
                }
            }
            catch (final Exception e)
            {
                throw new IllegalStateException(e);
            }
        });
        try
        {
            action.run();
        }
        finally
        {
            dataplane.interrupt();
            dataplane.join();
        }
    }

    @Test
    void queueSetupOutsideGuestMemoryNeedsReset()
    {
        final VirtioNetDevice device = device();
        device.status(ACKNOWLEDGE | DRIVER);
        device.driverFeatures(device.deviceFeatures());
        device.status(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        device.queue(0, 256, 0x10, 0x2000, 0x3000);
        device.queue(1, 256, 0x10, 0x2000, 0x3000);
        device.status(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        assertNotEquals(0, device.status() & DEVICE_NEEDS_RESET);
        assertTrue(device.log().getLast().contains("ring outside guest memory"), device.log().toString());
        assertEquals(1, device.setupRefused());
        assertNull(device.attached());
    }

    @Test
    void statusDescribesBits()
    {
        assertEquals("ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK", DeviceStatus.describe(15));
        assertEquals("0", DeviceStatus.describe(0));
        assertEquals("DRIVER|DEVICE_NEEDS_RESET", DeviceStatus.describe(DRIVER | DEVICE_NEEDS_RESET));
    }
}
