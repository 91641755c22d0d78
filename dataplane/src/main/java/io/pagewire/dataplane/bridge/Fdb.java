package io.pagewire.dataplane.bridge;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The forwarding database (fdb) of a learning bridge: (MAC, VLAN) → port, learned from source addresses, aged out,
 * of fixed capacity, allocation-free.
 * <p>
 * <b>Layout.</b> One {@code long[]} of {@code 2 × slots} words, slot {@code i} at words {@code 2i, 2i + 1}, so a
 * probe touches one cache line (four slots per 64 bytes):
 * <pre>
 *   word 0:  63        62..60   59 .. 48    47 .. 0
 *           +----------+--------+-----------+--------------------------+
 *           | occupied | 0      | VLAN (12) | MAC (48, network order)  |      0 = empty slot
 *           +----------+--------+-----------+--------------------------+
 *   word 1:  63 .. 48          47 .. 0
 *           +-----------------+--------------------------------------------+
 *           | port (16)       | last seen, ticks of 2^20 ns (mod 2^48)     |
 *           +-----------------+--------------------------------------------+
 * </pre>
 * The table has {@code 2 × capacity} slots, so it is at most half full: linear probes stay short (Snabb's
 * {@code mac_table.lua} sizes its buckets the same way, twice the target size) and there is always an empty slot,
 * which ends every probe. The home slot is a seeded 64-bit mix of the key, so a guest that knows the code still
 * cannot choose source addresses that pile into one cluster and slow every lookup.
 * <p>
 * <b>Deletion</b> (aging, {@link #remove}, {@link #flush(int)}) is backward-shift deletion (Knuth's algorithm R for
 * linear probing): the entries after the hole that may move into it do, so the table is always as if the remaining
 * entries had been inserted alone. No tombstones: with tombstones, the churn a bridge sees (aging, a guest spraying
 * addresses at its limit, moves) would fill the table with them until probes run to the end of every cluster and a
 * rebuild, a full-table pass on the dataplane thread, becomes necessary. Backward shift costs a few more moves per
 * delete, bounded by the cluster length, and nothing later.
 * <p>
 * <b>Refusal, not eviction.</b> A port at its learn limit ({@link #macLimit(int, int)}, {@code mac_limit}) learns no
 * new address, and a full table learns no new address: both are counted ({@link #limitHits()}, {@link #tableFull()}),
 * and nobody's entry is evicted. OVS instead evicts from the port with the most entries when its table is full
 * ({@code lib/mac-learning.c}, {@code evict_mac_entry_fairly}); refusing is simpler, needs no per-port LRU lists,
 * and gives the same protection once every guest port has a limit: a port spraying random source addresses fills
 * its own quota, others' entries stay, and their unicast stays unicast. The unlearned frames are still forwarded
 * (flooded to their destination's VLAN if unknown), as VPP's {@code l2-learn} does at its limit.
 * <p>
 * <b>Aging</b> is incremental: {@link #age(long, int)} visits a bounded number of slots from a cursor that moves
 * round the table, so an entry goes at most one sweep after it expires; no per-frame time check, no full-table
 * pass. Time comes from the caller (the agent's clock, read once per duty cycle; tests inject it) in nanoseconds of
 * any origin ({@code System.nanoTime}); it is kept in ticks of 2^20 ns (≈ 1.05 ms), so aging is exact to a tick.
 * <p>
 * <b>Threads.</b> One thread owns an fdb: every method, reads included, runs on it (the dataplane agent that owns
 * the bridge). The counters are plain fields for that thread to export.
 */
public final class Fdb
{
    /** {@link #lookup} found no entry. */
    public static final int MISS = -1;

    /** {@link #learn} added an entry. */
    public static final int LEARNED = 0;
    /** {@link #learn} found the entry on the same port and refreshed its time. */
    public static final int REFRESHED = 1;
    /** {@link #learn} found the entry on another port and moved it (a VM migrated, a cable moved). */
    public static final int MOVED = 2;
    /** {@link #learn} did not learn: the port is at its limit (for a new entry or a move onto it). */
    public static final int LIMIT_HIT = 3;
    /** {@link #learn} did not learn: the table holds {@link #capacity()} entries. */
    public static final int TABLE_FULL = 4;

    /** Largest port count: the port index is 16 bits in the slot. */
    public static final int MAX_PORTS = 1 << 16;
    /** A port with no learn limit. */
    public static final int NO_LIMIT = Integer.MAX_VALUE;
    /** Largest capacity: 16 Mi entries, a 512 MiB table (the default is to be 65536, 2 MiB). */
    public static final int MAX_CAPACITY = 1 << 24;

    /** Bits of a nanosecond clock dropped in a tick: a tick is 2^20 ns ≈ 1.05 ms. */
    static final int TICK_SHIFT = 20;
    private static final long OCCUPIED = 1L << 63;
    private static final long KEY_MASK = (1L << 60) - 1;
    private static final long MAC_MASK = (1L << 48) - 1;
    private static final long TIME_MASK = (1L << 48) - 1;
    /** An age above this is a clock that went backwards (mod 2^48): treated as age 0, not as ancient. */
    private static final long MAX_AGE_TICKS = 1L << 47;

    private final long[] table;
    private final int slotMask;
    private final int homeShift;
    private final int capacity;
    private final long seed;
    private final long agingTicks;
    private final long agingNs;
    private final int[] portEntries;
    private final int[] portLimit;
    private int cursor;

    private long entries;
    private long learned;
    private long moved;
    private long limitHits;
    private long tableFull;
    private long aged;
    private long flushed;

    /**
     * Visits entries for {@code fdb show}; called once per entry, with no object per entry.
     */
    @FunctionalInterface
    public interface Visitor
    {
        /**
         * @param mac   the MAC address, 48 bits in network order (first octet in bits 47..40).
         * @param vlan  the VLAN the entry belongs to (0: the VLAN-transparent domain).
         * @param port  the port index the address was last seen on.
         * @param ageNs time since the address was last seen, to a tick (2^20 ns).
         */
        void onEntry(long mac, int vlan, int port, long ageNs);
    }

    /**
     * @param capacity most entries the table holds, a power of two in 2 .. 2^24 (the table has twice as many
     *                 slots: 65536 entries take 2 MiB).
     * @param ports    port indices are {@code 0 .. ports - 1}; at most {@link #MAX_PORTS}.
     * @param agingNs  an entry not seen for longer than this expires; more than 0.
     * @param seed     seeds the hash of keys (a random value in production, fixed in tests).
     */
    public Fdb(final int capacity, final int ports, final long agingNs, final long seed)
    {
        if (capacity < 2 || capacity > MAX_CAPACITY || Integer.bitCount(capacity) != 1)
        {
            throw new IllegalArgumentException("fdb capacity=" + capacity + ": must be a power of two in 2.." +
                MAX_CAPACITY);
        }
        if (ports < 1 || ports > MAX_PORTS)
        {
            throw new IllegalArgumentException("fdb ports=" + ports + ": must be in 1.." + MAX_PORTS);
        }
        if (agingNs <= 0)
        {
            throw new IllegalArgumentException("fdb aging=" + agingNs + "ns: must be more than 0");
        }
        final int slots = 2 * capacity;
        this.capacity = capacity;
        this.table = new long[2 * slots];
        this.slotMask = slots - 1;
        this.homeShift = 64 - Integer.numberOfTrailingZeros(slots);
        this.seed = new SplittableRandom(seed).nextLong();
        this.agingNs = agingNs;
        this.agingTicks = Math.max(1, (agingNs + (1L << TICK_SHIFT) - 1) >>> TICK_SHIFT);
        this.portEntries = new int[ports];
        this.portLimit = new int[ports];
        Arrays.fill(portLimit, NO_LIMIT);
    }

    /**
     * @param capacity as {@link #Fdb(int, int, long, long)}.
     * @param ports    as {@link #Fdb(int, int, long, long)}.
     * @param agingNs  as {@link #Fdb(int, int, long, long)}.
     */
    public Fdb(final int capacity, final int ports, final long agingNs)
    {
        this(capacity, ports, agingNs, System.nanoTime() ^ Thread.currentThread().threadId());
    }

    /**
     * Packs a (MAC, VLAN) key.
     *
     * @param mac  48 bits, network order.
     * @param vlan 12 bits.
     * @return the key: VLAN in bits 59..48, MAC in 47..0.
     */
    public static long key(final long mac, final int vlan)
    {
        return ((long)(vlan & 0xFFF) << 48) | (mac & MAC_MASK);
    }

    /**
     * Learns that {@code mac} in {@code vlan} was seen on {@code port}: a new entry, a refresh of its time, or a
     * move from another port (at once: the address follows its latest frame).
     *
     * @param mac   source MAC, 48 bits, network order (the caller has rejected group and zero addresses).
     * @param vlan  the VLAN the frame was classified to.
     * @param port  the ingress port index.
     * @param nowNs the clock now.
     * @return {@link #LEARNED}, {@link #REFRESHED}, {@link #MOVED}, {@link #LIMIT_HIT} or {@link #TABLE_FULL}.
     */
    public int learn(final long mac, final int vlan, final int port, final long nowNs)
    {
        final long stored = key(mac, vlan) | OCCUPIED;
        final long[] table = this.table;
        final long value = ((long)port << 48) | ((nowNs >> TICK_SHIFT) & TIME_MASK);
        int slot = home(stored & KEY_MASK);
        while (true)
        {
            final int at = slot << 1;
            final long word = table[at];
            if (word == stored)
            {
                final long old = table[at + 1];
                final int oldPort = (int)(old >>> 48);
                if (oldPort == port)
                {
                    if (old != value)
                    {
                        table[at + 1] = value;
                    }
                    return REFRESHED;
                }
                if (portEntries[port] >= portLimit[port])
                {
                    limitHits++;
                    return LIMIT_HIT;
                }
                portEntries[oldPort]--;
                portEntries[port]++;
                table[at + 1] = value;
                moved++;
                return MOVED;
            }
            if (word == 0)
            {
                if (portEntries[port] >= portLimit[port])
                {
                    limitHits++;
                    return LIMIT_HIT;
                }
                if (entries >= capacity)
                {
                    tableFull++;
                    return TABLE_FULL;
                }
                table[at] = stored;
                table[at + 1] = value;
                portEntries[port]++;
                entries++;
                learned++;
                return LEARNED;
            }
            slot = (slot + 1) & slotMask;
        }
    }

    /**
     * @param mac  destination MAC, 48 bits, network order.
     * @param vlan the VLAN the frame was classified to.
     * @return the port the address was last seen on, or {@link #MISS}.
     */
    public int lookup(final long mac, final int vlan)
    {
        final long stored = key(mac, vlan) | OCCUPIED;
        final long[] table = this.table;
        int slot = home(stored & KEY_MASK);
        while (true)
        {
            final int at = slot << 1;
            final long word = table[at];
            if (word == stored)
            {
                return (int)(table[at + 1] >>> 48);
            }
            if (word == 0)
            {
                return MISS;
            }
            slot = (slot + 1) & slotMask;
        }
    }

    /**
     * Removes one entry ({@code fdb del}; tests).
     *
     * @return true if it was there.
     */
    public boolean remove(final long mac, final int vlan)
    {
        final long stored = key(mac, vlan) | OCCUPIED;
        int slot = home(stored & KEY_MASK);
        while (true)
        {
            final long word = table[slot << 1];
            if (word == stored)
            {
                delete(slot);
                return true;
            }
            if (word == 0)
            {
                return false;
            }
            slot = (slot + 1) & slotMask;
        }
    }

    /**
     * Ages out entries not seen for longer than the aging time, visiting at most {@code maxSlots} slots from where
     * the last call stopped. A sweep of the whole table takes {@code 2 × capacity / maxSlots} calls (plus one visit
     * per entry removed, which re-examines the slot the next entry shifted into).
     *
     * @param nowNs    the clock now.
     * @param maxSlots slots to visit in this call, 1 or more.
     * @return entries removed.
     */
    public int age(final long nowNs, final int maxSlots)
    {
        final long[] table = this.table;
        final long now = (nowNs >> TICK_SHIFT) & TIME_MASK;
        int slot = cursor;
        int removed = 0;
        for (int i = 0; i < maxSlots; i++)
        {
            final int at = slot << 1;
            if (table[at] != 0 && ageTicks(now, table[at + 1]) > agingTicks)
            {
                // The next entry of the cluster may shift into this slot: look at it again, do not advance.
                delete(slot);
                removed++;
            }
            else
            {
                slot = (slot + 1) & slotMask;
            }
        }
        cursor = slot;
        aged += removed;
        return removed;
    }

    /**
     * Removes every entry (the operator's {@code fdb flush}). Clears the whole table: a control-time operation.
     */
    public void flush()
    {
        flushed += entries;
        Arrays.fill(table, 0);
        Arrays.fill(portEntries, 0);
        entries = 0;
    }

    /**
     * Removes every entry of one port (the port was removed, or its VLAN configuration changed). Visits the whole
     * table once: a control-time operation, never per frame.
     *
     * @return entries removed.
     */
    public int flush(final int port)
    {
        if (portEntries[port] == 0)
        {
            return 0;
        }
        // Start after an empty slot, so no cluster wraps past the start: an entry shifted backwards by a delete
        // then always lands in the slot being examined (looked at again) or in one not yet visited.
        final int start = emptySlot();
        int removed = 0;
        int slot = (start + 1) & slotMask;
        for (int visited = 0; visited < slotMask; )
        {
            final int at = slot << 1;
            if (table[at] != 0 && (int)(table[at + 1] >>> 48) == port)
            {
                delete(slot);
                removed++;
            }
            else
            {
                slot = (slot + 1) & slotMask;
                visited++;
            }
        }
        flushed += removed;
        return removed;
    }

    /**
     * Visits every entry ({@code fdb show}). Entries must not change during the walk (same thread).
     *
     * @param nowNs   the clock now, for each entry's age.
     * @param visitor called once per entry.
     * @return entries visited.
     */
    public int forEach(final long nowNs, final Visitor visitor)
    {
        final long now = (nowNs >> TICK_SHIFT) & TIME_MASK;
        int visited = 0;
        for (int slot = 0; slot <= slotMask; slot++)
        {
            final int at = slot << 1;
            final long word = table[at];
            if (word != 0)
            {
                final long value = table[at + 1];
                visitor.onEntry(word & MAC_MASK, (int)((word >>> 48) & 0xFFF), (int)(value >>> 48),
                    ageTicks(now, value) << TICK_SHIFT);
                visited++;
            }
        }
        return visited;
    }

    /**
     * Visits the entries of a bounded range of slots, so a long listing can be spread over several duty cycles
     * instead of stalling one. An entry learned, moved by a delete or removed between two calls may be listed
     * twice or missed: a listing, not a snapshot.
     *
     * @param nowNs    the clock now, for each entry's age.
     * @param visitor  called once per entry in the range.
     * @param fromSlot where to start: 0 for the first call, then what the previous call returned.
     * @param maxSlots slots to visit in this call, 1 or more.
     * @return where the next call starts, {@link #slots()} when the walk is over.
     */
    public int forEach(final long nowNs, final Visitor visitor, final int fromSlot, final int maxSlots)
    {
        final long now = (nowNs >> TICK_SHIFT) & TIME_MASK;
        final int end = (int)Math.min((long)fromSlot + maxSlots, slotMask + 1L);
        for (int slot = fromSlot; slot < end; slot++)
        {
            final int at = slot << 1;
            final long word = table[at];
            if (word != 0)
            {
                final long value = table[at + 1];
                visitor.onEntry(word & MAC_MASK, (int)((word >>> 48) & 0xFFF), (int)(value >>> 48),
                    ageTicks(now, value) << TICK_SHIFT);
            }
        }
        return end;
    }

    /** @return slots in the table: {@code 2 × capacity()}. */
    public int slots()
    {
        return slotMask + 1;
    }

    /**
     * Sets a port's learn limit ({@code mac_limit}). Entries it already has above a lowered limit stay until they
     * age out or move; it learns no new one meanwhile.
     *
     * @param port  the port index.
     * @param limit most addresses the port may hold, 0 or more, or {@link #NO_LIMIT}.
     */
    public void macLimit(final int port, final int limit)
    {
        if (limit < 0)
        {
            throw new IllegalArgumentException("mac_limit=" + limit + ": must be 0 or more");
        }
        portLimit[port] = limit;
    }

    /** @return the learn limit of a port, {@link #NO_LIMIT} if none. */
    public int macLimit(final int port)
    {
        return portLimit[port];
    }

    /** @return entries a port holds now. */
    public int portEntries(final int port)
    {
        return portEntries[port];
    }

    /** @return most entries the table holds. */
    public int capacity()
    {
        return capacity;
    }

    /** @return number of port indices, {@code 0 .. ports() - 1}. */
    public int ports()
    {
        return portEntries.length;
    }

    /** @return the aging time in nanoseconds. */
    public long agingNs()
    {
        return agingNs;
    }

    /** @return entries in the table now. */
    public long entries()
    {
        return entries;
    }

    /** @return entries added, ever. */
    public long learned()
    {
        return learned;
    }

    /** @return entries moved to another port, ever. */
    public long moved()
    {
        return moved;
    }

    /** @return addresses not learned because their port was at its limit. */
    public long limitHits()
    {
        return limitHits;
    }

    /** @return addresses not learned because the table was full. */
    public long tableFull()
    {
        return tableFull;
    }

    /** @return entries removed by aging. */
    public long aged()
    {
        return aged;
    }

    /** @return entries removed by {@link #flush()} and {@link #flush(int)}. */
    public long flushed()
    {
        return flushed;
    }

    private int home(final long key)
    {
        // MurmurHash3's 64-bit finalizer over the seeded key; the top bits pick the slot.
        long h = key ^ seed;
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        h *= 0xC4CEB9FE1A85EC53L;
        h ^= h >>> 33;
        return (int)(h >>> homeShift);
    }

    private static long ageTicks(final long now, final long value)
    {
        final long age = (now - value) & TIME_MASK;
        return age >= MAX_AGE_TICKS ? 0 : age;
    }

    private int emptySlot()
    {
        int slot = 0;
        while (table[slot << 1] != 0)
        {
            slot++;
        }
        return slot;
    }

    /**
     * Backward-shift deletion: empties {@code slot}, then walks the rest of its cluster and moves back into the hole
     * each entry whose home is not between the hole and the entry (cyclically), so every entry stays reachable from
     * its home without crossing an empty slot.
     */
    private void delete(final int slot)
    {
        final long[] table = this.table;
        portEntries[(int)(table[(slot << 1) + 1] >>> 48)]--;
        entries--;
        int hole = slot;
        int next = slot;
        while (true)
        {
            next = (next + 1) & slotMask;
            final int at = next << 1;
            final long word = table[at];
            if (word == 0)
            {
                break;
            }
            final int home = home(word & KEY_MASK);
            // The entry may fill the hole if its home is at or before the hole: its distance from home is at
            // least the hole's distance from it.
            if (((next - home) & slotMask) >= ((next - hole) & slotMask))
            {
                table[hole << 1] = word;
                table[(hole << 1) + 1] = table[at + 1];
                hole = next;
            }
        }
        table[hole << 1] = 0;
        table[(hole << 1) + 1] = 0;
    }
}
