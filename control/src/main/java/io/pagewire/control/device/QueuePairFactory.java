package io.pagewire.control.device;

import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.rx.ChainRxWriter;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.rx.RxWriter;
import io.pagewire.dataplane.stats.QueueCounters;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.DeviceVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;

/**
 * The one place a running queue pair is built from what negotiation produced, whichever transport negotiated it
 * (the embedded guest through {@link VirtioNetDevice}, or a vhost-user frontend): ring checks and translation, the
 * RX writer chosen by the features (mergeable with MRG_RXBUF, else one chain per packet), the header length (12
 * with MRG_RXBUF or VERSION_1, else 10), counters.
 */
public final class QueuePairFactory
{
    private QueuePairFactory()
    {
    }

    /**
     * Checks a ring's size and alignment (virtio 1.2 §2.7, "Virtqueue Part Alignment").
     *
     * @return null when fine, else what is wrong, naming the value.
     */
    public static String checkRing(
        final String name, final int size, final int maxSize, final long desc, final long avail, final long used)
    {
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1)
        {
            return name + " size=" + size + ": must be a power of two in 1.." + maxSize;
        }
        if ((desc & (SplitRingLayout.DESC_TABLE_ALIGNMENT - 1)) != 0 ||
            (avail & (SplitRingLayout.AVAIL_RING_ALIGNMENT - 1)) != 0 ||
            (used & (SplitRingLayout.USED_RING_ALIGNMENT - 1)) != 0)
        {
            return name + ": misaligned ring (desc 0x" + Long.toHexString(desc) + ", avail 0x" +
                Long.toHexString(avail) + ", used 0x" + Long.toHexString(used) + ")";
        }
        return null;
    }

    /**
     * Translates a ring's three parts, each over its whole length.
     *
     * @param userAddresses true for a vhost-user frontend's virtual addresses, false for guest-physical ones.
     * @return the host addresses, or null when any part is not wholly inside one region.
     */
    public static QueuePair.RingAddresses translate(
        final GuestMemory memory, final boolean userAddresses, final int size, final long desc, final long avail,
        final long used, final int baseIndex)
    {
        final long descHost = translate(memory, userAddresses, desc, SplitRingLayout.descTableLength(size));
        final long availHost = translate(memory, userAddresses, avail, SplitRingLayout.availRingLength(size));
        final long usedHost = translate(memory, userAddresses, used, SplitRingLayout.usedRingLength(size));
        if (descHost == GuestMemory.NOT_MAPPED || availHost == GuestMemory.NOT_MAPPED ||
            usedHost == GuestMemory.NOT_MAPPED)
        {
            return null;
        }
        return new QueuePair.RingAddresses(descHost, availHost, usedHost, baseIndex);
    }

    private static long translate(final GuestMemory memory, final boolean user, final long address, final int length)
    {
        return user ? memory.translateUser(address, length) : memory.translate(address, length);
    }

    /**
     * Builds a queue pair for negotiated features; nothing runs until it is attached to an agent.
     *
     * @param counters the pair's counters (allocated once per pair index and kept across restarts, so that
     *                 {@code pagewire stat} sees monotonic totals), or null.
     */
    public static QueuePair create(
        final int index,
        final long negotiatedFeatures,
        final GuestMemory memory,
        final int rxSize,
        final QueuePair.RingAddresses rxRings,
        final int txSize,
        final QueuePair.RingAddresses txRings,
        final NicPort nic,
        final GuestNotifier notifier,
        final RxPolicy policy,
        final int burst,
        final QueueCounters counters)
    {
        final int headerLength = VirtioNetHeader.length(negotiatedFeatures);
        final DeviceVirtqueue rxQueue = new DeviceVirtqueue(rxSize, memory);
        final DeviceVirtqueue txQueue = new DeviceVirtqueue(txSize, memory);
        final RxWriter writer = FeatureBit.MRG_RXBUF.isSetIn(negotiatedFeatures) ?
            new MergeableRxWriter(rxQueue) : new ChainRxWriter(rxQueue, headerLength);
        return new QueuePair(index, rxQueue, writer, txQueue, new TxReader(txQueue, headerLength, negotiatedFeatures),
            rxRings, txRings,
            negotiatedFeatures, nic, notifier, policy, Math.min(burst, Math.min(rxSize, txSize)),
            counters).guestMemory(memory);
    }
}
