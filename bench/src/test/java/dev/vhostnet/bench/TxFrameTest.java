package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.tap.MacAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * TX counted at the tap sends to an address no interface has, so the stack drops each frame once
 * the tap has counted it, as it drops DPDK's txonly frames; counted at the sink, to the tap's own.
 */
class TxFrameTest {
    private static final MacAddress TAP = MacAddress.parse("02:00:00:78:00:01");

    @Test
    void atTheTapTheFrameIsForNoInterfaceHereAtTheSinkForTheTap() {
        byte[] tap = BenchNet.txFrame(TAP, TxCount.TAP, 40000, 9000, 64);
        byte[] sink = BenchNet.txFrame(TAP, TxCount.SINK, 40000, 9000, 64);

        assertArrayEquals(BenchNet.ELSEWHERE_MAC.bytes(), Arrays.copyOf(tap, 6), "destination MAC, counted at the tap");
        assertArrayEquals(TAP.bytes(), Arrays.copyOf(sink, 6), "destination MAC, counted at the sink");
        assertEquals(64, tap.length);
        assertArrayEquals(
                Arrays.copyOfRange(sink, 6, sink.length),
                Arrays.copyOfRange(tap, 6, tap.length),
                "the rest of the frame (source, IP, UDP, payload) is the same");
    }
}
