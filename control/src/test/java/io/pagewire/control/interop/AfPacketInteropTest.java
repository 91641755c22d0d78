package io.pagewire.control.interop;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PagewireConfig;
import io.pagewire.config.PcapPace;
import io.pagewire.control.run.EmbeddedForwarder;
import io.pagewire.control.run.RunCommand;
import io.pagewire.dataplane.engine.QueuePair;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.guest.FrameFormat;
import io.pagewire.dataplane.guest.VerifyStats;
import io.pagewire.dataplane.port.afpacket.AfPacketNicPort;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The forwarder on a real kernel interface ({@code nic.type=af_packet}): a veth pair whose far end lives in its own
 * network namespace, where the test sends pagewire test frames through its own AF_PACKET socket. The embedded guest
 * must receive and verify every one, and its echoes must come back out of the veth byte for byte.
 */
@Tag("interop")
class AfPacketInteropTest
{
    @TempDir
    Path temp;

    private static NicConfig peerConfig(final String interfaceName)
    {
        return new NicConfig(NicType.AF_PACKET, 1024, 2048,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, 1 << 16, 32, 1, true, false),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false));
    }

    private static int lengthOf(final long sequence)
    {
        return (int)(FrameFormat.MIN_FRAME_LENGTH + (sequence * 97) % (1514 - FrameFormat.MIN_FRAME_LENGTH + 1));
    }

    @ParameterizedTest(name = "vnet_hdr={0}")
    @ValueSource(booleans = {false, true})
    void framesFromTheNamespaceReachTheGuestAndItsEchoesComeBack(final boolean vnetHdr)
    {
        final int total = vnetHdr ? 5_000 : 20_000;
        try (VethPair veth = VethPair.create(true))
        {
            final AfPacketNicPort peer = NetworkNamespace.call(veth.namespace(),
                () -> AfPacketNicPort.open(peerConfig(veth.peerEnd()), null));
            try (peer; EmbeddedForwarder forwarder = new EmbeddedForwarder(PagewireConfig.load(null, List.of(
                "nic.type=af_packet", "nic.af_packet.interface=" + veth.hostEnd(), "guest.tx=echo",
                "nic.af_packet.vnet_hdr=" + vnetHdr)), temp))
            {
                assertTrue(forwarder.startMessage().contains("af_packet " + veth.hostEnd()),
                    forwarder.startMessage());
                forwarder.start();
                final UnsafeBuffer sent = new UnsafeBuffer(new byte[1514]);
                final UnsafeBuffer echo = new UnsafeBuffer(0, 0);
                long next = 0;
                long echoed = 0;
                long foreign = 0;
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                long nextPollNs = 0;
                final long startNs = System.nanoTime();
                while (echoed < total && System.nanoTime() - deadline < 0 && forwarder.failure() == null)
                {
                    for (int burst = 0; burst < 32 && next < total && next - echoed < 128; burst++)
                    {
                        final int length = lengthOf(next);
                        final long address = peer.claim(length);
                        if (address == 0)
                        {
                            break;
                        }
                        final UnsafeBuffer frame = new UnsafeBuffer(address, length);
                        FrameFormat.stamp(frame, 0, FrameFormat.writeTemplate(frame, length, next), next, 0);
                        peer.commit(length);
                        next++;
                    }
                    peer.flush();
                    final int available = peer.rxAvailable();
                    for (int i = 0; i < available; i++)
                    {
                        final int length = peer.rxFrameLength(i);
                        echo.wrap(peer.rxFrameAddress(i), Math.max(length, 0));
                        if (length < 0 || !FrameFormat.isOurs(echo, 0, length))
                        {
                            foreign++;
                            continue;
                        }
                        final long sequence = FrameFormat.sequence(echo, 0);
                        assertEquals(echoed, sequence, "echoes in order, none lost");
                        assertEquals(lengthOf(sequence), length, "echo length of frame " + sequence);
                        FrameFormat.stamp(sent, 0, FrameFormat.writeTemplate(sent, length, sequence), sequence, 0);
                        for (int k = 0; k < length; k++)
                        {
                            if (sent.getByte(k) != echo.getByte(k))
                            {
                                assertEquals(sent.getByte(k), echo.getByte(k), "frame " + sequence + " byte " + k);
                            }
                        }
                        echoed++;
                    }
                    peer.rxRelease(available);
                    if (System.nanoTime() - nextPollNs > 0)
                    {
                        forwarder.poll();
                        nextPollNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10);
                    }
                }
                final double seconds = (System.nanoTime() - startNs) / 1e9;
                forwarder.stop();
                System.out.printf("af_packet interop (vnet_hdr=" + vnetHdr + "): %d frames echoed in %.2f s (%.3f Mpps each way, window 128), " +
                    "dataplane allocated %d bytes in steady state (%.3f per packet)%n", echoed, seconds,
                    echoed / seconds / 1e6, forwarder.dataplaneAllocatedBytes(),
                    forwarder.dataplaneAllocatedBytesPerPacket());
                assertEquals(null, forwarder.failure());
                assertEquals(total, echoed, "echoes back in the namespace (" + foreign + " foreign frames)");
                final VerifyStats verify = forwarder.peer().guest().verify();
                assertEquals(total, verify.checked(), "the guest verified every frame");
                assertEquals(0, verify.corrupt());
                assertEquals(0, verify.reordered());
                final QueuePair pair = forwarder.finalPair();
                assertNotNull(pair, "the queue pair was given back at stop");
                assertTrue(pair.rxPackets() >= total, "the device delivered at least every frame the guest verified");
            }
        }
    }

    @Test
    void aMissingInterfaceIsAConfigErrorWithExitCode2()
    {
        VethPair.assumeAvailable();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = RunCommand.run(new String[] {"--duration", "1s", "--quiet", "--dir", temp.toString(),
            "--set", "nic.type=af_packet", "--set", "nic.af_packet.interface=nosuch0"},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertEquals("pagewire: config error: nic.af_packet.interface=\"nosuch0\": no such interface",
            err.toString(StandardCharsets.UTF_8).strip());
    }
}
