package io.pagewire.perf;

import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.SplitRingLayout;

/**
 * The guest's side of a benchmark queue, through the fixture's {@link DriverVirtqueue}: a fixed set of buffer
 * <em>slots</em> (each one chain: one buffer, a direct chain or an indirect table) is posted once, and each slot is
 * re-posted as soon as the device returns it, the way a guest driver refills its ring after NAPI poll. Everything is
 * preallocated; {@link #recycle()} and {@link #returnUnread} do not allocate.
 * <p>
 * A benchmark that calls {@link #recycle()} includes the driver's work in its score (a real guest does it on another
 * core). {@link #returnUnread} lets a second benchmark method measure that share alone.
 */
final class RecyclingDriver
{
    private final TestVirtqueue queue;
    private final DriverVirtqueue driver;
    private final long[][] addresses;
    private final int[][] lengths;
    private final long[] indirectTable;
    private final boolean deviceWritable;
    private final int[] slotOfHead;
    private final int[] reaped;

    /**
     * @param queue          the queue, its device side enabled (indirect negotiated if {@code indirect}).
     * @param addresses      guest addresses of each slot's buffers, {@code [slot][descriptor]}.
     * @param lengths        their lengths, same shape.
     * @param indirect       post each slot as one indirect descriptor pointing at a table of its buffers.
     * @param deviceWritable true for receive buffers.
     */
    RecyclingDriver(
        final TestVirtqueue queue, final long[][] addresses, final int[][] lengths, final boolean indirect,
        final boolean deviceWritable)
    {
        this.queue = queue;
        this.driver = queue.driver();
        this.addresses = addresses;
        this.lengths = lengths;
        this.deviceWritable = deviceWritable;
        this.slotOfHead = new int[queue.size()];
        this.reaped = new int[queue.size()];
        this.indirectTable = indirect ? new long[addresses.length] : null;
        if (indirect)
        {
            for (int slot = 0; slot < addresses.length; slot++)
            {
                indirectTable[slot] = queue.guest().allocate(
                    (long)addresses[slot].length * SplitRingLayout.DESC_SIZE, SplitRingLayout.DESC_TABLE_ALIGNMENT);
            }
        }
    }

    /** Posts every slot and publishes {@code avail.idx}. */
    void postAll()
    {
        for (int slot = 0; slot < addresses.length; slot++)
        {
            post(slot);
        }
        driver.publishAvail();
    }

    /**
     * Reaps every used element the device published, frees the chains and re-posts their slots, then publishes
     * {@code avail.idx} once.
     *
     * @return the number of chains recycled.
     */
    int recycle()
    {
        final DriverVirtqueue driver = this.driver;
        final int used = driver.usedAvailable();
        for (int i = 0; i < used; i++)
        {
            reaped[i] = slotOfHead[driver.usedId(i)];
        }
        driver.releaseUsed(used);
        for (int i = 0; i < used; i++)
        {
            post(reaped[i]);
        }
        driver.publishAvail();
        return used;
    }

    /**
     * The device's bookkeeping without reading any chain: takes the next {@code chains} available chains, returns
     * each as used with {@code usedLength} and publishes once. With {@link #recycle()} after it, this is the ring
     * round trip a writer or reader benchmark contains, minus the chain validation and the copying.
     *
     * @return chains returned, or a negative count when fewer were available.
     */
    int returnUnread(final DeviceVirtqueue device, final int chains, final int usedLength)
    {
        int available = device.availableChains();
        if (available < chains)
        {
            // availableChains() answers from the last avail.idx it read while that still shows chains; the writers
            // re-read it when they need more, and so must this.
            available = device.refreshAvailableChains();
            if (available < chains)
            {
                return available - chains - 1;
            }
        }
        for (int i = 0; i < chains; i++)
        {
            device.addUsed(device.availHead(i), usedLength);
        }
        device.consume(chains);
        device.publishUsed();
        return chains;
    }

    private void post(final int slot)
    {
        final long[] slotAddresses = addresses[slot];
        final int count = slotAddresses.length;
        final int head;
        if (indirectTable != null)
        {
            head = driver.addIndirectChain(indirectTable[slot], slotAddresses, lengths[slot], count, deviceWritable);
        }
        else if (count == 1)
        {
            head = driver.addBuffer(slotAddresses[0], lengths[slot][0], deviceWritable);
        }
        else
        {
            head = driver.addChain(slotAddresses, lengths[slot], count, deviceWritable);
        }
        if (head < 0)
        {
            throw new IllegalStateException("queue of " + queue.size() + " has no room for slot " + slot);
        }
        slotOfHead[head] = slot;
    }
}
