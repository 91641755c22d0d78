package io.pagewire.dataplane.port.pcap;

import io.pagewire.config.NicConfig;
import io.pagewire.config.PcapPace;
import io.pagewire.dataplane.fixture.AllocationMeter;
import io.pagewire.dataplane.port.NicPort;
import io.pagewire.dataplane.port.NicPortException;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The port through the dataplane's {@link NicPort} API, as a forwarder opens it: frames replayed and recorded,
 * counters in the counters file under the pcap ids, a stop that lets in-flight frames drain, open errors that name
 * the key, and a steady state that allocates nothing.
 */
class PcapNicPortTest
{
    private static final long T0 = 1_700_000_000_000_000_000L;

    @TempDir
    Path dir;

    private static CountersManager counters()
    {
        return new CountersManager(new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 128)));
    }

    private static Map<String, Long> byLabel(final CountersReader reader)
    {
        final Map<String, Long> values = new HashMap<>();
        reader.forEach((id, typeId, key, label) ->
        {
            assertTrue(typeId >= 340 && typeId <= 359, "pcap type id " + typeId);
            values.put(label, reader.getCounterValue(id));
        });
        return values;
    }

    /** Echoes every available frame to the port's transmit side, as the guest with guest.tx=echo would. */
    private static int echoCycle(final NicPort port)
    {
        final int available = port.rxAvailable();
        for (int i = 0; i < available; i++)
        {
            final int length = port.rxFrameLength(i);
            final long destination = port.claim(length);
            org.agrona.UnsafeApi.copyMemory(port.rxFrameAddress(i), destination, length);
            port.commit(length);
        }
        port.rxRelease(available);
        return available;
    }

    @Test
    void replaysRecordsAndCountsThroughTheNicPortApi() throws Exception
    {
        final Path in = new PcapBuilder(ByteOrder.BIG_ENDIAN, false).snaplen(1000)
            .record(T0, PcapBuilder.frame(60, 1))
            .record(T0, PcapBuilder.frame(1001, 2))
            .record(T0, PcapBuilder.frame(1000, 3))
            .write(dir.resolve("in.pcap"));
        final Path out = dir.resolve("out.pcap");
        final CountersManager manager = counters();
        try (PcapNicPortSet set = PcapNicPortSet.open(
            new NicConfig.Pcap(in.toString(), out.toString(), PcapPace.MAX, true), 0, manager))
        {
            assertEquals(1, set.pairs());
            assertTrue(set.describe().contains("replaying " + in + " (2 frames, pace max, loop)"), set.describe());
            final NicPort port = set.port(0);
            int echoed = 0;
            while (echoed < 10)
            {
                echoed += echoCycle(port);
            }
            set.stopReceiving();
            assertEquals(0, port.rxAvailable(), "nothing after the stop: the window was released");
            final Map<String, Long> live = byLabel(manager);
            assertEquals((long)echoed, live.get("nic.pcap.frames_replayed"));
            assertTrue(live.get("nic.pcap.loops") >= 4);
            assertTrue(live.get("nic.pcap.bad_records") >= 5);
            assertEquals(0L, live.get("nic.pcap.write_drops"));
            set.close();
            try (PcapFile file = PcapFile.open(out))
            {
                assertEquals(echoed, file.records());
                long offset = file.firstRecordOffset();
                for (int i = 0; i < echoed; i++)
                {
                    final int caplen = file.caplen(offset);
                    assertArrayEquals(PcapBuilder.frame(i % 2 == 0 ? 60 : 1000, i % 2 == 0 ? 1 : 3),
                        PcapFileTest.read(file.frameAddress(offset), caplen));
                    offset = PcapFile.nextRecordOffset(offset, caplen);
                }
            }
        }
        assertTrue(byLabel(manager).isEmpty(), "close frees the port's counters");
    }

    @Test
    void withoutAWriteFileTransmittedFramesAreDiscarded()
    {
        final Path in = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true).record(T0, PcapBuilder.frame(100, 1))
            .write(dir.resolve("in.pcap"));
        try (PcapNicPortSet set = PcapNicPortSet.open(
            new NicConfig.Pcap(in.toString(), "", PcapPace.RECORDED, false), 0, null))
        {
            assertEquals(1, echoCycle(set.port(0)));
            assertEquals(0, echoCycle(set.port(0)));
            assertTrue(set.pcapPort().replay().finished());
        }
    }

    @Test
    void openErrorsNameTheKey() throws Exception
    {
        final Path bad = Files.write(dir.resolve("bad.pcap"), new byte[40]);
        final NicPortException read = assertThrows(NicPortException.class, () -> PcapNicPortSet.open(
            new NicConfig.Pcap(bad.toString(), "", PcapPace.MAX, false), 0, counters()));
        assertTrue(read.getMessage().startsWith("nic.pcap.read=\"" + bad + "\": " + bad + " is not a pcap file"),
            read.getMessage());

        final Path unwritable = dir.resolve("no-such-dir").resolve("out.pcap");
        final CountersManager manager = counters();
        final NicPortException write = assertThrows(NicPortException.class, () -> PcapNicPortSet.open(
            new NicConfig.Pcap("", unwritable.toString(), PcapPace.MAX, false), 0, manager));
        assertTrue(write.getMessage().startsWith("nic.pcap.write=\"" + unwritable + "\": cannot create pcap file"),
            write.getMessage());
        assertTrue(byLabel(manager).isEmpty(), "a failed open frees what it allocated");
    }

    @Test
    void steadyStateAllocatesNothing()
    {
        final PcapBuilder builder = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, true);
        for (int i = 0; i < 100; i++)
        {
            builder.record(T0 + i * 1000L, PcapBuilder.frame(60 + i % 64, i));
        }
        final Path in = builder.write(dir.resolve("in.pcap"));
        try (PcapNicPortSet set = PcapNicPortSet.open(new NicConfig.Pcap(in.toString(),
            dir.resolve("out.pcap").toString(), PcapPace.MAX, true), 0, counters()))
        {
            final NicPort port = set.port(0);
            long frames = 0;
            while (frames < 200_000)
            {
                frames += echoCycle(port);
            }
            AllocationMeter.assertSomeWindowAllocatesNothing("replaying and recording", 5, () ->
            {
                long measured = 0;
                while (measured < 100_000)
                {
                    measured += echoCycle(port);
                }
                return measured;
            });
        }
    }
}
