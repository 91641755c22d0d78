package io.pagewire.control.interop;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.run.VhostUserForwarder;
import io.pagewire.dataplane.fixture.VethPair;
import io.pagewire.dataplane.virtio.FeatureBit;
import io.pagewire.interop.LinuxGuest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * External traffic into a real Linux guest through pagewire: a veth pair whose far end lives in a fresh network
 * namespace (10.0.0.1, the iperf3 client), its near end on pagewire's AF_PACKET port ({@code nic.type=af_packet}),
 * pagewire's vhost-user socket attached to the QEMU guest (10.0.0.2, the iperf3 server). Ping both ways, a short TCP
 * run (netns → guest, {@code -C cubic}) with non-zero throughput, and the guest's MRG_RXBUF bit (15) as configured;
 * without it, once with small buffers and once with the 64 KiB big-packet chains Linux posts when the device offers
 * GUEST_TSO4/6 ({@code features.guest_tso=true}).
 * <p>
 * Offloads: the veth's checksum and segmentation offloads are off ({@link VethPair}: ethtool {@code tx tso gso gro
 * off}) and the port runs without {@code vnet_hdr}, so only whole MTU frames with finished checksums cross, as on a
 * physical wire and as DPDK's {@code net_af_packet} (the benchmark's other backend) needs them. One case leaves them
 * on with {@code vnet_hdr} and GUEST_TSO4/6 negotiated: the namespace's TSO frames reach the guest's TCP whole.
 * Two run TCP the other way (guest → netns, iperf3 {@code -R}) with {@code features.host_tso=true}: the guest's TSO
 * frames leave whole through {@code vnet_hdr} (veth offloads on, the kernel segments what needs it) or are segmented
 * by pagewire (no vnet_hdr, offloads off).
 */
@Tag("interop")
class LinuxGuestAfPacketInteropTest
{
    private static final String NAMESPACE_ADDRESS = "10.0.0.1";
    private static final String GUEST_ADDRESS = "10.0.0.2";

    @TempDir
    Path temp;

    private VhostUserForwarder forwarder;
    private Thread control;
    private final AtomicBoolean controlRunning = new AtomicBoolean();

    @BeforeEach
    void requirePeers()
    {
        VethPair.assumeAvailable();
        final var reason = LinuxGuest.build();
        reason.ifPresent(r -> System.out.println("SKIPPED LinuxGuestAfPacketInteropTest: " + r));
        Assumptions.assumeTrue(reason.isEmpty(), () -> reason.orElse(""));
        final boolean iperf3 = Files.isExecutable(Path.of("/usr/bin/iperf3"));
        if (!iperf3)
        {
            System.out.println("SKIPPED LinuxGuestAfPacketInteropTest: iperf3 is not installed (.ci/run installs it)");
        }
        Assumptions.assumeTrue(iperf3, "iperf3 is not installed on the host (.ci/run installs it)");
    }

    @AfterEach
    void tearDown() throws Exception
    {
        controlRunning.set(false);
        if (control != null)
        {
            control.join();
        }
        if (forwarder != null)
        {
            forwarder.close();
        }
    }

