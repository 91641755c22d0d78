package io.pagewire.control.run;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.PcapPace;
import io.pagewire.dataplane.engine.DataplaneAgent;
import io.pagewire.dataplane.engine.DataplaneProxy;
import io.pagewire.dataplane.engine.GuestNotifier;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.engine.RxPolicy;
import io.pagewire.dataplane.fixture.FakeGuestMemory;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.TestVirtqueue;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.port.afpacket.AfPacketNicPort;
import io.pagewire.dataplane.rx.MergeableRxWriter;
import io.pagewire.dataplane.tx.TxReader;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.dataplane.virtio.SplitRingLayout;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The run summary's accounting balances with every drop cause provoked for real: a guest's queue pair (fake guest
 * memory, driven from the driver's side) served against an AF_PACKET port on a veth whose far end, in a network
 * namespace, sends and receives.
 * <ul>
 *   <li>NIC to guest: ten small frames for a guest that posted four receive buffers (drop policy: six
 *       {@code no_buffers}), and one frame longer than the port's slots ({@code bad_nic_frame});</li>
 *   <li>guest to NIC: good frames, one longer than the port takes ({@code too_long}), one asking for GSO the driver did
 *       not negotiate ({@code gso}), one whose NEEDS_CSUM points past its end ({@code bad_vnet_hdr}), one shorter than
 *       the Ethernet header (a runt: refused by the kernel, or dropped by the transmit reader once it checks), and one
 *       longer than the interface's MTU after it was lowered while the port was open (refused by the kernel:
 *       {@code nic.af_packet.tx_refused}).</li>
 * </ul>
 * Each cause must show in its own count and the three balances of {@code accounting} must hold exactly.
 */
@Tag("interop")
class FrameBalanceInteropTest
{
    private static final int QUEUE_SIZE = 64;
    private static final int BUFFER_SIZE = 2048;
    private static final int ETHER_TYPE = 0x88B7;
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final long FEATURES = FeatureBit.VERSION_1.mask() | FeatureBit.MRG_RXBUF.mask() |
        FeatureBit.CSUM.mask();

