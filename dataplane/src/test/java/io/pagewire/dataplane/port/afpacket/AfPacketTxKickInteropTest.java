package io.pagewire.dataplane.port.afpacket;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PcapPace;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.TcpFrames;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.virtio.VirtioNetHeader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One kick sends the whole transmit ring once the socket's send buffer is sized to it. The transmit ring is filled
 * (64 KiB vnet_hdr TCP GSO frames, or MTU-sized frames without vnet_hdr), kicked once, and a packet socket on the
 * veth's far end counts what arrives:
 * <ul>
 *   <li>with the send buffer the port sizes at open, every frame arrives after that one kick;</li>
 *   <li>with the smallest send buffer the kernel allows, or the default one pagewire used to keep, the same kick
 *       leaves frames requested on the ring
 *       ({@code tpacket_snd} stops when the socket's write memory is exhausted) and more kicks are needed: the
 *       case the port's kick-while-full fallback is kept for ({@link AfPacketNicPort#sendBufferShort()}).</li>
 * </ul>
 * A {@code tbf} qdisc on the sending end holds the frames as a real NIC's transmit queue would: on a bare veth the
 * kernel frees each frame within the kick (the peer receives it in the softirq run when the send returns), so the
 * write memory never fills there.
 */
@Tag("interop")
class AfPacketTxKickInteropTest
{
    private static final int ETHER_TYPE = 0x88B5;
    private static final ValueLayout.OfShort BIG_SHORT =
        ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int PAYLOAD = 60000;
    private static final int MSS = 1448;
    private static final int SEGMENTS_PER_FRAME = (PAYLOAD + MSS - 1) / MSS;
    /** Below the kernel's minimum (SOCK_MIN_SNDBUF, about 4.5 KiB), which it takes instead: one frame in flight. */
    private static final int TINY_SEND_BUFFER = 1;
    /** What a socket had before the port sized it: net.core.wmem_default (212992 B), halved as the kernel doubles. */
    private static final int DEFAULT_SEND_BUFFER = 106496;
    /** After the one kick: long enough that frames still missing then are not just slow (a frame takes 1.2 ms). */
    private static final int QUIET_AFTER_ONE_KICK_MS = 500;
    /** After each further kick: its frames leave the qdisc back to back, so a gap this long means they are all out. */
    private static final int QUIET_MS = 30;
    /** Linux errno values a kick returns while the send buffer has no room yet. */
    private static final int EAGAIN = 11;
    private static final int ENOBUFS = 105;

    @ParameterizedTest(name = "vnet_hdr={0}")
    @ValueSource(booleans = {true, false})
    void oneKickSendsTheWholeRingWithTheSizedSendBuffer(final boolean vnetHdr) throws Exception
    {
        final Result sized = fillKickAndCount(vnetHdr, 0);
        assertFalse(sized.bufferShort, "the port sized the send buffer to the ring: " + sized.describe);
        assertTrue(sized.describe.contains("send buffer " + sized.sendBuffer + " B"), sized.describe);
        assertEquals(sized.sent, sized.afterOneKick, "every frame of the full ring left after one kick: " + sized);
        assertEquals(1, sized.kicks, sized.toString());
    }

    @ParameterizedTest(name = "vnet_hdr={0}, SO_SNDBUF={1}")
    @CsvSource({"true, " + TINY_SEND_BUFFER, "false, " + TINY_SEND_BUFFER, "true, " + DEFAULT_SEND_BUFFER,
        "false, " + DEFAULT_SEND_BUFFER})
    void aSendBufferShortOfTheRingNeedsMoreKicks(final boolean vnetHdr, final int sendBuffer) throws Exception
    {
        final Result result = fillKickAndCount(vnetHdr, sendBuffer);
        assertTrue(result.bufferShort, "reported short of the ring: " + result.describe);
        assertTrue(result.describe.contains("SHORT of the ring"), result.describe);
        assertTrue(result.afterOneKick < result.sent, "one kick left frames on the ring: " + result);
        assertTrue(result.kicks > 1, result.toString());
        assertEquals(result.sent, result.total, "more kicks sent the rest: " + result);
    }

    private record Result(boolean vnetHdr, boolean bufferShort, int sendBuffer, String describe, int sent,
        int afterOneKick, int kicks, int total)
    {
        @Override
        public String toString()
        {
            return "vnet_hdr=" + vnetHdr + ", send buffer " + sendBuffer + " B: " + sent + " frames on the ring, " +
                afterOneKick + " arrived after one kick, " + total + " after " + kicks + " kicks";
        }
    }

    /**
     * @param sendBuffer 0: as the port sized it; else SO_SNDBUF set to this before the ring is filled.
     */
    private static Result fillKickAndCount(final boolean vnetHdr, final int sendBuffer) throws Exception
    {
        try (VethPair veth = VethPair.create(true, false);
            AfPacketNicPort port = AfPacketNicPort.open(config(veth.hostEnd(), vnetHdr ? 64 : 256, vnetHdr), null);
            AfPacketNicPort capture = NetworkNamespace.call(veth.namespace(), () -> AfPacketNicPort.open(
                AfPacketNicPortTest.config(veth.peerEnd(), 1 << 16, 256, 2048, false), null));
            Arena arena = Arena.ofConfined())
        {
            // The sending end's transmit queue, slower than a kick: 200 Mbit/s with a burst that takes a whole GSO
            // frame (a smaller one would segment it on the way in and free it at once), 10 Mbit/s for MTU frames.
            // Not faster: the kernel cuts each GSO frame into 42 segments as it leaves the queue, and at 1 Gbit/s on
            // a busy 2-CPU machine they overflowed the peer's backlog (netdev_max_backlog, 1000): frames lost after
            // they left the ring, which this test must not mistake for frames left on it.
            VethPair.run("tc", "qdisc", "add", "dev", veth.hostEnd(), "root", "tbf", "rate",
                vnetHdr ? "200mbit" : "10mbit", "burst", vnetHdr ? "128kb" : "16kb", "limit", "64mb");
            if (sendBuffer != 0)
            {
                port.socket().sizeSendBuffer(sendBuffer);
            }
            final MemorySegment header = arena.allocate(VnetRxFrames.VNET_HDR_LENGTH);
            header.set(ValueLayout.JAVA_BYTE, 0, (byte)VirtioNetHeader.F_NEEDS_CSUM);
            header.set(ValueLayout.JAVA_BYTE, 1, (byte)VirtioNetHeader.GSO_TCPV4);
            header.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short)54);
            header.set(ValueLayout.JAVA_SHORT_UNALIGNED, 4, (short)MSS);
            header.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short)34);
            header.set(ValueLayout.JAVA_SHORT_UNALIGNED, 8, (short)16);
            final byte[] frame = vnetHdr ? TcpFrames.ipv4Tcp(PAYLOAD, 0x18, true) : plainFrame(port.maxFrameLength());
            int sent = 0;
            long slot;
            while ((slot = port.claim(frame.length)) != 0)
            {
                MemorySegment.ofAddress(slot).reinterpret(frame.length).copyFrom(MemorySegment.ofArray(frame));
                if (vnetHdr)
                {
                    port.commitOffload(frame.length, header.address());
                }
                else
                {
                    port.commit(frame.length);
                }
                sent++;
            }
            assertTrue(sent >= 64, "the ring took " + sent + " frames: " + port.describe());
            final int perFrame = vnetHdr ? SEGMENTS_PER_FRAME : 1;
            final int expected = sent * perFrame;

            port.flush();
            int kicks = 1;
            int arrived = count(capture, vnetHdr, expected, QUIET_AFTER_ONE_KICK_MS);
            final int afterOneKick = arrived / perFrame;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (arrived < expected && kicks < 2 * sent && System.nanoTime() - deadline < 0)
            {
                // EAGAIN/ENOBUFS: the send buffer is still charged with frames the qdisc holds (a busy machine can
                // keep the softirq that frees them late): not a kick that sent anything, so not counted.
                final int errno = port.socket().kick();
                assertTrue(errno == 0 || errno == EAGAIN || errno == ENOBUFS, "kick failed: errno " + errno);
                kicks += errno == 0 ? 1 : 0;
                arrived += count(capture, vnetHdr, expected - arrived, QUIET_MS);
            }
            final Result result = new Result(vnetHdr, port.sendBufferShort(), port.socket().sendBuffer(),
                port.describe(), sent, afterOneKick, kicks, arrived / perFrame);
            System.out.println("af_packet TX kick interop: " + result + " (" + port.describe() + "); qdisc: " +
                VethPair.run("tc", "-s", "qdisc", "show", "dev", veth.hostEnd()).replace('\n', ' '));
            assertEquals(0, arrived % perFrame, "whole frames: " + arrived + " segments");
            return result;
        }
    }

    /** Counts this test's frames (or GSO segments) until {@code expected} arrived or none came for quietMs. */
    private static int count(final AfPacketNicPort capture, final boolean tcp, final int expected, final int quietMs)
    {
        int count = 0;
        long quietUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(quietMs);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (count < expected && System.nanoTime() - quietUntil < 0 && System.nanoTime() - deadline < 0)
        {
            final int n = capture.rxAvailable();
            for (int i = 0; i < n; i++)
            {
                final int length = capture.rxFrameLength(i);
                final MemorySegment f = MemorySegment.ofAddress(capture.rxFrameAddress(i)).reinterpret(length);
                if (length < 54)
                {
                    continue;
                }
                final int etherType = Short.toUnsignedInt(f.get(BIG_SHORT, 12));
                if (tcp ? etherType == 0x0800 && f.get(ValueLayout.JAVA_BYTE, 23) == 6 &&
                    Short.toUnsignedInt(f.get(BIG_SHORT, 36)) == 5201 : etherType == ETHER_TYPE)
                {
                    count++;
                    quietUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(quietMs);
                }
            }
            capture.rxRelease(n);
        }
        return count;
    }

    private static byte[] plainFrame(final int length)
    {
        final byte[] f = new byte[length];
        for (int i = 0; i < 6; i++)
        {
            f[i] = (byte)0xFF;
            f[6 + i] = (byte)(i == 0 ? 0x02 : i);
        }
        f[12] = (byte)(ETHER_TYPE >> 8);
        f[13] = (byte)ETHER_TYPE;
        for (int i = 14; i < length; i++)
        {
            f[i] = (byte)i;
        }
        return f;
    }

    private static NicConfig config(final String interfaceName, final int ringSize, final boolean vnetHdr)
    {
        return new NicConfig(NicType.AF_PACKET, ringSize, 2048,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, 1 << 16, 8, 1, true, vnetHdr),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false));
    }
}
