package io.pagewire.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pagewire.interop.TestPmd.PortStats;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The port stats parser against text in testpmd 22.11's exact layout; needs no DPDK. */
class TestPmdParseTest {

    /**
     * {@code show port stats all} as testpmd 22.11.11 prints it (copied from a real run; the counter values
     * are edited so that every field is distinct and a swapped field cannot go unnoticed).
     */
    static final String TWO_PORTS = """

              ######################## NIC statistics for port 0  ########################
              RX-packets: 9707328    RX-missed: 11         RX-bytes:  621268992
              RX-errors: 12
              RX-nombuf:  13        \s
              TX-packets: 9707456    TX-errors: 14         TX-bytes:  621277184

              Throughput (since last show)
              Rx-pps:            15         Rx-bps:            16
              Tx-pps:            17         Tx-bps:            18
              ############################################################################

              ######################## NIC statistics for port 1  ########################
              RX-packets: 21         RX-missed: 22         RX-bytes:  23
              RX-errors: 24
              RX-nombuf:  25        \s
              TX-packets: 26         TX-errors: 27         TX-bytes:  28

              Throughput (since last show)
              Rx-pps:            0          Rx-bps:            0
              Tx-pps:            0          Tx-bps:            0
              ############################################################################
            """;

    @Test
    void parsesEveryFieldOfEveryPort() {
        List<PortStats> stats = TestPmd.parsePortStats(TWO_PORTS);
        assertEquals(List.of(
                new PortStats(0, 9707328, 11, 621268992, 12, 13, 9707456, 14, 621277184),
                new PortStats(1, 21, 22, 23, 24, 25, 26, 27, 28)), stats);
    }

    @Test
    void throughputLinesAreNotCounters() {
        // Rx-pps/Tx-bps differ from RX-packets/TX-bytes only by case; they must not be taken for them.
        PortStats port0 = TestPmd.parsePortStats(TWO_PORTS).getFirst();
        assertTrue(port0.rxPackets() != 15 && port0.txBytes() != 18, port0.toString());
    }

    @Test
    void aBlockMissingAFieldIsAnErrorNotAZero() {
        String broken = TWO_PORTS.replace("RX-nombuf:  25", "RX-nomem:  25");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> TestPmd.parsePortStats(broken));
        assertTrue(e.getMessage().contains("port 1") && e.getMessage().contains("RX-nombuf"), e.getMessage());
    }

    @Test
    void noStatsBlockGivesAnEmptyList() {
        assertEquals(List.of(), TestPmd.parsePortStats("Invalid port 7\n"));
    }

    @Test
    void tailKeepsTheLastLines() {
        assertEquals("c\nd", TestPmd.tail("a\nb\nc\nd", 2));
        assertEquals("a\nb", TestPmd.tail("a\nb", 5));
        assertEquals("", TestPmd.tail("", 3));
    }
}
