package io.pagewire.control.run;

import io.pagewire.dataplane.port.afpacket.AfPacketCounter;
import io.pagewire.dataplane.port.memif.MemifCounter;
import io.pagewire.dataplane.stats.FrameAccounting;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FrameBalance} on its own: NIC counters find their role by label (also a per-queue-pair memif label), and a
 * frame no counter accounts for makes the balance false, in the JSON and in the human line. The balance with every
 * cause provoked for real is {@code FrameBalanceInteropTest}'s.
 */
class FrameBalanceTest
{
    @Test
    void nicCountersFindTheirRoleByLabel()
    {
        assertEquals(FrameAccounting.NIC_TX_DROP, FrameBalance.accountingOf(AfPacketCounter.TX_REFUSED.label()));
        assertEquals(FrameAccounting.NIC_TX_SENT, FrameBalance.accountingOf("nic.af_packet.tx_sent"));
        assertEquals(FrameAccounting.NIC_TX_IN_FLIGHT, FrameBalance.accountingOf("nic.af_packet.tx_on_ring"));
        assertEquals(FrameAccounting.NIC_RX_DROP, FrameBalance.accountingOf("nic.af_packet.kernel_drops"));
        assertEquals(FrameAccounting.NONE, FrameBalance.accountingOf("nic.af_packet.tx_kicks"));
        assertEquals(MemifCounter.TX_DROPS_DOWN.accounting(),
            FrameBalance.accountingOf(MemifCounter.TX_DROPS_DOWN.label() + " q1"), "per queue pair: label qN");
        assertEquals(FrameAccounting.NONE, FrameBalance.accountingOf("nic.unknown"));
    }

    @Test
    void aFrameNoCounterAccountsForIsNotBalanced()
    {
        // The port says it sent 5 and refused 1 of frames no queue pair handed it: 6 frames from nowhere.
        final FrameBalance balance = new FrameBalance(List.of(),
            Map.of("nic.af_packet.tx_sent", 5L, "nic.af_packet.tx_refused", 1L, "nic.af_packet.tx_on_ring", 0L));
        assertEquals(false, balance.json().get("balanced"));
        assertEquals(false, section(balance, "nic_tx").get("balanced"));
        assertEquals(true, section(balance, "tx").get("balanced"));
        assertEquals(true, section(balance, "rx").get("balanced"));
        assertTrue(balance.text().contains("NOT BALANCED (NIC tx off by -6)"), balance.text());
    }

    @Test
    void aPortThatDoesNotCountWhatItSentIsTakenToHaveSentTheRest()
    {
        final FrameBalance balance = new FrameBalance(List.of(), Map.of("nic.pcap.frames_written", 0L));
        assertEquals(false, section(balance, "nic_tx").get("sent_counted"));
        assertEquals(0L, section(balance, "nic_tx").get("sent"));
        assertEquals(true, balance.json().get("balanced"));
        assertTrue(balance.text().endsWith(": balanced"), balance.text());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> section(final FrameBalance balance, final String key)
    {
        return (Map<String, Object>)balance.json().get(key);
    }
}
