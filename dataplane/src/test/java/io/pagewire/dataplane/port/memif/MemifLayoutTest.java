package io.pagewire.dataplane.port.memif;

import org.junit.jupiter.api.Test;

import static io.pagewire.dataplane.port.memif.MemifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The layout constants against memif.h, recomputed here from the structs' field sizes in declaration order
 * ({@code __rte_packed}: no padding), so a typo in one offset cannot hide behind another.
 */
class MemifLayoutTest
{
    /** Offsets of consecutive packed fields starting after the message's u16 type. */
    private static int[] packed(final int... sizes)
    {
        final int[] offsets = new int[sizes.length];
        int at = 2;
        for (int i = 0; i < sizes.length; i++)
        {
            offsets[i] = at;
            at += sizes[i];
        }
        return offsets;
    }

    @Test
    void versionCookieAndMessageSizeAreMemifTwoPointZero()
    {
        assertEquals(0x0200, VERSION);
        assertEquals(0x3E31F20, COOKIE);
        assertEquals(128, MESSAGE_LENGTH);
        assertEquals(14, MAX_LOG2_RING_SIZE);
        assertEquals(1, MSG_ACK);
        assertEquals(8, MSG_DISCONNECT);
    }

    @Test
    void helloFields()
    {
        // name[32], min_version u16, max_version u16, max_region u16, max_m2s_ring u16, max_s2m_ring u16, log2 u8
        final int[] o = packed(32, 2, 2, 2, 2, 2, 1);
        assertArrayEquals(o, new int[]{HELLO_NAME_OFFSET, HELLO_MIN_VERSION_OFFSET, HELLO_MAX_VERSION_OFFSET,
            HELLO_MAX_REGION_OFFSET, HELLO_MAX_M2S_RING_OFFSET, HELLO_MAX_S2M_RING_OFFSET,
            HELLO_MAX_LOG2_RING_SIZE_OFFSET});
    }

    @Test
    void initAddRegionAddRingConnectDisconnectFields()
    {
        // version u16, id u32, mode:8, secret[24], name[32]
        assertArrayEquals(packed(2, 4, 1, 24, 32), new int[]{INIT_VERSION_OFFSET, INIT_ID_OFFSET, INIT_MODE_OFFSET,
            INIT_SECRET_OFFSET, INIT_NAME_OFFSET});
        // index u16, size u64
        assertArrayEquals(packed(2, 8), new int[]{ADD_REGION_INDEX_OFFSET, ADD_REGION_SIZE_OFFSET});
        // flags u16, index u16, region u16, offset u32, log2_ring_size u8, private_hdr_size u16
        assertArrayEquals(packed(2, 2, 2, 4, 1, 2), new int[]{ADD_RING_FLAGS_OFFSET, ADD_RING_INDEX_OFFSET,
            ADD_RING_REGION_OFFSET, ADD_RING_OFFSET_OFFSET, ADD_RING_LOG2_RING_SIZE_OFFSET,
            ADD_RING_PRIVATE_HDR_SIZE_OFFSET});
        assertEquals(2, IF_NAME_OFFSET);
        // code u32, string[96]
        assertArrayEquals(packed(4, 96), new int[]{DISCONNECT_CODE_OFFSET, DISCONNECT_STRING_OFFSET});
        assertTrue(DISCONNECT_STRING_OFFSET + DISCONNECT_STRING_LENGTH <= MESSAGE_LENGTH);
        assertTrue(INIT_NAME_OFFSET + NAME_LENGTH <= MESSAGE_LENGTH);
    }

    @Test
    void ringAndDescriptor()
    {
        // cacheline0: cookie u32, flags u16, head u16; cacheline1: tail u16; cacheline2: desc[]
        assertEquals(0, RING_COOKIE_OFFSET);
        assertEquals(4, RING_FLAGS_OFFSET);
        assertEquals(6, RING_HEAD_OFFSET);
        assertEquals(64, RING_TAIL_OFFSET);
        assertEquals(128, RING_HEADER_LENGTH);
        // flags u16, region u16, length u32, offset u32, metadata u32
        assertEquals(16, DESC_LENGTH);
        assertArrayEquals(new int[]{0, 2, 4, 8, 12}, new int[]{DESC_FLAGS_OFFSET, DESC_REGION_OFFSET,
            DESC_LENGTH_OFFSET, DESC_OFFSET_OFFSET, DESC_METADATA_OFFSET});
        assertEquals(128 + 16 * 1024, ringLength(10));
        assertEquals(1000 + 128 + 16 * 5, descAddress(1000, 5));
    }

    @Test
    void ringSizesOutsideMemifAreNamed()
    {
        assertEquals(10, log2RingSize(1024));
        assertEquals(14, log2RingSize(16384));
        for (final int bad : new int[]{0, 3, 32768, -2})
        {
            final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> log2RingSize(bad));
            assertTrue(e.getMessage().startsWith("memif ring size=" + bad + ": must be a power of two in 1..16384"),
                e.getMessage());
        }
        assertEquals("ADD_RING", messageName(MSG_ADD_RING));
        assertEquals("type 42", messageName(42));
    }

    @Test
    void clientRegionIsRingsThenBuffersAsDpdkLaysItOut()
    {
        // DPDK memif_region_init_shm: pkt_buffer_offset = rings * (sizeof ring + desc * size), then buffers.
        assertEquals(2L * 2 * (128 + 16 * 256) + 2L * 2 * 256 * 2048, MemifNicPortSet.clientRegionLength(2, 8, 2048));
    }
}
