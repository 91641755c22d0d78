package io.pagewire.dataplane.port.afpacket;

import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Frames the kernel refuses on the transmit ring are counted and dropped, and the frames after them still leave, in
 * order: on a veth whose far end is in a network namespace, eight frames are committed of which two (the 4th and the
 * 7th) are ones the kernel's {@code tpacket_snd} refuses, for each cause the port does not refuse itself:
 * <ul>
 *   <li>{@link Cause#RUNT}: 5 bytes, shorter than the Ethernet header ({@code dev_validate_header}, EINVAL);</li>
 *   <li>{@link Cause#MTU}: 1200 bytes after the interface's MTU was lowered to 1000 while the port was open
 *       ({@code tpacket_parse_header}'s size check, EMSGSIZE);</li>
 *   <li>{@link Cause#VNET_HDR}: with {@code vnet_hdr}, a header asking for a checksum at offset 2000 of a 100-byte
 *       frame ({@code __packet_snd_vnet_parse}, EINVAL).</li>
 * </ul>
 * With {@code PACKET_LOSS} (pagewire before issue 12) the kernel skipped them unseen: {@code nic.af_packet.tx_refused}
 * stays 0 there and the test fails. A refused frame left without a reap would stall the ring: the frames after it
 * would never arrive.
 */
@Tag("interop")
class AfPacketTxRefusedInteropTest
{
    private static final int ETHER_TYPE = 0x88B6;
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final int FRAMES = 8;
    private static final int FIRST_REFUSED = 3;
    private static final int SECOND_REFUSED = 6;

    enum Cause
    {
        RUNT, MTU, VNET_HDR
    }

    @ParameterizedTest
    @EnumSource(Cause.class)
    void refusedFramesAreCountedAndTheFramesAfterThemStillLeave(final Cause cause) throws Exception
    {
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
        final boolean vnetHdr = cause == Cause.VNET_HDR;
        try (VethPair veth = VethPair.create(true, false);
            AfPacketNicPort port = AfPacketNicPort.open(
                AfPacketNicPortTest.config(veth.hostEnd(), 1 << 17, 4, 2048, vnetHdr), counters);
            AfPacketNicPort capture = NetworkNamespace.call(veth.namespace(), () -> AfPacketNicPort.open(
                AfPacketNicPortTest.config(veth.peerEnd(), 1 << 16, 8, 2048, false), null));
            Arena arena = Arena.ofConfined())
        {
            if (cause == Cause.MTU)
            {
                VethPair.run("ip", "link", "set", "dev", veth.hostEnd(), "mtu", "1000");
            }
            final MemorySegment badHeader = arena.allocate(VnetRxFrames.VNET_HDR_LENGTH);
            badHeader.set(ValueLayout.JAVA_BYTE, 0, (byte)VirtioNetHeader.F_NEEDS_CSUM);
            badHeader.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short)2000);
            badHeader.set(ValueLayout.JAVA_SHORT_UNALIGNED, 8, (short)16);
            for (int sequence = 0; sequence < FRAMES; sequence++)
            {
                final boolean refused = sequence == FIRST_REFUSED || sequence == SECOND_REFUSED;
                final int length = !refused ? 100 + sequence :
                    cause == Cause.RUNT ? 5 : cause == Cause.MTU ? 1200 : 100;
                final long address = port.claim(length);
                assertEquals(true, address != 0, "slot for frame " + sequence);
                writeFrame(address, length, sequence);
                if (refused && vnetHdr)
                {
                    port.commitOffload(length, badHeader.address());
                }
                else
                {
                    port.commit(length);
                }
            }
            // One kick per duty cycle: the first stops at the first refused frame, the next at the second.
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            do
            {
                port.flush();
            }
            while (value(counters, "nic.af_packet.tx_on_ring") > 0 && System.nanoTime() - deadline < 0);

            final List<Integer> arrived = receive(capture, FRAMES - 2);
            final Map<String, Long> seen = values(counters);
            System.out.println("af_packet refused frames (" + cause + "): arrived " + arrived + ", counters " + seen);
            assertEquals(List.of(0, 1, 2, 4, 5, 7), arrived, "every frame the kernel took arrived, in order");
            assertEquals(2, seen.get("nic.af_packet.tx_refused"), "both refused frames counted");
            assertEquals(FRAMES - 2, seen.get("nic.af_packet.tx_sent"));
            assertEquals(0, seen.get("nic.af_packet.tx_on_ring"), "nothing left waiting behind a refused frame");
            assertEquals(0, seen.get("nic.af_packet.tx_kick_errors"), "a refusal is not a kick error");
            assertEquals(0, seen.get("nic.af_packet.bad_frames"));
        }
    }

    private static void writeFrame(final long address, final int length, final int sequence)
    {
        for (int i = 0; i < Math.min(length, 6); i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + i, (byte)0xFF);
        }
        if (length < 18)
        {
            return;
        }
        for (int i = 0; i < 6; i++)
        {
            ALL.set(ValueLayout.JAVA_BYTE, address + 6 + i, (byte)(i == 0 ? 0x02 : i));
        }
        ALL.set(ValueLayout.JAVA_BYTE, address + 12, (byte)(ETHER_TYPE >> 8));
        ALL.set(ValueLayout.JAVA_BYTE, address + 13, (byte)ETHER_TYPE);
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address + 14, sequence);
    }

    /** This test's frames arriving at the far end, by sequence number, until {@code expected} or 2 s of quiet. */
    private static List<Integer> receive(final AfPacketNicPort capture, final int expected)
    {
        final List<Integer> arrived = new ArrayList<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (arrived.size() < expected && System.nanoTime() - deadline < 0)
        {
            final int n = capture.rxAvailable();
            for (int i = 0; i < n; i++)
            {
                final long address = capture.rxFrameAddress(i);
                final int length = capture.rxFrameLength(i);
                if (length >= 18 && (ALL.get(ValueLayout.JAVA_BYTE, address + 12) & 0xFF) == ETHER_TYPE >> 8 &&
                    (ALL.get(ValueLayout.JAVA_BYTE, address + 13) & 0xFF) == (ETHER_TYPE & 0xFF))
                {
                    arrived.add(ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address + 14));
                }
            }
            capture.rxRelease(n);
        }
        return arrived;
    }

    private static long value(final CountersManager counters, final String label)
    {
        return values(counters).getOrDefault(label, -1L);
    }

    private static Map<String, Long> values(final CountersManager counters)
    {
        final Map<String, Long> values = new HashMap<>();
        counters.forEach((final int counterId, final int typeId, final DirectBuffer key, final String label) ->
            values.put(label, counters.getCounterValue(counterId)));
        return values;
    }
}
