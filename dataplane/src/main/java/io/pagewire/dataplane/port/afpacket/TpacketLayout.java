package io.pagewire.dataplane.port.afpacket;

/**
 * Offsets and status bits of the kernel's {@code TPACKET_V3} ring structures (include/uapi/linux/if_packet.h), as
 * the {@link TpacketV3RxRing} and {@link TpacketTxRing} flyweights read and write them. All fields are in host byte
 * order (little-endian on x86_64).
 * <pre>
 * struct tpacket_block_desc (receive block header, 48 bytes with its hdr.bh1)
 *   0  u32 version
 *   4  u32 offset_to_priv
 *   8  u32 block_status        TP_STATUS_KERNEL (0) = the kernel's; TP_STATUS_USER (1) = ours until we store 0
 *  12  u32 num_pkts
 *  16  u32 offset_to_first_pkt  from the block's start
 *  20  u32 blk_len
 *  24  u64 seq_num
 *  32  ts_first_pkt, 40 ts_last_pkt
 *
 * struct tpacket3_hdr (48 bytes, TPACKET_ALIGN'ed), one per packet
 *   0  u32 tp_next_offset       from this header to the next packet's, 0 on a transmit frame
 *   4  u32 tp_sec, 8 u32 tp_nsec
 *  12  u32 tp_snaplen           bytes in the ring
 *  16  u32 tp_len               bytes on the wire (tp_len &gt; tp_snaplen: truncated)
 *  20  u32 tp_status            per-packet on receive; TP_STATUS_AVAILABLE / SEND_REQUEST / SENDING on transmit
 *  24  u16 tp_mac               from this header to the frame's first byte (receive)
 *  26  u16 tp_net
 *  28  hv1: u32 tp_rxhash, u32 tp_vlan_tci, u16 tp_vlan_tpid, u16 padding; 40 u8 padding[8]
 * </pre>
 * A transmit frame's data starts at {@code tp_hdrlen - sizeof(struct sockaddr_ll) = }{@link #TX_DATA_OFFSET}
 * (net/packet/af_packet.c {@code tpacket_parse_header}, without {@code PACKET_TX_HAS_OFF}).
 */
public final class TpacketLayout
{
    /** Offset of {@code block_status} in a receive block. */
    public static final int BLOCK_STATUS_OFFSET = 8;
    /** Offset of {@code num_pkts}. */
    public static final int NUM_PKTS_OFFSET = 12;
    /** Offset of {@code offset_to_first_pkt}. */
    public static final int OFFSET_TO_FIRST_PKT_OFFSET = 16;
    /** Offset of {@code blk_len}. */
    public static final int BLK_LEN_OFFSET = 20;
    /** Bytes of the block descriptor the kernel writes (no private area is requested). */
    public static final int BLOCK_DESC_LENGTH = 48;

    /** Offset of {@code tp_next_offset} in a tpacket3_hdr. */
    public static final int TP_NEXT_OFFSET_OFFSET = 0;
    /** Offset of {@code tp_snaplen}. */
    public static final int TP_SNAPLEN_OFFSET = 12;
    /** Offset of {@code tp_len}. */
    public static final int TP_LEN_OFFSET = 16;
    /** Offset of {@code tp_status}. */
    public static final int TP_STATUS_OFFSET = 20;
    /** Offset of {@code tp_mac} (u16). */
    public static final int TP_MAC_OFFSET = 24;
    /** Offset of {@code hv1.tp_vlan_tci} (u32, the tag in the low 16 bits). */
    public static final int TP_VLAN_TCI_OFFSET = 32;
    /** Offset of {@code hv1.tp_vlan_tpid} (u16). */
    public static final int TP_VLAN_TPID_OFFSET = 36;
    /** Bytes of a tpacket3_hdr, aligned to TPACKET_ALIGNMENT (16). */
    public static final int TPACKET3_HDR_LENGTH = 48;
    /** Where a transmit frame's data starts: TPACKET3_HDRLEN (68) - sizeof(struct sockaddr_ll) (20). */
    public static final int TX_DATA_OFFSET = 48;

    /** Block or frame is the kernel's (receive). */
    public static final int TP_STATUS_KERNEL = 0;
    /** Block is the user's (receive). */
    public static final int TP_STATUS_USER = 1;
    /** Per received packet: the kernel took a VLAN tag off the frame; it is in tp_vlan_tci. */
    public static final int TP_STATUS_VLAN_VALID = 0x10;
    /** Per received packet: tp_vlan_tpid is valid (else the TPID is 0x8100). */
    public static final int TP_STATUS_VLAN_TPID_VALID = 0x40;
    /** Transmit frame is free. */
    public static final int TP_STATUS_AVAILABLE = 0;
    /** Transmit frame is ready to send. */
    public static final int TP_STATUS_SEND_REQUEST = 1;
    /** Transmit frame is being sent. */
    public static final int TP_STATUS_SENDING = 2;
    /** Transmit frame was refused by the kernel, which stopped there (without PACKET_LOSS, as pagewire runs). */
    public static final int TP_STATUS_WRONG_FORMAT = 4;

    /** Frame slot alignment of the rings. */
    public static final int TPACKET_ALIGNMENT = 16;

    private TpacketLayout()
    {
    }
}
