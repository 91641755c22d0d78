package io.pagewire.config;

import java.util.Objects;

/**
 * The NIC port, table {@code [nic]}.
 *
 * @param type     {@code nic.type}: the kind of port.
 * @param ringSize {@code nic.ring.size}: frames in each port ring, a power of two in 2..65536.
 * @param slotSize {@code nic.slot_size}: bytes of each ring slot, a power of two in 128..131072: a
 *                 {@link #SLOT_HEADER_BYTES}-byte slot header and the frame.
 * @param memif    keys {@code nic.memif.*}, used when {@code type} is {@link NicType#MEMIF}.
 * @param afPacket keys {@code nic.af_packet.*}, used when {@code type} is {@link NicType#AF_PACKET}.
 * @param pcap     keys {@code nic.pcap.*}, used when {@code type} is {@link NicType#PCAP}.
 */
public record NicConfig(NicType type, int ringSize, int slotSize, Memif memif, AfPacket afPacket, Pcap pcap)
{
    /** Bytes of the header at the start of each NIC ring slot, before the frame. */
    public static final int SLOT_HEADER_BYTES = 8;

    /** Largest {@code nic.ring.size} when {@code nic.type=memif}: 2^14 (DPDK's {@code ETH_MEMIF_MAX_LOG2_RING_SIZE}). */
    public static final int MEMIF_MAX_RING_SIZE = 1 << 14;

    /**
     * Checks only for null; values are validated with the whole config by {@link PagewireConfig}.
     */
    public NicConfig
    {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(memif, "memif");
        Objects.requireNonNull(afPacket, "afPacket");
        Objects.requireNonNull(pcap, "pcap");
    }

    /**
     * @return the largest frame a slot holds: {@code slotSize - }{@link #SLOT_HEADER_BYTES}.
     */
    public int maxFrameSize()
    {
        return slotSize - SLOT_HEADER_BYTES;
    }

    /**
     * The memif port, keys {@code nic.memif.*}. Its ring size is {@code nic.ring.size}, its buffer size
     * {@code nic.slot_size}.
     *
     * @param socket       {@code nic.memif.socket}: the control socket path.
     * @param role         {@code nic.memif.role}: which side listens.
     * @param id           {@code nic.memif.id}: the interface id both peers use.
     * @param maxRegionMib {@code nic.memif.max_region_mib}: server role, most MiB of one client's regions mapped.
     */
    public record Memif(String socket, MemifRole role, int id, int maxRegionMib)
    {
        /**
         * Default of {@code nic.memif.max_region_mib}: 1 GiB. DPDK's client maps 32 MiB for 8 queue pairs of its
         * default 1024-slot rings of 2048-byte buffers, 288 MiB for one pair of 16384-slot rings of 9216-byte buffers.
         */
        public static final int DEFAULT_MAX_REGION_MIB = 1024;

        /**
         * Checks only for null.
         */
        public Memif
        {
            Objects.requireNonNull(socket, "socket");
            Objects.requireNonNull(role, "role");
        }

        /**
         * With {@code nic.memif.max_region_mib} at its default.
         *
         * @param socket {@code nic.memif.socket}.
         * @param role   {@code nic.memif.role}.
         * @param id     {@code nic.memif.id}.
         */
        public Memif(final String socket, final MemifRole role, final int id)
        {
            this(socket, role, id, DEFAULT_MAX_REGION_MIB);
        }

        /** @return {@link #maxRegionMib()} in bytes. */
        public long maxRegionBytes()
        {
            return (long)maxRegionMib << 20;
        }
    }

    /**
     * The AF_PACKET port, keys {@code nic.af_packet.*}.
     *
     * @param interfaceName  {@code nic.af_packet.interface}: the kernel interface.
     * @param blockSize      {@code nic.af_packet.block_size}: bytes per TPACKET_V3 block.
     * @param blockCount     {@code nic.af_packet.block_count}: blocks in the receive ring.
     * @param retireTimeoutMs {@code nic.af_packet.retire_timeout_ms}: block retire timeout, 0 = kernel's choice.
     * @param promiscuous    {@code nic.af_packet.promiscuous}.
     * @param vnetHdr        {@code nic.af_packet.vnet_hdr}: PACKET_VNET_HDR.
     */
    public record AfPacket(
        String interfaceName, int blockSize, int blockCount, int retireTimeoutMs, boolean promiscuous, boolean vnetHdr)
    {
        /**
         * Checks only for null.
         */
        public AfPacket
        {
            Objects.requireNonNull(interfaceName, "interfaceName");
        }
    }

    /**
     * The pcap port, keys {@code nic.pcap.*}.
     *
     * @param read  {@code nic.pcap.read}: file replayed as received frames; empty = none.
     * @param write {@code nic.pcap.write}: file transmitted frames are recorded to; empty = none.
     * @param pace  {@code nic.pcap.pace}: replay timing.
     * @param loop  {@code nic.pcap.loop}: replay again from the start at the end.
     */
    public record Pcap(String read, String write, PcapPace pace, boolean loop)
    {
        /**
         * Checks only for null.
         */
        public Pcap
        {
            Objects.requireNonNull(read, "read");
            Objects.requireNonNull(write, "write");
            Objects.requireNonNull(pace, "pace");
        }
    }
}
