package io.pagewire.dataplane.port.memif;

import io.pagewire.control.cli.PagewireCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code pagewire run} as memif server in a child JVM (through the CLI, as an operator runs it), with a vhost-user
 * guest that never connects, so no queue pair ever polls the memif port: a few hundred memif clients connect and
 * leave, and the process's mappings ({@code /proc/PID/maps}) and address space ({@code VmSize}) come back to their
 * baseline; a client whose regions exceed {@code nic.memif.max_region_mib} is refused and counted, and the next
 * client is served. In this package (in control's tests) for {@link MemifTestPeer}, the memif client written from
 * memif.h.
 */
class MemifMappingsProcessTest
{
    private static final int LOG2 = 10;
    private static final int BUFFER = 2048;
    private static final int CYCLES = 200;
    private static final long TIMEOUT_NS = 20_000_000_000L;

    @TempDir
    Path temp;

    @Test
    void regionsOfGoneClientsAreReleasedWithNoQueuePairAndTheCapRefusesAnOversizedClient() throws Exception
    {
        final Path socket = temp.resolve("memif.sock");
        final Path summary = temp.resolve("summary.json");
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("--") || argument.startsWith("@")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PagewireCli.class.getName(),
            "run", "--dir", temp.resolve("run").toString(), "--quiet", "--summary", summary.toString(),
            "--set", "nic.type=memif", "--set", "nic.memif.socket=" + socket, "--set", "nic.memif.id=7",
            "--set", "nic.ring.size=" + (1 << LOG2), "--set", "nic.memif.max_region_mib=8",
            "--set", "guest.type=vhost-user", "--set", "guest.socket=" + temp.resolve("vhost.sock"),
            "--set", "dataplane.idle_strategy=sleep"));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final List<String> output = Collections.synchronizedList(new ArrayList<>());
        final Thread drain = Thread.ofVirtual().start(() ->
        {
            try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    output.add(line);
                }
            }
            catch (final Exception ignored)
            {
                // The child went.
            }
        });
        final Path maps = Path.of("/proc", Long.toString(process.pid()), "maps");
        try
        {
            final long deadline = System.nanoTime() + TIMEOUT_NS;
            while (!Files.exists(socket))
            {
                assertTrue(process.isAlive() && System.nanoTime() < deadline, "pagewire listens: " + output);
                Thread.sleep(20);
            }
            for (int i = 0; i < 20; i++)
            {
                connectAndLeave(socket, output);
            }
            final long baselineMaps = settled(maps, Long.MAX_VALUE);
            final long baselineSize = vmSizeKib(process.pid());
            for (int i = 0; i < CYCLES; i++)
            {
                connectAndLeave(socket, output);
            }
            // Each gone client's region (4 MiB and more) would stay mapped: a mapping and its address range each.
            final long after = settled(maps, baselineMaps + 16);
            assertTrue(after <= baselineMaps + 16, "mappings " + after + " after " + CYCLES +
                " clients, baseline " + baselineMaps + "; " + output);
            final long size = vmSizeKib(process.pid());
            assertTrue(size <= baselineSize + 64 * 1024, "VmSize " + size + " kB after " + CYCLES +
                " clients, baseline " + baselineSize + " kB");

            // Over the cap (8 MiB): 2^12 buffers each way are 16 MiB. Refused, and the next client is served.
            try (MemifTestPeer big = connectServed(socket, output))
            {
                big.createRegion(1, 12, BUFFER);
                big.sendInit(VERSION, 7);
                assertEquals(MSG_ACK, await(big, output));
                big.sendAddRegion(0, big.region.length(), big.regionFd);
                assertEquals(MSG_DISCONNECT, await(big, output));
                assertEquals("Regions too large", big.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
            }
            connectAndLeave(socket, output);
        }
        finally
        {
            new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start().waitFor();
            if (!process.waitFor(30, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
            }
            drain.join();
        }
        final String all = String.join("\n", output);
        assertEquals(0, process.exitValue(), all);
        assertTrue(all.contains("above nic.memif.max_region_mib=8 (8388608 bytes); refused"), all);
        final String json = Files.readString(summary);
        assertEquals(1, counter(json, "nic.memif.regions_over_cap"), json);
        assertEquals(20 + CYCLES + 1, counter(json, "nic.memif.connects"), json);
        assertEquals(0, counter(json, "nic.memif.bad_messages"), json);
    }

    /**
     * A client connects (DPDK's layout, one ring pair), reaches CONNECTED, and leaves. Its setup messages go without
     * waiting for each ACK (pagewire answers them in order), so a cycle takes few turns of pagewire's control loop.
     */
    private static void connectAndLeave(final Path socket, final List<String> output) throws InterruptedException
    {
        try (MemifTestPeer peer = connectServed(socket, output))
        {
            peer.createRegion(1, LOG2, BUFFER);
            peer.sendInit(VERSION, 7);
            peer.sendAddRegion(0, peer.region.length(), peer.regionFd);
            peer.sendAddRing(true, 0, 0, peer.ringOffset(0), LOG2, peer.eventFds.get(0).fd());
            peer.sendAddRing(false, 0, 0, peer.ringOffset(1), LOG2, peer.eventFds.get(1).fd());
            peer.sendConnect();
            for (int i = 0; i < 4; i++)
            {
                assertEquals(MSG_ACK, await(peer, output), () -> peer.string(DISCONNECT_STRING_OFFSET,
                    DISCONNECT_STRING_LENGTH) + "; " + output);
            }
            assertEquals(MSG_CONNECTED, await(peer, output));
        }
    }

    private static MemifTestPeer connectServed(final Path socket, final List<String> output)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + TIMEOUT_NS;
        while (true)
        {
            final MemifTestPeer peer = MemifTestPeer.connect(socket);
            final int type = await(peer, output);
            if (type == MSG_HELLO)
            {
                return peer;
            }
            assertEquals(MSG_DISCONNECT, type);
            assertEquals("Already connected", peer.string(DISCONNECT_STRING_OFFSET, DISCONNECT_STRING_LENGTH));
            peer.close();
            assertTrue(System.nanoTime() < deadline, "the last client's leaving is never seen: " + output);
            Thread.sleep(1);
        }
    }

    private static int await(final MemifTestPeer peer, final List<String> output)
    {
        final long deadline = System.nanoTime() + TIMEOUT_NS;
        while (true)
        {
            final int type = peer.receive();
            if (type != -1)
            {
                return type;
            }
            assertTrue(System.nanoTime() < deadline, "no message from pagewire: " + output);
            Thread.onSpinWait();
        }
    }

    /**
     * @return the child's mapping count once it is at most {@code target}, or once it stopped changing (the control
     * thread handles the last client's leaving on its next poll).
     */
    private static long settled(final Path maps, final long target) throws Exception
    {
        final long deadline = System.nanoTime() + TIMEOUT_NS;
        long last = -1;
        int same = 0;
        while (System.nanoTime() < deadline)
        {
            final long count = Files.readAllLines(maps).size();
            if (count <= target)
            {
                return count;
            }
            same = count == last ? same + 1 : 0;
            if (same == 20)
            {
                return count;
            }
            last = count;
            Thread.sleep(10);
        }
        return last;
    }

    private static long vmSizeKib(final long pid) throws Exception
    {
        for (final String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")))
        {
            if (line.startsWith("VmSize:"))
            {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return fail("no VmSize");
    }

    private static long counter(final String json, final String label)
    {
        final Matcher matcher = Pattern.compile("\"" + Pattern.quote(label) + "\"\\s*:\\s*(\\d+)").matcher(json);
        assertTrue(matcher.find(), label + " in " + json);
        return Long.parseLong(matcher.group(1));
    }
}
