package io.pagewire.dataplane.stats;

import io.pagewire.dataplane.port.afpacket.AfPacketCounter;
import io.pagewire.dataplane.port.memif.MemifCounter;
import io.pagewire.dataplane.port.pcap.PcapCounter;
import io.pagewire.dataplane.virtio.QueueError;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The counter type ids and labels of every counter enum, pinned: they are read by other processes ({@code pagewire
 * stat}, Prometheus) and listed in the README, so a change here must be a deliberate one. Also the key and label each
 * enum's allocation writes into the counters file.
 */
class CounterContractTest
{
    private final CountersManager manager = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));

    @Test
    void idsAndLabelsAreTheOnesPublished()
    {
        final StringBuilder table = new StringBuilder();
        for (final SystemCounter counter : SystemCounter.values())
        {
            table.append(counter.id()).append(' ').append(counter.label()).append('\n');
        }
        for (final QueueCounter counter : QueueCounter.values())
        {
            table.append(counter.id()).append(' ').append(counter.label()).append('\n');
        }
        for (final MemifCounter counter : MemifCounter.values())
        {
            // Per queue pair ones get " qN" in their label and the queue in their key.
            table.append(counter.id()).append(' ').append(counter.label()).append(counter.perQueue() ? " qN" : "")
                .append('\n');
        }
        for (final AfPacketCounter counter : AfPacketCounter.values())
        {
            table.append(counter.id()).append(' ').append(counter.label()).append('\n');
        }
        for (final PcapCounter counter : PcapCounter.values())
        {
            table.append(counter.id()).append(' ').append(counter.label()).append('\n');
        }
        assertEquals("""
            1 duty cycles
            2 busy cycles
            3 idle cycles
            4 max duty cycle time ns
            5 duty cycles over threshold
            6 commands applied
            7 events dropped
            10 peer fd writes interrupted
            12 control log lines suppressed
            13 vhost-user message timeouts
            14 vhost-user replies unwritable
            15 vhost-user connect failures
            8 memory faults
            9 memory faults unattributed
            100 rx packets
            101 rx bytes
            102 rx drops no_buffers
            103 rx drops frame_too_long
            104 rx drops buffer_too_small
            105 rx drops too_many_segments
            106 rx drops queue_broken
            107 rx drops nic_ring_full
            108 rx buffers per packet
            109 rx ring occupancy
            110 tx packets
            111 tx bytes
            112 tx drops too_long
            113 tx drops gso
            114 tx nic_ring_full cycles
            115 queue error
            116 rx drops bad_nic_frame
            117 tx drops bad_vnet_hdr
            118 tx csum_completed
            119 tx gso_segmented
            120 tx offloads_passed
            138 tx taken
            139 tx nic_frames
            140 rx taken
            125 notify call_full
            126 notify call_blocked
            127 notify err_not_written
            135 rx ring resyncs
            136 tx ring resyncs
            121 queue isolated
            130 tx drops runt
            131 rx work_limit cycles
            132 tx work_limit cycles
            300 nic.memif.connects
            301 nic.memif.disconnects
            302 nic.memif.bad_messages
            303 nic.memif.bad_descriptors qN
            304 nic.memif.tx_drops_down qN
            306 nic.memif.tx_drops_buffer_too_small qN
            307 nic.memif.rejected
            308 nic.memif.connect_failures
            309 nic.memif.rx_drops_too_long qN
            310 nic.memif.rx_incomplete_chains qN
            311 nic.memif.tx_waits_offer_too_small qN
            312 nic.memif.tx_drops_offer_too_small qN
            313 nic.memif.tx_drops_peer_left qN
            314 nic.memif.regions_over_cap
            320 nic.af_packet.kernel_drops
            321 nic.af_packet.kernel_freeze_queue
            322 nic.af_packet.kernel_packets
            323 nic.af_packet.rx_truncated
            324 nic.af_packet.rx_too_long
            325 nic.af_packet.bad_frames
            326 nic.af_packet.tx_ring_full
            327 nic.af_packet.tx_kick_errors
            328 nic.af_packet.tx_kicks
            329 nic.af_packet.rx_csum_completed
            330 nic.af_packet.rx_gso_segmented
            331 nic.af_packet.rx_vnet_drops
            332 nic.af_packet.rx_csum_passed
            333 nic.af_packet.rx_gso_passed
            334 nic.af_packet.rx_data_valid_passed
            335 nic.af_packet.tx_refused
            336 nic.af_packet.tx_sent
            337 nic.af_packet.tx_on_ring
            340 nic.pcap.frames_replayed
            341 nic.pcap.loops
            342 nic.pcap.frames_written
            343 nic.pcap.write_drops
            344 nic.pcap.bad_records
            345 nic.pcap.write_errors
            """, table.toString());
    }

    @Test
    void portCountersAreAllocatedWithTheirQueueInTheKey()
    {
        MemifCounter.CONNECTS.allocate(manager, CounterKey.NO_QUEUE);
        MemifCounter.BAD_DESCRIPTORS.allocate(manager, 2);
        PcapCounter.LOOPS.allocate(manager, 0);
        AfPacketCounter.TX_KICKS.allocate(manager, 0);
        SystemCounter.EVENTS_DROPPED.allocate(manager, CounterKey.NO_QUEUE);
        assertEquals(List.of(
            "300 -1 0 nic.memif.connects",
            "303 2 0 nic.memif.bad_descriptors q2",
            "341 0 0 nic.pcap.loops",
            "328 0 0 nic.af_packet.tx_kicks",
            "7 -1 0 events dropped"), allocated());
    }

    @Test
    void queueCountersCarryTheQueueInTheLabelAndAFamilyIsAllocatedByMember()
    {
        QueueCounter.RX_PACKETS.allocate(manager, 1);
        QueueCounter.RX_BUFFERS_PER_PACKET.allocate(manager, 1, QueueCounter.BUFFER_BUCKETS);
        QueueCounter.QUEUE_ERRORS.allocate(manager, 1, QueueCounter.queueErrorCode(QueueError.CHAIN_TOO_LONG));
        assertEquals(List.of(
            "100 1 0 q1 rx packets",
            "108 1 65 q1 rx buffers per packet 65+",
            "115 1 4 q1 queue error chain_too_long"), allocated());
        assertEquals("RX_BUFFERS_PER_PACKET is a family of 65 counters: allocate each member",
            assertThrows(IllegalArgumentException.class, () -> QueueCounter.RX_BUFFERS_PER_PACKET.allocate(manager, 1))
                .getMessage());
        assertEquals(3, allocated().size(), "nothing allocated for the family");
    }

    @Test
    void anEntryIsFoundByItsIdInItsOwnEnumOnly()
    {
        assertSame(PcapCounter.WRITE_ERRORS, CounterDescriptor.byId(PcapCounter.values(), 345));
        assertSame(MemifCounter.TX_DROPS_BUFFER_TOO_SMALL, CounterDescriptor.byId(MemifCounter.values(), 306));
        assertNull(CounterDescriptor.byId(MemifCounter.values(), 305), "retired");
        assertNull(CounterDescriptor.byId(AfPacketCounter.values(), 345));
        assertNull(CounterDescriptor.byId(SystemCounter.values(), 0), "Agrona's default type");
    }

    private List<String> allocated()
    {
        final List<String> counters = new ArrayList<>();
        manager.forEach((final int counterId, final int typeId, final DirectBuffer key, final String label) ->
            counters.add(typeId + " " + CounterKey.queue(key) + " " + CounterKey.member(key) + " " + label));
        return counters;
    }
}
