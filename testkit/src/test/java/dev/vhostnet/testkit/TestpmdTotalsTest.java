package dev.vhostnet.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class TestpmdTotalsTest {
    /** The end of a real run: dpdk-testpmd 22.11, net_vhost io-forwarding into net_tap, stopped by SIGTERM. */
    static final String IO_FORWARDING_END = """
            Telling cores to stop...
            Waiting for lcores to finish...

              ---------------------- Forward statistics for port 0  ----------------------
              RX-packets: 5963328        RX-dropped: 0             RX-total: 5963328
              TX-packets: 1              TX-dropped: 5             TX-total: 6
              ----------------------------------------------------------------------------

              ---------------------- Forward statistics for port 1  ----------------------
              RX-packets: 6              RX-dropped: 0             RX-total: 6
              TX-packets: 5963328        TX-dropped: 0             TX-total: 5963328
              ----------------------------------------------------------------------------

              +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
              RX-packets: 5963334        RX-dropped: 0             RX-total: 5963334
              TX-packets: 5963329        TX-dropped: 5             TX-total: 5963334
              ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++

            Done.
            """;

    @Test
    void readsTheAccumulatedBlockNotAPortsOwn() {
        assertEquals(Optional.of(new TestpmdTotals(5963334, 0, 5963329, 5)), TestpmdTotals.parse(IO_FORWARDING_END));
        assertEquals(5, TestpmdTotals.parse(IO_FORWARDING_END).orElseThrow().dropped());
    }

    @Test
    void aRunThatPrintedNoTotalsHasNone() {
        String killed = IO_FORWARDING_END.substring(0, IO_FORWARDING_END.indexOf("  +++++"));
        assertTrue(TestpmdTotals.parse(killed).isEmpty(), "per-port blocks only");
        assertTrue(TestpmdTotals.parse("").isEmpty());
    }

    @Test
    void aCutOffOrOverlongFigureIsNoTotal() {
        String cut = IO_FORWARDING_END.substring(0, IO_FORWARDING_END.indexOf("TX-packets: 5963329") + 12);
        assertTrue(TestpmdTotals.parse(cut).isEmpty(), "the output ends inside the block");
        String overlong = IO_FORWARDING_END.replace("RX-packets: 5963334", "RX-packets: 99999999999999999999999");
        assertTrue(TestpmdTotals.parse(overlong).isEmpty(), "more digits than a long holds: not a figure");
    }

    @Test
    void theLastBlockWinsWhenThereAreSeveral() {
        String twice = IO_FORWARDING_END + IO_FORWARDING_END.replace("5963334", "7");
        assertEquals(7, TestpmdTotals.parse(twice).orElseThrow().rxPackets());
    }
}
