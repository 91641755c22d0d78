package io.pagewire.dataplane.guest;

import io.pagewire.config.BufferSizing;
import io.pagewire.config.GuestTx;
import io.pagewire.config.NicType;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.RxMode;
import io.pagewire.dataplane.memory.GuestMemory;
import io.pagewire.dataplane.memory.MemoryCopy;
import io.pagewire.dataplane.virtio.DeviceStatus;
import io.pagewire.dataplane.virtio.DriverVirtqueue;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A virtio-net <em>driver</em> model, the guest that the embedded default runs against: it negotiates features
 * through a {@link VirtioTransport} (the same control code a vhost-user frontend reaches), posts receive buffers the
 * way Linux's virtio_net does in each mode, reaps them in NAPI-style polls, verifies every frame it receives, and
 * optionally echoes each one back out on its transmit queue.
 * <ul>
 *   <li><b>mergeable</b>: single-descriptor buffers of {@code rx.buffer_size} bytes, or sized by a running average
 *       of packet lengths ({@code guest.rx.buffer_sizing=ewma}, Linux's {@code get_mergeable_buf_len});</li>
 *   <li><b>big</b>: chains of {@code rx.big.descriptors} descriptors, a header-sized one then pages (the legacy
 *       max-size scheme: 256 / 20 = 12 packets in a 256-entry ring);</li>
 *   <li><b>small</b>: one buffer per packet.</li>
 * </ul>
 * NAPI: when used buffers appear while the guest is idle, its first poll happens {@code guest.wakeup_latency_ns}
 * later (interrupt + scheduling); a poll takes at most {@code guest.napi_budget} packets, and the guest stays
 * scheduled while polls use their whole budget. Buffers are re-posted once {@code guest.refill_batch} are free.
 * <p>
 * One thread (the peer thread) calls {@link #poll(long)}; nothing allocates after construction.
 */
public final class EmbeddedGuest
{
    private static final int EWMA_WEIGHT = 64;
    private static final int GOOD_PACKET_LEN = 1518;
    private static final int PAGE = 4096;

    private final GuestRam ram;
    private final GuestMemory memory;
    private final RxMode mode;
    private final int rxQueueSize;
    private final int txQueueSize;
    private final int bufferSize;
    private final int descriptorsPerChain;
    private final boolean ewma;
    private final boolean echo;
    private final int budget;
    private final long wakeupLatencyNs;
    private final int refillBatch;
    /** The traffic source's frame size ({@code traffic.frame_size}). */
    private final int maxFrameLength;
    /**
     * Whether every received frame must be a test frame of {@link #maxFrameLength} bytes (the shm NIC, fed only by
     * the embedded traffic source); with a real NIC port other traffic is counted as foreign, not as corrupt.
     */
    private final boolean strictVerify;

    private final UnsafeBuffer frameView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer headerView = new UnsafeBuffer(0, 0);
    private final long scratch;

    private final int rxSlots;
    private final long[] rxSlotAddress;
    private final int[] rxSlotOfHead;
    private final int[] rxFreeSlots;
    private int rxFreeCount;
    private final long[] chainAddresses;
    private final int[] chainLengths;

    private final long[] txSlotAddress;
    private final int[] txSlotOfHead;
    private final int[] txFreeSlots;
    private int txFreeCount;

    private final VerifyStats verify = new VerifyStats();
    private final LatencyRecorder latency;
    private DriverVirtqueue rx;
    private DriverVirtqueue tx;
    private int headerLength;
    private long negotiatedFeatures;
    private long offeredFeatures;

    private boolean scheduled;
    private long pollAtNs;
    private long averagePacketLength = GOOD_PACKET_LEN;
    private long polls;
    private long echoed;
    private long echoDropped;
    private long malformed;

    /**
     * Sizes everything from the config and allocates the guest's RAM, rings and buffers.
     *
     * @param config the run's configuration ({@code rx.*}, {@code virtqueue.*}, {@code guest.*}, the frame size).
     * @param memory the region table the device translates through; the guest's RAM is registered in it.
     */
    public EmbeddedGuest(final PagewireConfig config, final GuestMemory memory)
    {
        this(config, memory, null);
    }

    /**
     * Sizes everything from the config and allocates the guest's RAM, rings and buffers; records the latency of
     * every intact frame it receives.
     *
     * @param config  the run's configuration ({@code rx.*}, {@code virtqueue.*}, {@code guest.*}, the frame size).
     * @param memory  the region table the device translates through; the guest's RAM is registered in it.
     * @param latency where to record, for each intact frame, the time from its intended send time to the moment
     *                the guest consumes it (after copying it out of its buffers); null records nothing.
     */
    public EmbeddedGuest(final PagewireConfig config, final GuestMemory memory, final LatencyRecorder latency)
    {
        this.latency = latency;
        mode = config.rx().mode();
        rxQueueSize = config.virtqueue().rxSize();
        txQueueSize = config.virtqueue().txSize();
        bufferSize = config.rx().bufferSize();
        descriptorsPerChain = mode == RxMode.BIG ? config.rx().bigDescriptors() : 1;
        ewma = config.guest().rxBufferSizing() == BufferSizing.EWMA;
        echo = config.guest().tx() == GuestTx.ECHO;
        budget = config.guest().napiBudget();
        wakeupLatencyNs = config.guest().wakeupLatencyNs();
        refillBatch = Math.min(config.guest().refillBatch(), Math.max(1, rxQueueSize / descriptorsPerChain));
        maxFrameLength = config.traffic().frameSize();
        strictVerify = config.nic().type() == NicType.SHM;

        rxSlots = rxQueueSize / descriptorsPerChain;
        final long rxSlotBytes = mode == RxMode.BIG ?
            VirtioNetHeader.MRG_RXBUF_LENGTH + (long)(descriptorsPerChain - 1) * bufferSize :
            ewma ? PAGE : bufferSize;
        // Echoes of a real NIC's frames can be as long as any frame.
        final long txSlotBytes = VirtioNetHeader.MRG_RXBUF_LENGTH +
            (long)(strictVerify ? maxFrameLength : VirtioNetHeader.MAX_FRAME_LENGTH);
        final long ramSize = align(rxSlots * align(rxSlotBytes, 64) + txQueueSize * align(txSlotBytes, 64) +
            ringBytes(rxQueueSize) + ringBytes(txQueueSize) + VirtioNetHeader.MRG_RXBUF_LENGTH +
            VirtioNetHeader.MAX_FRAME_LENGTH + (1 << 20), PAGE);
        this.memory = memory;
        ram = new GuestRam(ramSize, memory);

        rxSlotAddress = new long[rxSlots];
        rxFreeSlots = new int[rxSlots];
        rxSlotOfHead = new int[rxQueueSize];
        for (int i = 0; i < rxSlots; i++)
        {
            rxSlotAddress[i] = ram.allocate(rxSlotBytes, 64);
            rxFreeSlots[rxFreeCount++] = rxSlots - 1 - i;
        }
        chainAddresses = new long[descriptorsPerChain];
        chainLengths = new int[descriptorsPerChain];

        txSlotAddress = new long[txQueueSize];
        txFreeSlots = new int[txQueueSize];
        txSlotOfHead = new int[txQueueSize];
        for (int i = 0; i < txQueueSize; i++)
        {
            txSlotAddress[i] = ram.allocate(txSlotBytes, 64);
            txFreeSlots[txFreeCount++] = txQueueSize - 1 - i;
        }
        scratch = ram.host(ram.allocate(VirtioNetHeader.MRG_RXBUF_LENGTH + VirtioNetHeader.MAX_FRAME_LENGTH, 64));
    }

    private static long ringBytes(final int size)
    {
        return SplitRingLayout.descTableLength(size) + SplitRingLayout.availRingLength(size) +
            SplitRingLayout.usedRingLength(size) + 64;
    }

    private static long align(final long value, final long alignment)
    {
        return (value + alignment - 1) & -alignment;
    }

    /**
     * The driver's initialization sequence (virtio 1.2 §3.1.1): reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
     * (and check the device kept it), queue setup, receive buffers, DRIVER_OK.
     *
     * @param transport the device.
     * @throws IllegalStateException when the device refused the features.
     */
    public void start(final VirtioTransport transport)
    {
        transport.status(0);
        transport.status(DeviceStatus.ACKNOWLEDGE);
        transport.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        offeredFeatures = transport.deviceFeatures();
        long wanted = FeatureBit.VERSION_1.mask() | FeatureBit.EVENT_IDX.mask() | FeatureBit.INDIRECT_DESC.mask();
        if (mode == RxMode.MERGEABLE)
        {
            wanted |= FeatureBit.MRG_RXBUF.mask();
        }
        negotiatedFeatures = offeredFeatures & wanted;
        transport.driverFeatures(negotiatedFeatures);
        final int featuresOk = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;
        transport.status(featuresOk);
        if ((transport.status() & DeviceStatus.FEATURES_OK) == 0)
        {
            transport.status(featuresOk | DeviceStatus.FAILED);
            throw new IllegalStateException("device refused features " + Long.toHexString(negotiatedFeatures));
        }
        if (mode == RxMode.MERGEABLE && !FeatureBit.MRG_RXBUF.isSetIn(negotiatedFeatures))
        {
            transport.status(featuresOk | DeviceStatus.FAILED);
            throw new IllegalStateException("rx.mode=mergeable but the device does not offer MRG_RXBUF");
        }
        headerLength = VirtioNetHeader.length(negotiatedFeatures);
        final boolean eventIdx = FeatureBit.EVENT_IDX.isSetIn(negotiatedFeatures);

        rx = createQueue(transport, 0, rxQueueSize, eventIdx);
        tx = createQueue(transport, 1, txQueueSize, eventIdx);
        rx.suppressInterrupts();
        tx.suppressInterrupts();
        refill();
        transport.status(featuresOk | DeviceStatus.DRIVER_OK);
    }

    private DriverVirtqueue createQueue(
        final VirtioTransport transport, final int index, final int size, final boolean eventIdx)
    {
        final long desc = ram.allocate(SplitRingLayout.descTableLength(size), SplitRingLayout.DESC_TABLE_ALIGNMENT);
        final long avail = ram.allocate(SplitRingLayout.availRingLength(size), SplitRingLayout.AVAIL_RING_ALIGNMENT);
        final long used = ram.allocate(SplitRingLayout.usedRingLength(size), SplitRingLayout.USED_RING_ALIGNMENT);
        final DriverVirtqueue queue = new DriverVirtqueue(size, memory, desc, avail, used, eventIdx);
        transport.queue(index, size, desc, avail, used);
        return queue;
    }

    /**
     * One NAPI-style step at time {@code nowNs}: reaps finished transmissions, and if receive work is due, polls up to
     * the budget, verifies and echoes frames, and refills.
     *
     * @return packets received in this step.
     */
    public int poll(final long nowNs)
    {
        reapTransmitted();
        if (!scheduled)
        {
            if (rx.usedAvailable() == 0)
            {
                return 0;
            }
            scheduled = true;
            pollAtNs = nowNs + wakeupLatencyNs;
        }
        if (nowNs - pollAtNs < 0)
        {
            return 0;
        }
        polls++;
        int packets = 0;
        if (latency != null)
        {
            latency.beginBatch();
        }
        while (packets < budget && rx.usedAvailable() > 0)
        {
            if (!receiveOne())
            {
                break;
            }
            packets++;
        }
        if (latency != null)
        {
            latency.endBatch();
        }
        if (packets < budget)
        {
            scheduled = false;
        }
        if (echo && packets > 0)
        {
            tx.publishAvail();
        }
        if (rxFreeCount >= refillBatch)
        {
            refill();
        }
        return packets;
    }

    private boolean receiveOne()
    {
        final int available = rx.usedAvailable();
        final int firstSlot = rxSlotOfHead[rx.usedId(0)];
        final int numBuffers = mode == RxMode.MERGEABLE ? numBuffers(rxSlotAddress[firstSlot]) : 1;
        if (numBuffers < 1 || numBuffers > available)
        {
            malformed++;
            releaseRx(available);
            return false;
        }

        int txSlot = -1;
        long destination = scratch;
        if (echo && txFreeCount > 0 && tx.freeDescriptors() > 0)
        {
            txSlot = txFreeSlots[--txFreeCount];
            destination = ram.host(txSlotAddress[txSlot]);
            MemoryCopy.fill(destination, headerLength, (byte)0);
        }
        final long frameStart = destination + headerLength;
        long frameLength = 0;
        for (int b = 0; b < numBuffers; b++)
        {
            final int slot = rxSlotOfHead[rx.usedId(b)];
            long length = rx.usedLength(b);
            long offset = 0;
            if (b == 0)
            {
                offset = headerLength;
                length -= headerLength;
            }
            if (length > 0)
            {
                if (frameLength + length > VirtioNetHeader.MAX_FRAME_LENGTH)
                {
                    length = VirtioNetHeader.MAX_FRAME_LENGTH - frameLength;
                }
                // A buffer is contiguous in guest RAM (a big chain's descriptors are laid out back to back).
                MemoryCopy.copy(ram.host(rxSlotAddress[slot]) + offset, frameStart + frameLength, length);
                frameLength += length;
            }
        }
        if (ewma)
        {
            averagePacketLength += (headerLength + frameLength - averagePacketLength) / EWMA_WEIGHT;
        }
        releaseRx(numBuffers);

        frameView.wrap(frameStart, (int)Math.max(frameLength, 1));
        if (strictVerify || FrameFormat.isOurs(frameView, 0, (int)frameLength))
        {
            final boolean intact = (!strictVerify || frameLength == maxFrameLength) &&
                FrameFormat.isIntact(frameView, 0, (int)frameLength);
            verify.record(intact, intact ? FrameFormat.sequence(frameView, 0) : -1);
            if (intact && latency != null)
            {
                latency.recordSince(FrameFormat.sendTimeNs(frameView, 0));
            }
        }
        else
        {
            verify.recordForeign();
        }

        if (txSlot >= 0)
        {
            final int head = tx.addBuffer(txSlotAddress[txSlot], headerLength + (int)frameLength, false);
            txSlotOfHead[head] = txSlot;
            echoed++;
        }
        else if (echo)
        {
            echoDropped++;
        }
        return true;
    }

    private int numBuffers(final long slotAddress)
    {
        headerView.wrap(ram.host(slotAddress), VirtioNetHeader.MRG_RXBUF_LENGTH);
        return headerView.getShort(VirtioNetHeader.NUM_BUFFERS_OFFSET) & 0xFFFF;
    }

    private void releaseRx(final int count)
    {
        for (int i = 0; i < count; i++)
        {
            rxFreeSlots[rxFreeCount++] = rxSlotOfHead[rx.usedId(i)];
        }
        rx.releaseUsed(count);
    }

    private void reapTransmitted()
    {
        final int done = tx.usedAvailable();
        if (done > 0)
        {
            for (int i = 0; i < done; i++)
            {
                txFreeSlots[txFreeCount++] = txSlotOfHead[tx.usedId(i)];
            }
            tx.releaseUsed(done);
        }
    }

    /** Posts every free receive slot and publishes the available ring once. */
    private void refill()
    {
        while (rxFreeCount > 0 && rx.freeDescriptors() >= descriptorsPerChain)
        {
            final int slot = rxFreeSlots[--rxFreeCount];
            final long address = rxSlotAddress[slot];
            final int head;
            if (mode == RxMode.BIG)
            {
                chainAddresses[0] = address;
                chainLengths[0] = headerLength;
                for (int i = 1; i < descriptorsPerChain; i++)
                {
                    chainAddresses[i] = address + headerLength + (long)(i - 1) * bufferSize;
                    chainLengths[i] = bufferSize;
                }
                head = rx.addChain(chainAddresses, chainLengths, descriptorsPerChain, true);
            }
            else
            {
                head = rx.addBuffer(address, ewma ? mergeableBufferLength() : bufferSize, true);
            }
            rxSlotOfHead[head] = slot;
        }
        rx.publishAvail();
    }

    /** Linux's get_mergeable_buf_len: header + the average packet length clamped to [1518, page - header], 64-aligned. */
    private int mergeableBufferLength()
    {
        final long clamped = Math.max(GOOD_PACKET_LEN, Math.min(averagePacketLength, PAGE - headerLength));
        return (int)Math.min(PAGE, align(headerLength + clamped, 64));
    }

    /** @return the features the device offered. */
    public long offeredFeatures()
    {
        return offeredFeatures;
    }

    /** @return the features negotiated. */
    public long negotiatedFeatures()
    {
        return negotiatedFeatures;
    }

    /** @return what verification of received frames found. */
    public VerifyStats verify()
    {
        return verify;
    }

    /** @return NAPI polls run. */
    public long polls()
    {
        return polls;
    }

    /** @return frames sent back out on the transmit queue. */
    public long echoed()
    {
        return echoed;
    }

    /** @return frames not echoed because the transmit queue was full. */
    public long echoDropped()
    {
        return echoDropped;
    }

    /** @return used elements that did not form a valid packet (num_buffers out of range). */
    public long malformed()
    {
        return malformed;
    }

    /** @return whether nothing is in flight: no used buffers waiting, every transmission returned. */
    public boolean isQuiescent()
    {
        return rx.usedAvailable() == 0 && txFreeCount == txQueueSize;
    }

    /**
     * @return packets of the configured frame size the receive ring can hold at once: the in-flight capacity that
     * decides how long a burst or a slow guest can be absorbed (mergeable: slots / buffers per packet; big and small:
     * one chain per packet).
     */
    public int inFlightCapacity()
    {
        if (mode != RxMode.MERGEABLE)
        {
            return rxSlots;
        }
        final long perBuffer = ewma ? mergeableBufferLength() : bufferSize;
        final long buffersPerPacket = (VirtioNetHeader.MRG_RXBUF_LENGTH + maxFrameLength + perBuffer - 1) / perBuffer;
        return (int)(rxSlots / buffersPerPacket);
    }

    /** Frees the guest's RAM; the device must no longer use it. */
    public void close()
    {
        ram.close();
    }
}
