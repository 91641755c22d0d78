package io.pagewire.control.interop;

import io.pagewire.control.nic.PcapForwarderTest;
import io.pagewire.dataplane.port.pcap.PcapFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Wireshark's tools as the other side of the pcap port's files: {@code tshark} reads the file the forwarder wrote
 * (every frame, every length, in order), {@code editcap} converts it to a microsecond pcap that the port replays
 * byte for byte, and so does the pcapng {@code editcap} makes of it, at the same nanosecond times.
 */
@Tag("interop")
class PcapTsharkInteropTest
{
    @TempDir
    Path temp;

    private static boolean onPath(final String tool)
    {
        final String path = System.getenv("PATH");
        if (path != null)
        {
            for (final String dir : path.split(File.pathSeparator))
            {
                if (Files.isExecutable(Path.of(dir, tool)))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static String run(final Path dir, final String... command) throws IOException, InterruptedException
    {
        final Path output = dir.resolve("tool-" + System.nanoTime() + ".out");
        final Process process = new ProcessBuilder(command).redirectErrorStream(false)
            .redirectOutput(output.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), String.join(" ", command) + " did not finish");
        final String text = Files.readString(output, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed: " + text);
        return text;
    }

    @Test
    void tsharkReadsEveryFrameTheForwarderWrote() throws Exception
    {
        Assumptions.assumeTrue(onPath("tshark") && onPath("editcap"),
            "tshark/editcap not installed (Debian package tshark; .ci/run installs it): skipping the pcap interop test");
        final Path in = temp.resolve("in.pcap");
        final Path out = temp.resolve("out.pcap");
        final List<byte[]> frames = PcapForwarderTest.capture(in, 300, 100_000, false);
        PcapForwarderTest.forward(PcapForwarderTest.config(in, out, "rate", "traffic.rate_mbps=200"), temp,
            frames.size());
        PcapForwarderTest.assertSameFrames(out, frames);

        final String lengths = run(temp, "tshark", "-r", out.toString(), "-T", "fields", "-e", "frame.len",
            "-e", "frame.cap_len");
        final List<String> expected = new ArrayList<>();
        for (final byte[] frame : frames)
        {
            expected.add(frame.length + "\t" + frame.length);
        }
        assertEquals(expected, lengths.lines().toList(), "tshark's frame.len/frame.cap_len of " + out);

        final String info = run(temp, "capinfos", "-M", "-c", "-E", "-i", out.toString());
        assertTrue(info.contains("Number of packets:   " + frames.size()) ||
            info.matches("(?s).*Number of packets:\\s+" + frames.size() + "\\b.*"), info);
        assertTrue(info.matches("(?s).*File encapsulation:\\s+ether\\b.*"), info);

        // editcap writes the same frames as a classic microsecond pcap; the port replays it unchanged.
        final Path converted = temp.resolve("converted.pcap");
        run(temp, "editcap", "-F", "pcap", out.toString(), converted.toString());
        try (PcapFile file = PcapFile.open(converted))
        {
            assertTrue(!file.nanoseconds(), "editcap -F pcap writes microseconds");
        }
        PcapForwarderTest.assertSameFrames(converted, frames);

        // editcap's pcapng of the same capture replays as the same frames at the same nanosecond times.
        final Path pcapng = temp.resolve("converted.pcapng");
        run(temp, "editcap", "-F", "pcapng", out.toString(), pcapng.toString());
        PcapForwarderTest.assertSameFrames(pcapng, frames);
        try (PcapFile classic = PcapFile.open(out); PcapFile ng = PcapFile.open(pcapng))
        {
            long a = classic.firstRecordOffset();
            long b = ng.firstRecordOffset();
            for (int i = 0; i < frames.size(); i++)
            {
                assertEquals(classic.timestampNs(a), ng.timestampNs(b), "time of frame " + i);
                a = PcapFile.nextRecordOffset(a, classic.caplen(a));
                b = PcapFile.nextRecordOffset(b, ng.caplen(b));
            }
        }
    }
}
