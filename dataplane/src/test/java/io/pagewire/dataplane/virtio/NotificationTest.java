package io.pagewire.dataplane.virtio;

import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

/** Notification suppression both ways (§2.7.10), with and without EVENT_IDX. */
class NotificationTest
{
    private final FakeGuestMemory guest = FakeGuestMemory.ofSize(1 << 20);

    @AfterEach
    void tearDown()
    {
        guest.close();
    }

    private static void postAndUse(final TestVirtqueue queue, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            queue.driver().addBuffer(queue.guest().allocate(64, 8), 64, true);
        }
        queue.driver().publishAvail();
        final DeviceVirtqueue device = queue.device();
        assertEquals(count, device.availableChains());
        for (int i = 0; i < count; i++)
        {
            device.addUsed(device.availHead(0), 0);
            device.consume(1);
        }
    }

    @Test
    void withoutEventIdxTheDeviceSetsNoNotifyAndHonoursNoInterrupt()
    {
        final TestVirtqueue queue = new TestVirtqueue(guest, 16, false, false);
        final int usedFlags = guest.segment(queue.usedRing(), 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0);
        assertEquals(SplitRingLayout.USED_F_NO_NOTIFY, usedFlags, "a polling device asks not to be kicked");
        queue.driver().addBuffer(guest.allocate(64, 8), 64, true);
        assertFalse(queue.driver().publishAvail(), "so the driver does not kick");

        queue.device().availableChains();
        queue.device().addUsed(queue.device().availHead(0), 0);
        queue.device().consume(1);
        assertTrue(queue.device().publishUsed(), "driver did not suppress interrupts: notify");

        queue.driver().suppressInterrupts();
        postAndUse(queue, 1);
        assertFalse(queue.device().publishUsed(), "VIRTQ_AVAIL_F_NO_INTERRUPT: no notification");
        assertFalse(queue.device().publishUsed(), "nothing new: no notification");
    }

    @Test
    void withEventIdxTheDeviceNotifiesOnlyWhenUsedEventIsCrossed()
    {
        final TestVirtqueue queue = new TestVirtqueue(guest, 16, true, false);
        final DriverVirtqueue driver = queue.driver();

        postAndUse(queue, 1);
        // used_event starts at 0: moving used.idx 0 -> 1 crosses it.
        assertTrue(queue.device().publishUsed());
        assertEquals(1, driver.usedAvailable());
        driver.releaseUsed(1); // used_event = 1

        postAndUse(queue, 3);
        assertTrue(queue.device().publishUsed(), "1 -> 4 crosses used_event 1");

        // The driver does not release (used_event stays 1): 4 -> 6 does not cross it.
        postAndUse(queue, 2);
        assertFalse(queue.device().publishUsed());
    }

    @Test
    void withEventIdxTheDriverNeverNeedsToKickAPollingDevice()
    {
        final TestVirtqueue queue = new TestVirtqueue(guest, 16, true, false);
        for (int round = 0; round < 100; round++)
        {
            queue.driver().addBuffer(guest.allocate(8, 8), 8, true);
            assertFalse(queue.driver().publishAvail(), "round " + round + ": avail_event kept out of reach");
            postAndUseOne(queue);
            queue.device().publishUsed();
            queue.driver().usedAvailable();
            queue.driver().releaseUsed(1);
        }
    }

    private static void postAndUseOne(final TestVirtqueue queue)
    {
        final DeviceVirtqueue device = queue.device();
        assertEquals(1, device.availableChains());
        device.addUsed(device.availHead(0), 0);
        device.consume(1);
    }

    @Test
    void needsEventFollowsTheSpecWithWrapAround()
    {
        assertTrue(SplitRingLayout.needsEvent(0, 1, 0));
        assertFalse(SplitRingLayout.needsEvent(1, 1, 0));
        assertTrue(SplitRingLayout.needsEvent(0xFFFF, 2, 0xFFFE), "crossing 0xFFFF across the wrap");
        assertFalse(SplitRingLayout.needsEvent(5, 2, 0xFFFE));
    }
}