    /**
     * With {@code hostTso} the device offers CSUM/HOST_TSO4/6 and iperf3 runs reversed ({@code -R}: the guest sends),
     * so the guest's TSO frames leave through the port: whole to the kernel with vnet_hdr, segmented by pagewire
     * without.
     */
    @ParameterizedTest(name = "mrg_rxbuf={0}, guest_tso={1}, vnet_hdr={2}, host_tso={3}")
    @CsvSource({"true, false, false, false", "false, false, false, false", "false, true, false, false",
        "true, true, true, false", "true, false, true, true", "true, false, false, true"})
    void pingBothWaysAndTcpFromTheNamespaceIntoTheGuest(
        final boolean mergeable, final boolean guestTso, final boolean vnetHdr, final boolean hostTso) throws Exception
    {
        try (VethPair veth = VethPair.create(true, vnetHdr))
        {
            veth.inNamespace("ip", "addr", "add", NAMESPACE_ADDRESS + "/24", "dev", veth.peerEnd());
            final Path socket = temp.resolve("vhost.sock");
            forwarder = new VhostUserForwarder(PagewireConfig.load(null, List.of(
                "guest.type=vhost-user", "guest.socket=" + socket, "dataplane.idle_strategy=backoff",
                "nic.type=af_packet", "nic.af_packet.interface=" + veth.hostEnd(),
                "features.mrg_rxbuf=" + mergeable, "rx.mode=" + (mergeable ? "mergeable" : "small"),
                "features.guest_tso=" + guestTso, "nic.af_packet.vnet_hdr=" + vnetHdr,
                "features.host_tso=" + hostTso)),
                temp.resolve("run"));
            forwarder.start();
            controlRunning.set(true);
            control = Thread.ofPlatform().name("test-control").start(() ->
            {
                while (controlRunning.get())
                {
                    forwarder.poll(5);
                }
            });
            try (LinuxGuest guest = LinuxGuest.boot(socket, mergeable, 1, 1500,
                "ping,-c,3,-W,5," + NAMESPACE_ADDRESS, "iperf3s"))
            {
                final String ready = guest.await("PW-READY", Duration.ofSeconds(120));
                assertTrue(ready.contains("operstate=up"), ready);
                final String features = guest.features(Duration.ofSeconds(5));
                assertEquals(mergeable, features.charAt(FeatureBit.MRG_RXBUF.bit()) == '1',
                    "the guest's virtio_net negotiated MRG_RXBUF (bit 15) as configured: " + features);
                // GUEST_TSO4 without MRG_RXBUF: virtio_net posts 64 KiB big-packet chains, pagewire fills them.
                assertEquals(guestTso, features.charAt(FeatureBit.GUEST_TSO4.bit()) == '1',
                    "GUEST_TSO4 (bit 7) as configured: " + features);
                assertEquals(hostTso, features.charAt(FeatureBit.CSUM.bit()) == '1' &&
                    features.charAt(FeatureBit.HOST_TSO4.bit()) == '1', "CSUM and HOST_TSO4 as configured: " + features);

                // guest → namespace: the first ping also resolves 10.0.0.1 by ARP through the port.
                final String pinged = guest.awaitLine(l -> l.startsWith("PW-CMD-END") && l.contains(" ping "),
                    "the end of the guest's ping", Duration.ofSeconds(60));
                assertTrue(pinged.contains(" rc=0 "), "the guest's ping of the namespace answered: " + pinged +
                    "\n" + guest.consoleTail(20));

                // namespace → guest, while the guest's iperf3 server waits for its one test.
                guest.await("PW-CMD iperf3s", Duration.ofSeconds(30));
                // busybox's ping: build-guest.sh installs busybox-static, iputils-ping may be absent.
                final String ping = veth.inNamespace(busybox(), "ping", "-c", "3", "-W", "5", GUEST_ADDRESS);
                assertTrue(ping.contains("3 packets received"), ping);

                final String client = iperf3Client(veth, 3, hostTso);
                final String result = guest.await("PW-IPERF3", Duration.ofSeconds(60));
                final long gsoPassed = nicCounter("nic.af_packet.rx_gso_passed");
                final long txPassed = nicCounter("q0 tx offloads_passed");
                final long txSegmented = nicCounter("q0 tx gso_segmented");
                System.out.printf("LinuxGuestAfPacketInteropTest mrg_rxbuf=%s guest_tso=%s vnet_hdr=%s host_tso=%s: " +
                    "features %s, GSO frames passed whole %d, guest TX offloads passed %d, segmented %d, guest %s%n",
                    mergeable, guestTso, vnetHdr, hostTso, features, gsoPassed, txPassed, txSegmented, result);
                assertTrue(result.contains(" rc=0 "), result + "\nclient:\n" + client);
                // Reversed (-R), the guest's iperf3 server is the sender and reports what it sent.
                final double moved = Double.parseDouble(field(result, hostTso ? "sent_bps" : "received_bps"));
                assertTrue(moved > 0, "TCP data went between namespace and guest: " + result);
                assertEquals(0, nicCounter("q0 tx drops bad_vnet_hdr"), "a Linux guest's headers all validate");
                if (hostTso)
                {
                    // The guest sent: its TSO frames left whole to the kernel (vnet_hdr) or were segmented here.
                    assertTrue((vnetHdr ? txPassed : txSegmented) > 0, "guest TSO frames: passed " + txPassed +
                        ", segmented " + txSegmented);
                }
                if (vnetHdr && guestTso)
                {
                    // The veth's offloads are on: the kernel hands over TSO frames, and the guest took them whole.
                    assertTrue(gsoPassed > 0, "GSO frames went into the guest whole: " + gsoPassed);
                }

                assertEquals(0, guest.awaitExit(Duration.ofSeconds(60)), "QEMU exited after the guest's poweroff");
                final Map<String, Long> stats = guest.lastStats();
                assertEquals(0, stats.get("rx_errors"), stats.toString());
                assertEquals(0, stats.get("rx_length_errors"), stats.toString());
            }
        }
    }

    /**
     * Runs the namespace's iperf3 client against the guest, retrying while the guest's server is not listening yet
     * (its /init prints the step before iperf3 binds the port; TCG is slow).
     */
    private long nicCounter(final String label)
    {
        final long[] value = {-1};
        final var reader = forwarder.countersFile().reader();
        reader.forEach((id, typeId, key, counterLabel) ->
        {
            if (counterLabel.equals(label))
            {
                value[0] = reader.getCounterValue(id);
            }
        });
        return value[0];
    }

    private static String iperf3Client(final VethPair veth, final int seconds, final boolean reverse)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true)
        {
            try
            {
                return reverse ?
                    veth.inNamespace("iperf3", "-c", GUEST_ADDRESS, "-C", "cubic", "-R", "-t",
                        Integer.toString(seconds), "--connect-timeout", "5000") :
                    veth.inNamespace("iperf3", "-c", GUEST_ADDRESS, "-C", "cubic", "-t",
                        Integer.toString(seconds), "--connect-timeout", "5000");
            }
            catch (final IllegalStateException ex)
            {
                if (System.nanoTime() - deadline > 0 || !ex.getMessage().contains("refused"))
                {
                    throw ex;
                }
                Thread.sleep(200);
            }
        }
    }

    private static String busybox()
    {
        return Files.isExecutable(Path.of("/bin/busybox")) ? "/bin/busybox" : "/usr/bin/busybox";
    }

    private static String field(final String line, final String key)
    {
        for (final String word : line.split("\\s+"))
        {
            if (word.startsWith(key + "="))
            {
                return word.substring(key.length() + 1);
            }
        }
        throw new AssertionError("no " + key + " in " + line);
    }
}
