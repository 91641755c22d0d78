package io.pagewire.control.nic;

import io.pagewire.config.PagewireConfig;
import io.pagewire.control.run.EmbeddedForwarder;
import io.pagewire.control.run.RunCommand;
import io.pagewire.control.run.RunResult;
import io.pagewire.dataplane.port.NicPortException;
import io.pagewire.dataplane.port.pcap.PcapBuilder;
import io.pagewire.dataplane.port.pcap.PcapCounter;
import io.pagewire.dataplane.port.pcap.PcapFile;
import io.pagewire.dataplane.stats.CountersLookup;
import io.pagewire.dataplane.stats.QueueCounter;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The forwarder end to end on {@code nic.type=pcap} with the embedded guest echoing: every frame of a generated
 * capture reaches the guest (as foreign traffic: it is not the project's own frame format) and its echo lands in the
 * output file, same bytes, same order, same count; at recorded pace the output spans about as long as the input.
 */
public class PcapForwarderTest
{
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final long T0 = 1_700_000_000_000_000_000L;

    @TempDir
    Path temp;

    /** A capture of {@code count} frames of mixed sizes, {@code gapNs} apart on average (jittered). */
    public static List<byte[]> capture(final Path path, final int count, final long gapNs, final boolean bigEndian)
    {
        final Random random = new Random(42);
        final PcapBuilder builder = new PcapBuilder(bigEndian ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN,
            !bigEndian);
        final List<byte[]> frames = new ArrayList<>();
        long time = T0;
        for (int i = 0; i < count; i++)
        {
            final int length = switch (i % 4)
            {
                case 0 -> 60;
                case 1 -> 1514;
                case 2 -> 60 + random.nextInt(1455);
                default -> 590;
            };
            final byte[] frame = PcapBuilder.frame(length, i);
            frames.add(frame);
            builder.record(time, frame);
            time += gapNs / 2 + (long)(random.nextDouble() * gapNs);
        }
        builder.write(path);
        return frames;
    }

    private static long counter(final CountersReader reader, final PcapCounter counter)
    {
        final int id = CountersLookup.findCounterId(reader, counter.id(), 0, 0);
        return id < 0 ? -1 : reader.getCounterValue(id);
    }

    /** Runs the forwarder until the guest received {@code frames} and the writer wrote them, then stops it. */
    public static RunResult forward(final PagewireConfig config, final Path runBase, final int frames) throws Exception
    {
        try (EmbeddedForwarder forwarder = new EmbeddedForwarder(config, runBase))
        {
            forwarder.start();
            final CountersReader reader = forwarder.countersFile().reader();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            // The embedded guest drops an echo when its transmit queue is full (counted): wait for written + those.
            while ((CountersLookup.value(reader, QueueCounter.RX_PACKETS, 0) < frames ||
                counter(reader, PcapCounter.FRAMES_WRITTEN) + forwarder.peer().guest().echoDropped() < frames) &&
                System.nanoTime() - deadline < 0 && forwarder.failure() == null)
            {
                forwarder.poll();
                Thread.sleep(5);
            }
            final String progress = "rx packets " + CountersLookup.value(reader, QueueCounter.RX_PACKETS, 0) +
                ", tx packets " + CountersLookup.value(reader, QueueCounter.TX_PACKETS, 0) + ", frames written " +
                counter(reader, PcapCounter.FRAMES_WRITTEN) + ", echo dropped " + forwarder.peer().guest().echoDropped();
            assertTrue(System.nanoTime() - deadline < 0, "timed out: " + progress);
            forwarder.stop();
            assertNull(forwarder.failure());
            final RunResult result = forwarder.result();
            assertEquals(frames, counter(reader, PcapCounter.FRAMES_REPLAYED));
            assertEquals(0, counter(reader, PcapCounter.WRITE_DROPS));
            assertEquals(0, counter(reader, PcapCounter.BAD_RECORDS));
            assertEquals((long)frames, result.nicCounters().get(PcapCounter.FRAMES_REPLAYED.label()));
            assertEquals(frames, result.pairs().get(0).rxPackets());
            assertEquals(frames, result.rxVerify().foreign(), "the capture's frames are foreign to the guest");
            assertEquals(0, result.rxVerify().checked());
            assertEquals(frames, result.pairs().get(0).reader().sentFrames() + result.guestTxQueueFull(),
                "every frame echoed or counted as not echoed");
            return result;
        }
    }

    /**
     * The forwarder replaying {@code in} to the embedded guest, which echoes into {@code out}. The guest's transmit
     * queue holds 1024 echoes, so a capture of up to 1024 frames is echoed whole even if the dataplane thread is
     * descheduled for a while (on a loaded machine): the guest drops an echo only when that queue is full.
     */
    public static PagewireConfig config(final Path in, final Path out, final String pace, final String... more)
        throws Exception
    {
        final List<String> overrides = new ArrayList<>(List.of("nic.type=pcap", "nic.pcap.read=" + in,
            "nic.pcap.write=" + out, "nic.pcap.pace=" + pace, "guest.type=embedded", "guest.tx=echo",
            "virtqueue.tx.size=1024"));
        overrides.addAll(List.of(more));
        return PagewireConfig.load(null, overrides);
    }

    /** Asserts the output holds exactly {@code frames}, in order; returns its timestamp span in ns. */
    public static long assertSameFrames(final Path out, final List<byte[]> frames)
    {
        try (PcapFile file = PcapFile.open(out))
        {
            assertEquals(frames.size(), file.records(), "frames in " + out);
            long offset = file.firstRecordOffset();
            for (int i = 0; i < frames.size(); i++)
            {
                final int caplen = file.caplen(offset);
                assertArrayEquals(frames.get(i),
                    ALL.asSlice(file.frameAddress(offset), caplen).toArray(ValueLayout.JAVA_BYTE), "frame " + i);
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
            return file.lastTimestampNs() - file.firstTimestampNs();
        }
    }

    @Test
    void everyReplayedFrameReachesTheGuestAndItsEchoLandsInTheOutput() throws Exception
    {
        final Path in = temp.resolve("in.pcap");
        final Path out = temp.resolve("out.pcap");
        final List<byte[]> frames = capture(in, 400, 0, true);
        // At 200 Mb/s the guest keeps up and echoes every frame: the output is the input, frame for frame.
        final RunResult result = forward(config(in, out, "rate", "traffic.rate_mbps=200"), temp, frames.size());
        assertEquals(0, result.guestTxQueueFull());
        assertEquals(frames.size(), result.pairs().get(0).reader().sentFrames());
        assertSameFrames(out, frames);
    }

    @Test
    void maxPaceDeliversEveryFrameAndRecordsEveryEchoTheGuestSent() throws Exception
    {
        final Path in = temp.resolve("in.pcap");
        final Path out = temp.resolve("out.pcap");
        final List<byte[]> frames = capture(in, 2000, 0, false);
        final RunResult result = forward(config(in, out, "max"), temp, frames.size());
        final long echoed = result.pairs().get(0).reader().sentFrames();
        try (PcapFile file = PcapFile.open(out))
        {
            assertEquals(echoed, file.records(), "every echo the guest sent is in the file");
            // In order: each recorded frame is a later frame of the capture than the one before it.
            int next = 0;
            long offset = file.firstRecordOffset();
            for (long r = 0; r < file.records(); r++)
            {
                final int caplen = file.caplen(offset);
                final byte[] bytes = ALL.asSlice(file.frameAddress(offset), caplen).toArray(ValueLayout.JAVA_BYTE);
                while (next < frames.size() && !java.util.Arrays.equals(frames.get(next), bytes))
                {
                    next++;
                }
                assertTrue(next < frames.size(), "record " + r + " is no frame of the capture (or out of order)");
                next++;
                offset = PcapFile.nextRecordOffset(offset, caplen);
            }
        }
    }

    @Test
    void recordedPaceTakesAboutAsLongAsTheCaptureSpans() throws Exception
    {
        final Path in = temp.resolve("in.pcap");
        final Path out = temp.resolve("out.pcap");
        final List<byte[]> frames = capture(in, 200, 2_000_000, false);
        final long inputSpanNs;
        try (PcapFile file = PcapFile.open(in))
        {
            inputSpanNs = file.lastTimestampNs() - file.firstTimestampNs();
        }
        assertTrue(inputSpanNs > 300_000_000L, "capture spans " + inputSpanNs + " ns");
        forward(config(in, out, "recorded"), temp, frames.size());
        final long outputSpanNs = assertSameFrames(out, frames);
        // Loose lower bound only: the echoes cannot come earlier than their originals were due; late is allowed.
        assertTrue(outputSpanNs >= inputSpanNs * 9 / 10,
            "output spans " + outputSpanNs + " ns, the capture " + inputSpanNs + " ns");
    }

    @Test
    void aCorruptCaptureIsAConfigErrorAtStart() throws Exception
    {
        final Path in = temp.resolve("cut.pcap");
        capture(in, 10, 1000, false);
        final byte[] bytes = Files.readAllBytes(in);
        Files.write(in, java.util.Arrays.copyOf(bytes, bytes.length - 7));
        final NicPortException ex = assertThrows(NicPortException.class,
            () -> new EmbeddedForwarder(config(in, temp.resolve("o.pcap"), "max"), temp).close());
        assertTrue(ex.getMessage().startsWith("nic.pcap.read=\"" + in + "\": "), ex.getMessage());
        assertTrue(ex.getMessage().contains("record 10 at offset"), ex.getMessage());

        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = RunCommand.run(new String[] {"--set", "nic.type=pcap", "--set", "nic.pcap.read=" + in,
            "--dir", temp.toString(), "--duration", "1s", "--quiet"},
            new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code, err.toString(StandardCharsets.UTF_8));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("truncated"), err.toString(StandardCharsets.UTF_8));
    }
}
