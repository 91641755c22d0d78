package io.pagewire.dataplane.port.pcap;

import io.pagewire.config.PcapPace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replay pacing on a synthetic clock: frames become available exactly when due (recorded timing, wire rate, or at
 * once), in file order, bad records are skipped and counted, loops restart the schedule where the capture would
 * have gone on, and the window never exceeds {@link PcapReplay#WINDOW}.
 */
class PcapReplayTest
{
    private static final long T0 = 1_700_000_000_000_000_000L;
    private static final long START = 5_000_000_000L;

    @TempDir
    Path dir;

    private PcapFile open(final PcapBuilder builder)
    {
        return PcapFile.open(builder.write(dir.resolve("r.pcap")));
    }

    @Test
    void recordedPaceReleasesEachFrameAtItsOffsetFromTheFirst()
    {
        try (PcapFile file = open(new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true)
            .record(T0, PcapBuilder.frame(60, 0))
            .record(T0 + 1_000_000, PcapBuilder.frame(61, 1))
            .record(T0 + 3_000_000, PcapBuilder.frame(62, 2))
            .record(T0 + 500_000, PcapBuilder.frame(63, 3))))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.RECORDED, false, 0);
            assertEquals(1, replay.available(START));
            assertEquals(60, replay.frameLength(0));
            assertEquals(1, replay.available(START + 999_999));
            assertEquals(2, replay.available(START + 1_000_000));
            assertEquals(61, replay.frameLength(1));
            replay.release(2);
            assertEquals(0, replay.available(START + 2_999_999));
            // The last record's timestamp went backwards: it is due at once, after the one before it.
            assertEquals(2, replay.available(START + 3_000_000));
            assertEquals(62, replay.frameLength(0));
            assertEquals(63, replay.frameLength(1));
            assertArrayEquals(PcapBuilder.frame(63, 3), PcapFileTest.read(replay.frameAddress(1), 63));
            assertFalse(replay.finished());
            replay.release(2);
            assertEquals(0, replay.available(START + 10_000_000_000L));
            assertTrue(replay.finished());
            assertEquals(4, replay.framesReplayed());
            assertEquals(0, replay.loops());
        }
    }

    @Test
    void ratePaceSpacesFramesByTheirWireTime()
    {
        // 8 Mb/s: one byte per microsecond; 76-byte frames cost 100 bytes on the wire, 100 us.
        final PcapBuilder builder = new PcapBuilder(ByteOrder.BIG_ENDIAN, false);
        for (int i = 0; i < 5; i++)
        {
            builder.record(T0, PcapBuilder.frame(76, i));
        }
        try (PcapFile file = open(builder))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.RATE, false, 8);
            assertEquals(1, replay.available(START));
            assertEquals(1, replay.available(START + 99_999));
            assertEquals(2, replay.available(START + 100_000));
            assertEquals(4, replay.available(START + 300_000));
            assertEquals(5, replay.available(START + 400_000));
        }
    }

    @Test
    void ratePaceIsExactWhenTheRateDoesNotDivideEightMillion()
    {
        // 3000 Mb/s: 1476-byte frames cost 1500 bytes on the wire, 4 us each; a per-byte time rounded down to whole
        // picoseconds (2666 instead of 2666.67) would make the 11th frame due 10 ns early.
        final PcapBuilder builder = new PcapBuilder(ByteOrder.BIG_ENDIAN, false);
        for (int i = 0; i < 11; i++)
        {
            builder.record(T0, PcapBuilder.frame(1476, i));
        }
        try (PcapFile file = open(builder))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.RATE, false, 3000);
            assertEquals(1, replay.available(START));
            assertEquals(10, replay.available(START + 39_999));
            assertEquals(11, replay.available(START + 40_000));
        }
    }

    @Test
    void rateZeroAndMaxMakeEverythingDueAtOnceUpToTheWindow()
    {
        final PcapBuilder builder = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false);
        final int frames = PcapReplay.WINDOW + 100;
        for (int i = 0; i < frames; i++)
        {
            builder.record(T0 + i * 1_000_000_000L, PcapBuilder.frame(60 + i % 7, i));
        }
        try (PcapFile file = open(builder))
        {
            for (final PcapReplay replay : new PcapReplay[] {
                new PcapReplay(file, PcapPace.MAX, false, 1000), new PcapReplay(file, PcapPace.RATE, false, 0)})
            {
                assertEquals(PcapReplay.WINDOW, replay.available(START));
                replay.release(PcapReplay.WINDOW - 1);
                assertEquals(101, replay.available(START));
                assertEquals(60 + (PcapReplay.WINDOW - 1) % 7, replay.frameLength(0));
                replay.release(101);
                assertEquals(0, replay.available(START));
                assertTrue(replay.finished());
                assertEquals(frames, replay.framesReplayed());
            }
        }
    }

    @Test
    void badRecordsAreSkippedAndCountedOnEveryPass()
    {
        try (PcapFile file = open(new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).snaplen(100)
            .record(T0, PcapBuilder.frame(60, 0))
            .record(T0, 0, 0, new byte[0])
            .record(T0, PcapBuilder.frame(101, 1))
            .record(T0, PcapBuilder.frame(100, 2))))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.MAX, true, 0);
            int replayed = 0;
            while (replay.loops() < 3)
            {
                final int available = replay.available(START);
                for (int i = 0; i < available; i++)
                {
                    assertTrue(replay.frameLength(i) == 60 || replay.frameLength(i) == 100);
                }
                replay.release(available);
                replayed += available;
            }
            assertTrue(replay.badRecords() >= 6, "bad records " + replay.badRecords());
            assertEquals(replayed, replay.framesReplayed());
            assertEquals(0, replay.badRecords() % 2);
        }
    }

    @Test
    void loopAtRecordedPaceContinuesOneMeanGapAfterTheLastFrame()
    {
        // Frames at 0, 1 and 2 ms: a pass spans 2 ms, the mean gap is 1 ms, so pass 2 starts at 3 ms.
        try (PcapFile file = open(new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true)
            .record(T0, PcapBuilder.frame(60, 0))
            .record(T0 + 1_000_000, PcapBuilder.frame(60, 1))
            .record(T0 + 2_000_000, PcapBuilder.frame(60, 2))))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.RECORDED, true, 0);
            assertEquals(1, replay.available(START));
            assertEquals(3, replay.available(START + 2_000_000));
            replay.release(3);
            assertEquals(0, replay.available(START + 2_999_999));
            assertEquals(1, replay.loops());
            assertEquals(1, replay.available(START + 3_000_000));
            assertEquals(2, replay.available(START + 4_000_000));
            replay.release(2);
            assertEquals(5, replay.framesReplayed());
            assertFalse(replay.finished());
        }
    }

    @Test
    void aCaptureWithoutFramesIsNotLooped()
    {
        try (PcapFile file = open(new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false).record(T0, 0, 0, new byte[0])))
        {
            final PcapReplay replay = new PcapReplay(file, PcapPace.MAX, true, 0);
            assertEquals(0, replay.available(START));
            assertEquals(0, replay.available(START + 1));
            assertTrue(replay.finished());
            assertEquals(0, replay.loops());
            assertEquals(1, replay.badRecords());
        }
    }
}