    @Test
    void everyFrameTakenIsSentDeliveredOrDroppedByACountedCause() throws Exception
    {
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
        try (VethPair veth = VethPair.create(true, false);
            FakeGuestMemory memory = FakeGuestMemory.ofSize(8L << 20))
        {
            // Room for a frame longer than the port's 2040-byte slots to reach it.
            VethPair.run("ip", "link", "set", "dev", veth.hostEnd(), "mtu", "3000");
            veth.inNamespace("ip", "link", "set", "dev", veth.peerEnd(), "mtu", "3000");
            try (AfPacketNicPort port = AfPacketNicPort.open(config(veth.hostEnd(), 2048), counters);
                AfPacketNicPort peer = NetworkNamespace.call(veth.namespace(), () ->
                    AfPacketNicPort.open(config(veth.peerEnd(), 4096), null)))
            {
                final TestVirtqueue rx = TestVirtqueue.of(memory, QUEUE_SIZE);
                final TestVirtqueue tx = TestVirtqueue.of(memory, QUEUE_SIZE);
                final QueuePair pair = new QueuePair(0, rx.device(), new MergeableRxWriter(rx.device()), tx.device(),
                    new TxReader(tx.device(), VirtioNetHeader.MRG_RXBUF_LENGTH, FEATURES), rings(memory, rx),
                    rings(memory, tx), FEATURES, port, GuestNotifier.POLLING, RxPolicy.DROP, 32, null);
                final DataplaneProxy proxy = new DataplaneProxy();
                final DataplaneAgent agent = new DataplaneAgent("balance-test", proxy, null, -1);
                for (int i = 0; i < 4; i++)
                {
                    rx.driver().addBuffer(memory.allocate(BUFFER_SIZE, 64), BUFFER_SIZE, true);
                }
                rx.driver().publishAvail();
                proxy.attach(pair);
                agent.doWork();

                // NIC -> guest: ten that find four buffers, one too long for the port's slots.
                for (int i = 0; i < 10; i++)
                {
                    send(peer, 100, i);
                }
                send(peer, 2500, 10);
                peer.flush();
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (pair.rxTaken() < 11 && System.nanoTime() - deadline < 0)
                {
                    agent.doWork();
                }

                // Guest -> NIC, after the interface's MTU went down under the port (its limit, 2040, was set at open).
                VethPair.run("ip", "link", "set", "dev", veth.hostEnd(), "mtu", "1000");
                transmit(memory, tx, 0, 0, 0, 100);                                   // sent
                transmit(memory, tx, 0, 0, 0, 2100);                                  // too_long
                transmit(memory, tx, 0, VirtioNetHeader.GSO_TCPV4, 0, 100);           // gso: not negotiated
                transmit(memory, tx, VirtioNetHeader.F_NEEDS_CSUM, 0, 200, 100);      // bad_vnet_hdr
                transmit(memory, tx, 0, 0, 0, 5);                                     // runt
                transmit(memory, tx, 0, 0, 0, 1200);                                  // over the new MTU
                transmit(memory, tx, 0, 0, 0, 101);                                   // sent
                tx.driver().publishAvail();
                final long txDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while ((pair.reader().takenFrames() < 7 || onRing(counters) > 0) &&
                    System.nanoTime() - txDeadline < 0)
                {
                    agent.doWork();
                }
                proxy.detach(0);
                agent.doWork();

                final RunResult result = new RunResult(PagewireConfig.defaults(), 1.0, true, Double.NaN, FEATURES,
                    FEATURES, List.of(pair), 0, 0, null, 0, List.of(), -1, RunResult.nicCountersOf(counters));
                final RunSummary summary = new RunSummary(result);
                System.out.println(summary.text());
                @SuppressWarnings("unchecked")
                final Map<String, Object> accounting = (Map<String, Object>)summary.json().get("accounting");
                final Map<String, Object> txBalance = section(accounting, "tx");
                final Map<String, Object> nicBalance = section(accounting, "nic_tx");
                final Map<String, Object> rxBalance = section(accounting, "rx");

                assertEquals(11L, rxBalance.get("taken"), accounting.toString());
                assertEquals(4L, rxBalance.get("delivered"));
                assertEquals(6L, section(rxBalance, "dropped").get("no_buffers"));
                assertEquals(1L, section(rxBalance, "dropped").get("bad_nic_frame"));
                assertEquals(true, rxBalance.get("balanced"), accounting.toString());

                assertEquals(7L, txBalance.get("taken"));
                final Map<String, Object> txDropped = section(txBalance, "dropped");
                assertEquals(1L, txDropped.get("too_long"));
                assertEquals(1L, txDropped.get("gso"));
                assertEquals(1L, txDropped.get("bad_vnet_hdr"));
                assertEquals(true, txBalance.get("balanced"), accounting.toString());

                final long refused = (long)section(nicBalance, "dropped").get("nic.af_packet.tx_refused");
                final boolean runtDroppedByReader = (long)txBalance.get("to_nic") == 3;
                assertEquals(runtDroppedByReader ? 1 : 2, refused,
                    "the frame over the MTU, and the runt unless the reader dropped it: " + accounting);
                assertEquals(2L, nicBalance.get("sent"), "the two good frames");
                assertEquals(true, nicBalance.get("sent_counted"));
                assertEquals(0L, nicBalance.get("in_flight"));
                assertEquals(true, nicBalance.get("balanced"), accounting.toString());
                assertEquals(true, accounting.get("balanced"));
                assertTrue(summary.text().contains("accounting      guest tx 7 taken"), summary.text());
                assertEquals(2, arrived(peer), "the good frames reached the far end");
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> section(final Map<String, Object> map, final String key)
    {
        return (Map<String, Object>)map.get(key);
    }

    private static long onRing(final CountersManager counters)
    {
        return RunResult.nicCountersOf(counters).getOrDefault("nic.af_packet.tx_on_ring", 0L);
    }

    /** Posts one transmit chain: a 12-byte virtio-net header, then a frame of {@code length} bytes. */
    private static void transmit(final FakeGuestMemory memory, final TestVirtqueue tx, final int flags,
        final int gsoType, final int csumStart, final int length)
    {
        final int total = VirtioNetHeader.MRG_RXBUF_LENGTH + length;
        final long address = memory.allocate(total, 64);
        final ByteBuffer chain = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        chain.put(VirtioNetHeader.FLAGS_OFFSET, (byte)flags);
        chain.put(VirtioNetHeader.GSO_TYPE_OFFSET, (byte)gsoType);
        chain.putShort(VirtioNetHeader.GSO_SIZE_OFFSET, (short)(gsoType == 0 ? 0 : 1448));
        chain.putShort(VirtioNetHeader.CSUM_START_OFFSET, (short)csumStart);
        chain.putShort(VirtioNetHeader.CSUM_OFFSET_OFFSET, (short)(csumStart == 0 ? 0 : 16));
        final int frame = VirtioNetHeader.MRG_RXBUF_LENGTH;
        for (int i = 0; i < Math.min(length, 12); i++)
        {
            chain.put(frame + i, (byte)(i < 6 ? 0xFF : 0x02));
        }
        if (length >= 14)
        {
            chain.put(frame + 12, (byte)(ETHER_TYPE >> 8));
            chain.put(frame + 13, (byte)ETHER_TYPE);
        }
        memory.put(address, chain.array());
        assertTrue(tx.driver().addBuffer(address, total, false) >= 0);
    }

    private static void send(final AfPacketNicPort peer, final int length, final int sequence)
    {
        final long address = peer.claim(length);
        assertTrue(address != 0, "the far end takes a " + length + "-byte frame");
        for (int i = 0; i < 6; i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + i, (byte)0xFF);
            ALL.set(ValueLayout.JAVA_BYTE, address + 6 + i, (byte)(i == 0 ? 0x02 : 0x10 + i));
        }
        ALL.set(ValueLayout.JAVA_BYTE, address + 12, (byte)(ETHER_TYPE >> 8));
        ALL.set(ValueLayout.JAVA_BYTE, address + 13, (byte)ETHER_TYPE);
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address + 14, sequence);
        peer.commit(length);
    }

    /** This test's frames that reached the far end (it sends none itself: PACKET_IGNORE_OUTGOING). */
    private static int arrived(final AfPacketNicPort peer)
    {
        int arrived = 0;
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (System.nanoTime() - deadline < 0)
        {
            final int n = peer.rxAvailable();
            for (int i = 0; i < n; i++)
            {
                final long address = peer.rxFrameAddress(i);
                if (peer.rxFrameLength(i) >= 14 &&
                    (ALL.get(ValueLayout.JAVA_BYTE, address + 12) & 0xFF) == ETHER_TYPE >> 8 &&
                    (ALL.get(ValueLayout.JAVA_BYTE, address + 13) & 0xFF) == (ETHER_TYPE & 0xFF))
                {
                    arrived++;
                }
            }
            peer.rxRelease(n);
        }
        return arrived;
    }

    private static QueuePair.RingAddresses rings(final FakeGuestMemory memory, final TestVirtqueue queue)
    {
        return new QueuePair.RingAddresses(
            memory.host(queue.descTable(), SplitRingLayout.descTableLength(QUEUE_SIZE)),
            memory.host(queue.availRing(), SplitRingLayout.availRingLength(QUEUE_SIZE)),
            memory.host(queue.usedRing(), SplitRingLayout.usedRingLength(QUEUE_SIZE)), 0);
    }

    private static NicConfig config(final String interfaceName, final int slotSize)
    {
        return new NicConfig(NicType.AF_PACKET, 256, slotSize,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, 1 << 16, 8, 1, true, false),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false));
    }
}
