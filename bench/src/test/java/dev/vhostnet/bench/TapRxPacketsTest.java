package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class TapRxPacketsTest {
    /** A bench namespace's /proc/net/dev: loopback and the tap, whose name here touches the colon. */
    static final String NET_DEV = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
            vb1234567890ab:123456789012  1929012    0    3    0     0          0         0     2216      24    0    0    0     0       0          0
            """;

    @Test
    void readsTheReceivePacketsOfTheNamedInterface() throws IOException {
        assertEquals(1_929_012, TapRxPackets.parseNetDev(NET_DEV, "vb1234567890ab", "net/dev"));
        assertEquals(0, TapRxPackets.parseNetDev(NET_DEV, "lo", "net/dev"));
    }

    @Test
    void anInterfaceThatIsNotThereOrAGarbledLineIsAnError() {
        assertThrows(
                IOException.class, () -> TapRxPackets.parseNetDev(NET_DEV, "vb1", "net/dev"), "a prefix is not a name");
        assertThrows(
                IOException.class,
                () -> TapRxPackets.parseNetDev(NET_DEV.replace(" 1929012 ", " x "), "vb1234567890ab", "net/dev"));
        assertThrows(
                IOException.class,
                () -> TapRxPackets.parseNetDev("    lo: 1 2 3\n", "lo", "net/dev"),
                "fewer than 16 counts: cut off");
    }
}
