package io.pagewire.dataplane.bridge;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class FdbTest
{
    private static final long SECOND = 1_000_000_000L;
    private static final long AGING = 300 * SECOND;
    private static final long A = 0x02_00_00_00_00_0AL;
    private static final long B = 0x02_00_00_00_00_0BL;
    private static final long C = 0x02_00_00_00_00_0CL;

    @Test
    void learnsRefreshesAndLooksUp()
    {
        final Fdb fdb = new Fdb(1024, 4, AGING, 1);
        assertEquals(Fdb.MISS, fdb.lookup(A, 0));
        assertEquals(Fdb.LEARNED, fdb.learn(A, 0, 2, 0));
        assertEquals(Fdb.REFRESHED, fdb.learn(A, 0, 2, SECOND));
        assertEquals(2, fdb.lookup(A, 0));
        assertEquals(Fdb.MISS, fdb.lookup(A, 7), "another VLAN is another entry");
        assertEquals(Fdb.MISS, fdb.lookup(B, 0));
        assertEquals(Fdb.LEARNED, fdb.learn(A, 7, 3, 0));
        assertEquals(3, fdb.lookup(A, 7));
        assertEquals(2, fdb.lookup(A, 0));
        assertEquals(2, fdb.entries());
        assertEquals(2, fdb.learned());
        assertEquals(1, fdb.portEntries(2));
        assertEquals(1, fdb.portEntries(3));
    }

    @Test
    void aMacSeenOnAnotherPortMovesAtOnce()
    {
        final Fdb fdb = new Fdb(1024, 4, AGING, 1);
        fdb.learn(A, 5, 1, 0);
        assertEquals(Fdb.MOVED, fdb.learn(A, 5, 3, SECOND));
        assertEquals(3, fdb.lookup(A, 5));
        assertEquals(1, fdb.moved());
        assertEquals(1, fdb.entries());
        assertEquals(0, fdb.portEntries(1));
        assertEquals(1, fdb.portEntries(3));
    }

    @Test
    void entriesOlderThanTheAgingTimeExpireWithAnInjectedClock()
    {
        final long t0 = -7 * SECOND; // nanoTime may be negative
        final Fdb fdb = new Fdb(64, 4, AGING, 1);
        fdb.learn(A, 0, 1, t0);
        fdb.learn(B, 0, 2, t0 + 100 * SECOND);
        fdb.learn(C, 0, 3, t0);
        fdb.learn(C, 0, 3, t0 + 200 * SECOND); // refreshed: young again

        assertEquals(0, sweep(fdb, t0 + AGING - 2_000_000), "nothing is older than 300 s yet");
        assertEquals(3, fdb.entries());

        assertEquals(1, sweep(fdb, t0 + AGING + 2_000_000));
        assertEquals(Fdb.MISS, fdb.lookup(A, 0));
        assertEquals(2, fdb.lookup(B, 0));
        assertEquals(3, fdb.lookup(C, 0));
        assertEquals(1, fdb.aged());
        assertEquals(0, fdb.portEntries(1));

        assertEquals(2, sweep(fdb, t0 + 501 * SECOND));
        assertEquals(0, fdb.entries());
        assertEquals(3, fdb.aged());
    }

    @Test
    void agingVisitsABoundedNumberOfSlotsPerCall()
    {
        final Fdb fdb = new Fdb(64, 2, SECOND, 3);
        for (int i = 0; i < 64; i++)
        {
            fdb.learn(A + i, 0, 0, 0);
        }
        final long later = 10 * SECOND;
        int calls = 0;
        int removed = 0;
        while (fdb.entries() > 0)
        {
            final int now = fdb.age(later, 1);
            assertTrue(now <= 1, "one slot visited, at most one entry removed");
            removed += now;
            calls++;
            assertTrue(calls <= 128 + 64, "one sweep: 128 slots plus one revisit per removal");
        }
        assertEquals(64, removed);
        assertTrue(calls >= 64);
    }

    @Test
    void aClockThatGoesBackwardsAgesNothing()
    {
        final Fdb fdb = new Fdb(64, 2, SECOND, 3);
        fdb.learn(A, 0, 0, 100 * SECOND);
        assertEquals(0, sweep(fdb, 50 * SECOND));
        assertEquals(0, fdb.lookup(A, 0));
    }

    @Test
    void aPortAtItsLimitLearnsNothingNewAndEvictsNobody()
    {
        final Fdb fdb = new Fdb(1024, 4, AGING, 1);
        fdb.learn(A, 0, 1, 0);
        fdb.macLimit(2, 4);
        for (int i = 0; i < 100; i++)
        {
            final int result = fdb.learn(0x02_AA_00_00_00_00L + i, 0, 2, 0);
            assertEquals(i < 4 ? Fdb.LEARNED : Fdb.LIMIT_HIT, result);
        }
        assertEquals(96, fdb.limitHits());
        assertEquals(4, fdb.portEntries(2));
        assertEquals(1, fdb.lookup(A, 0), "another port's entry stays");
        assertEquals(Fdb.REFRESHED, fdb.learn(0x02_AA_00_00_00_00L, 0, 2, SECOND), "its own entries refresh");

        assertEquals(Fdb.LIMIT_HIT, fdb.learn(A, 0, 2, SECOND), "nor can it take another port's address");
        assertEquals(1, fdb.lookup(A, 0));
        assertEquals(97, fdb.limitHits());

        fdb.macLimit(3, 0);
        assertEquals(Fdb.LIMIT_HIT, fdb.learn(B, 0, 3, 0), "limit 0 learns nothing");
    }

    @Test
    void aFullTableRefusesNewEntriesAndEvictsNone()
    {
        final Fdb fdb = new Fdb(8, 4, AGING, 1);
        for (int i = 0; i < 8; i++)
        {
            assertEquals(Fdb.LEARNED, fdb.learn(A + i, 0, i % 2, 0));
        }
        assertEquals(Fdb.TABLE_FULL, fdb.learn(B + 100, 0, 3, 0));
        assertEquals(Fdb.TABLE_FULL, fdb.learn(A, 1, 3, 0), "same MAC, other VLAN: a new entry");
        assertEquals(2, fdb.tableFull());
        for (int i = 0; i < 8; i++)
        {
            assertEquals(i % 2, fdb.lookup(A + i, 0), "no entry evicted");
        }
        assertEquals(Fdb.REFRESHED, fdb.learn(A, 0, 0, SECOND), "a full table still refreshes");
        assertEquals(Fdb.MOVED, fdb.learn(A, 0, 3, SECOND), "and moves");
        assertTrue(fdb.remove(A + 1, 0));
        assertEquals(Fdb.LEARNED, fdb.learn(B + 100, 0, 3, 0), "room again after a delete");
        assertEquals(8, fdb.entries());
    }

    @Test
    void flushOfAPortRemovesOnlyItsEntries()
    {
        final Fdb fdb = new Fdb(256, 4, AGING, 9);
        for (int i = 0; i < 256; i++)
        {
            fdb.learn(A + 977L * i, i % 3, i % 4, 0);
        }
        assertEquals(64, fdb.flush(2));
        assertEquals(192, fdb.entries());
        assertEquals(0, fdb.portEntries(2));
        for (int i = 0; i < 256; i++)
        {
            assertEquals(i % 4 == 2 ? Fdb.MISS : i % 4, fdb.lookup(A + 977L * i, i % 3), "entry " + i);
        }
        assertEquals(0, fdb.flush(2));
        fdb.flush();
        assertEquals(0, fdb.entries());
        assertEquals(256, fdb.flushed());
        assertEquals(Fdb.MISS, fdb.lookup(A, 0));
        assertEquals(0, fdb.portEntries(1));
    }

    @Test
    void forEachListsMacVlanPortAndAge()
    {
        final Fdb fdb = new Fdb(16, 4, AGING, 1);
        fdb.learn(A, 10, 1, 0);
        fdb.learn(B, 0, 3, 30 * SECOND);
        final List<String> rows = new ArrayList<>();
        final int n = fdb.forEach(40 * SECOND, (mac, vlan, port, ageNs) ->
            rows.add(EthernetFrame.formatMac(mac) + " " + vlan + " " + port + " " + Math.round(ageNs / 1e9)));
        assertEquals(2, n);
        rows.sort(null);
        assertEquals(List.of("02:00:00:00:00:0a 10 1 40", "02:00:00:00:00:0b 0 3 10"), rows);

        final List<String> chunked = new ArrayList<>();
        int calls = 0;
        for (int from = 0; from < fdb.slots(); calls++)
        {
            from = fdb.forEach(40 * SECOND, (mac, vlan, port, ageNs) -> chunked.add(EthernetFrame.formatMac(mac) +
                " " + vlan + " " + port + " " + Math.round(ageNs / 1e9)), from, 5);
        }
        chunked.sort(null);
        assertEquals(rows, chunked, "the same listing in chunks of 5 slots");
        assertEquals(7, calls, "32 slots, 5 at a time");
    }

    @Test
    void configurationErrorsNameTheValueAndTheRule()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new Fdb(1000, 4, AGING, 1));
        assertEquals("fdb capacity=1000: must be a power of two in 2..16777216", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Fdb(1024, 0, AGING, 1));
        assertThrows(IllegalArgumentException.class, () -> new Fdb(1024, 4, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new Fdb(1024, 4, AGING, 1).macLimit(1, -1));
    }

    /**
     * Random learn, move, lookup, remove, flush and aging against a HashMap: every result code and every lookup as
     * the oracle says, under a table small enough to fill, wrap its clusters round the end and delete from the
     * middle of them all the time.
     */
    @Test
    void randomOperationsAgreeWithAHashMap()
    {
        for (final long seed : new long[] {1, 2, 3})
        {
            randomOperations(seed, 120_000);
        }
    }

    private record Seen(int port, long nowNs)
    {
    }

    private static void randomOperations(final long seed, final int operations)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        final int capacity = 512;
        final int ports = 6;
        final long aging = 20 * SECOND;
        final Fdb fdb = new Fdb(capacity, ports, aging, seed);
        final int[] limit = new int[ports];
        java.util.Arrays.fill(limit, Fdb.NO_LIMIT);
        limit[4] = 40;
        limit[5] = 0;
        fdb.macLimit(4, 40);
        fdb.macLimit(5, 0);

        final long[] universe = new long[1500];
        for (int i = 0; i < universe.length; i++)
        {
            universe[i] = Fdb.key(random.nextLong() & 0xFEFF_FFFF_FFFFL, random.nextInt(4));
        }
        final Map<Long, Seen> oracle = new HashMap<>();
        final int[] perPort = new int[ports];
        long now = -3 * SECOND;
        int learns = 0;
        int removes = 0;
        int agedTotal = 0;

        for (int op = 0; op < operations; op++)
        {
            now += random.nextLong(20_000_000);
            final long key = universe[random.nextInt(universe.length)];
            final long mac = key & 0xFFFF_FFFF_FFFFL;
            final int vlan = (int)(key >>> 48);
            final int choice = random.nextInt(1000);
            if (choice < 500)
            {
                final int port = random.nextInt(ports);
                final Seen seen = oracle.get(key);
                final int expected;
                if (seen != null && seen.port() == port)
                {
                    expected = Fdb.REFRESHED;
                }
                else if (perPort[port] >= limit[port])
                {
                    expected = Fdb.LIMIT_HIT;
                }
                else if (seen != null)
                {
                    expected = Fdb.MOVED;
                }
                else if (oracle.size() >= capacity)
                {
                    expected = Fdb.TABLE_FULL;
                }
                else
                {
                    expected = Fdb.LEARNED;
                }
                assertEquals(expected, fdb.learn(mac, vlan, port, now), "learn, seed " + seed + " op " + op);
                if (expected == Fdb.REFRESHED || expected == Fdb.MOVED || expected == Fdb.LEARNED)
                {
                    if (seen != null)
                    {
                        perPort[seen.port()]--;
                    }
                    perPort[port]++;
                    oracle.put(key, new Seen(port, now));
                    learns++;
                }
            }
            else if (choice < 800)
            {
                final Seen seen = oracle.get(key);
                assertEquals(seen == null ? Fdb.MISS : seen.port(), fdb.lookup(mac, vlan),
                    "lookup, seed " + seed + " op " + op);
            }
            else if (choice < 980)
            {
                final Seen seen = oracle.remove(key);
                assertEquals(seen != null, fdb.remove(mac, vlan), "remove, seed " + seed + " op " + op);
                if (seen != null)
                {
                    perPort[seen.port()]--;
                    removes++;
                }
            }
            else if (choice < 998)
            {
                agedTotal += fdb.age(now, 1 + random.nextInt(64));
                reconcileAfterAging(fdb, oracle, perPort, now, aging, false);
            }
            else if (choice < 999)
            {
                for (int i = 0; i < 2 * 2 * capacity; i++)
                {
                    agedTotal += fdb.age(now, 1);
                }
                reconcileAfterAging(fdb, oracle, perPort, now, aging, true);
            }
            else
            {
                final int port = random.nextInt(ports);
                final int expected = perPort[port];
                assertEquals(expected, fdb.flush(port), "flush, seed " + seed + " op " + op);
                oracle.values().removeIf(seen -> seen.port() == port);
                perPort[port] = 0;
            }
            assertEquals(oracle.size(), fdb.entries(), "entries, seed " + seed + " op " + op);
        }

        for (int port = 0; port < ports; port++)
        {
            assertEquals(perPort[port], fdb.portEntries(port), "port " + port);
        }
        final HashSet<Long> listed = new HashSet<>();
        fdb.forEach(now, (mac, vlan, port, ageNs) ->
        {
            assertTrue(listed.add(Fdb.key(mac, vlan)), "listed once");
            assertEquals(oracle.get(Fdb.key(mac, vlan)).port(), port);
        });
        assertEquals(oracle.keySet(), listed);
        assertEquals(agedTotal, fdb.aged());
        assertTrue(learns > operations / 10 && removes > operations / 50 && agedTotal > 1000,
            "the mix exercised learning (" + learns + "), removal (" + removes + ") and aging (" + agedTotal + ")");
        assertTrue(fdb.tableFull() > 0 && fdb.limitHits() > 0 && fdb.moved() > 0, "full, limit and moves seen");
    }

    /**
     * After aging: every oracle entry is either still there on its port, or gone and older than the aging time
     * (to a tick); after a whole sweep, nothing older than the aging time (plus a tick) is left.
     */
    private static void reconcileAfterAging(
        final Fdb fdb,
        final Map<Long, Seen> oracle,
        final int[] perPort,
        final long now,
        final long aging,
        final boolean wholeSweep)
    {
        final long tick = 1L << Fdb.TICK_SHIFT;
        oracle.entrySet().removeIf(entry ->
        {
            final long key = entry.getKey();
            final Seen seen = entry.getValue();
            final int port = fdb.lookup(key & 0xFFFF_FFFF_FFFFL, (int)(key >>> 48));
            final long age = now - seen.nowNs();
            if (port == Fdb.MISS)
            {
                assertTrue(age > aging - tick, "aged out at " + age + " ns, younger than the aging time");
                perPort[seen.port()]--;
                return true;
            }
            assertEquals(seen.port(), port);
            if (wholeSweep)
            {
                assertTrue(age <= aging + tick, "still there at " + age + " ns after a whole sweep");
            }
            return false;
        });
    }

    private static int sweep(final Fdb fdb, final long nowNs)
    {
        return fdb.age(nowNs, 4 * fdb.capacity());
    }
}
