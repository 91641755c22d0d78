package io.pagewire.dataplane.bridge;

import io.pagewire.dataplane.fixture.AllocationMeter;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static io.pagewire.dataplane.bridge.TestFrames.NO_TAG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The bridge's steady state allocates nothing: deciding 10^6 frames of every kind (learning, refresh, moves, a
 * spraying port at its limit, known unicast, flooding per VLAN with tags pushed, popped and rewritten, drops), copying
 * each to every egress with its VLAN edit, and aging the fdb a few slots per frame while entries expire and are
 * learned again.
 */
class BridgeAllocationTest
{
    private static final int FRAMES = 1_000_000;
    private static final long MS = 1_000_000L;

    @Test
    void decidingCopyingAndAgingAllocateNothing()
    {
        try (TestFrames frames = new TestFrames())
        {
            final Bridge bridge = new Bridge(new Fdb(4096, 8, 1000 * MS, 5));
            bridge.addPort(0, PortPolicy.access(10));
            bridge.addPort(1, PortPolicy.access(10).withPinnedMac(0x02_00_00_00_01_01L));
            bridge.addPort(2, PortPolicy.trunk(10, 20).withNativeVlan(30));
            bridge.addPort(3, PortPolicy.access(20).withMacLimit(8));
            bridge.addPort(4, PortPolicy.transparent());
            bridge.addPort(5, PortPolicy.transparent());
            bridge.addPort(6, PortPolicy.access(30));
            bridge.addPort(7, PortPolicy.access(20));

            final SplittableRandom random = new SplittableRandom(11);
            final int kinds = 512;
            final int[] ingress = new int[kinds];
            final long[] address = new long[kinds];
            final int[] length = new int[kinds];
            for (int i = 0; i < kinds; i++)
            {
                // A VM that moves between ports 4 and 5, and back, all the time.
                final int port = i % 64 == 0 ? 4 : i % 64 == 32 ? 5 : random.nextInt(8);
                final long source = i % 32 == 0 ? 0x02_00_00_00_77_77L : port == 1 && random.nextInt(4) != 0 ? 0x02_00_00_00_01_01L :
                    0x02_00_00_00_00_00L | (port << 8) | random.nextInt(port == 3 ? 256 : 16);
                final long destination = switch (random.nextInt(4))
                {
                    case 0 -> EthernetFrame.BROADCAST;
                    case 1 -> 0x01_00_5E_00_00_01L;
                    default -> 0x02_00_00_00_00_00L | (random.nextInt(8) << 8) | random.nextInt(16);
                };
                final int tci = port == 2 ? switch (random.nextInt(4))
                {
                    case 0 -> NO_TAG;
                    case 1 -> 0x000A;
                    case 2 -> 0x2014;
                    default -> 0x4000;
                } : port == 0 && random.nextInt(8) == 0 ? 0x000A : NO_TAG;
                length[i] = random.nextInt(8) == 0 ? 1518 : 64;
                ingress[i] = port;
                final MemorySegment frame = frames.frame(destination, source, tci, length[i]);
                address[i] = frame.address();
            }
            final MemorySegment out = frames.allocate(2048);
            final BridgeDecision decision = bridge.newDecision();
            final long[] now = {0};
            final long[] egressCopies = {0};

            final Runnable run = () ->
            {
                for (int n = 0; n < FRAMES; n++)
                {
                    final int i = n & (kinds - 1);
                    // Now and then the clock jumps past the aging time: everything expires and is learned again.
                    now[0] += n % 100_000 == 0 ? 2000 * MS : MS / 4;
                    final int count = bridge.decide(ingress[i], address[i], length[i], now[0], decision);
                    for (int e = 0; e < count; e++)
                    {
                        VlanEdit.copy(decision.egressEdit(e), address[i], length[i], out.address());
                        egressCopies[0]++;
                    }
                    bridge.age(now[0], 4);
                }
            };
            run.run();

            AllocationMeter.assertSomeWindowAllocatesNothing("bridge decisions, edited copies and aging", 3, () ->
            {
                run.run();
                return FRAMES;
            });

            final Fdb fdb = bridge.fdb();
            assertTrue(fdb.aged() > 100 && fdb.limitHits() > 1000 && fdb.moved() > 1000 && fdb.learned() > 200,
                "learning, aging, limit and moves all ran: " + fdb.learned() + " learned, " + fdb.aged() +
                " aged, " + fdb.limitHits() + " limit hits, " + fdb.moved() + " moved");
            assertTrue(bridge.unicast() > 1000 && bridge.flooded() > 1000 && egressCopies[0] > FRAMES,
                "unicast and flooding both ran");
            assertTrue(bridge.drops(BridgeDecision.MAC_PINNED) > 0 &&
                bridge.drops(BridgeDecision.ACCESS_TAGGED) > 0 && bridge.drops(BridgeDecision.SAME_PORT) > 0,
                "drops ran");
        }
    }
}
