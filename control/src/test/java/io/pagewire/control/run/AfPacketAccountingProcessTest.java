package io.pagewire.control.run;

import io.pagewire.config.MemifRole;
import io.pagewire.config.NicConfig;
import io.pagewire.config.NicType;
import io.pagewire.config.PcapPace;
import io.pagewire.control.cli.MiniJson;
import io.pagewire.control.cli.PagewireCli;
import io.pagewire.dataplane.fixture.NetworkNamespace;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.guest.FrameFormat;
import io.pagewire.dataplane.port.afpacket.AfPacketNicPort;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code pagewire run} in a child JVM on an AF_PACKET port, its embedded guest echoing what it receives, and frames
 * the kernel refuses on the way out: the summary counts them in {@code nic.af_packet.tx_refused}, not as sent, and its
 * {@code accounting} balances. The far end of a veth, in a network namespace, sends 50 small frames (echoed and sent),
 * then the interface's MTU is lowered to 1000 under the running forwarder and it sends 20 frames of 1016 bytes: the
 * veth takes them in (up to the MTU + 18) but the kernel refuses their echoes (over the MTU + 14) on the transmit ring.
 * With {@code PACKET_LOSS} (before issue 12) those 20 were skipped unseen and the summary had them as sent.
 */
@Tag("interop")
class AfPacketAccountingProcessTest
{
    private static final int SMALL = 50;
    private static final int REFUSED = 20;

    @TempDir
    Path temp;

    @Test
    @SuppressWarnings("unchecked")
    void refusedEchoesAreCountedAndTheSummaryBalances() throws Exception
    {
        try (VethPair veth = VethPair.create(true))
        {
            final AfPacketNicPort peer = NetworkNamespace.call(veth.namespace(),
                () -> AfPacketNicPort.open(peerConfig(veth.peerEnd()), null));
            final Path summary = temp.resolve("summary.json");
            final List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
                "run", "--dir", temp.resolve("run").toString(), "--duration", "6s", "--summary", summary.toString(),
                "--set", "nic.type=af_packet", "--set", "nic.af_packet.interface=" + veth.hostEnd(),
                "--set", "guest.tx=echo"));
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            final List<String> output = new ArrayList<>();
            try (peer; BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null && !line.startsWith("pagewire: forwarding"))
                {
                    output.add(line);
                }
                assertTrue(line != null, "started: " + output);
                send(peer, 0, SMALL, 200);
                assertEquals(SMALL, echoes(peer, SMALL), "the small frames came back");
                VethPair.run("ip", "link", "set", "dev", veth.hostEnd(), "mtu", "1000");
                send(peer, SMALL, REFUSED, 1016);
                assertEquals(0, echoes(peer, REFUSED), "no echo over the new MTU came back");
                while ((line = reader.readLine()) != null)
                {
                    output.add(line);
                }
            }
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "exits after --duration");
            final String all = String.join("\n", output);
            System.out.println(all);
            assertEquals(0, process.exitValue(), all);

            final Map<String, Object> json = (Map<String, Object>)MiniJson.parse(Files.readString(summary));
            final Map<String, Object> counters = map(map(json, "nic"), "counters");
            assertEquals((long)REFUSED, counters.get("nic.af_packet.tx_refused"), all);
            final Map<String, Object> accounting = map(json, "accounting");
            assertEquals(true, accounting.get("balanced"), accounting.toString());
            final Map<String, Object> nicTx = map(accounting, "nic_tx");
            assertEquals((long)REFUSED, map(nicTx, "dropped").get("nic.af_packet.tx_refused"), accounting.toString());
            assertEquals(map(json, "tx").get("packets"), map(accounting, "tx").get("to_nic"));
            assertEquals((long)nicTx.get("frames") - REFUSED, nicTx.get("sent"), "sent is what was not refused");
            assertTrue((long)nicTx.get("sent") >= SMALL, accounting.toString());
            assertTrue(all.contains("nic.af_packet.tx_refused " + REFUSED), all);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(final Map<String, Object> parent, final String key)
    {
        return (Map<String, Object>)parent.get(key);
    }

    private static void send(final AfPacketNicPort peer, final long first, final int count, final int length)
    {
        for (long sequence = first; sequence < first + count; sequence++)
        {
            final long address = peer.claim(length);
            assertTrue(address != 0, "the peer's ring has room");
            final UnsafeBuffer frame = new UnsafeBuffer(address, length);
            FrameFormat.stamp(frame, 0, FrameFormat.writeTemplate(frame, length, sequence), sequence, 0);
            peer.commit(length);
        }
        peer.flush();
    }

    /** Counts pagewire test frames coming back until {@code expected} did or none came for 1 s. */
    private static int echoes(final AfPacketNicPort peer, final int expected)
    {
        int echoes = 0;
        final UnsafeBuffer echo = new UnsafeBuffer(0, 0);
        long quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (echoes < expected && System.nanoTime() - quietUntil < 0)
        {
            final int available = peer.rxAvailable();
            for (int i = 0; i < available; i++)
            {
                final int length = peer.rxFrameLength(i);
                echo.wrap(peer.rxFrameAddress(i), Math.max(length, 0));
                if (length > 0 && FrameFormat.isOurs(echo, 0, length))
                {
                    echoes++;
                    quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                }
            }
            peer.rxRelease(available);
        }
        return echoes;
    }

    private static NicConfig peerConfig(final String interfaceName)
    {
        return new NicConfig(NicType.AF_PACKET, 1024, 2048,
            new NicConfig.Memif("/tmp/x", MemifRole.SERVER, 0),
            new NicConfig.AfPacket(interfaceName, 1 << 16, 32, 1, true, false),
            new NicConfig.Pcap("", "", PcapPace.RECORDED, false));
    }
}
