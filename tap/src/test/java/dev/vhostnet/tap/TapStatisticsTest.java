package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** TapStatistics reads the counters the kernel keeps for a tap, as ip -s link shows them. */
class TapStatisticsTest {
    @Test
    void framesWrittenToATapAreItsReceivedPacketsAndBytes() throws Exception {
        Privileges.assumeTaps();
        try (TapDevice tap = TapDevice.open(
                TapConfig.builder().name(Names.random("vs")).up(true).build())) {
            TapStatistics before = TapStatistics.read(tap.name()).orElseThrow();
            TapEndpoint endpoint = tap.endpoint(0);
            long bytes = 0;
            for (int length : new int[] {60, 100, 1514}) {
                ByteBuffer frame = ByteBuffer.allocateDirect(length);
                for (int i = 0; i < 6; i++) {
                    frame.put(i, (byte) 0xff); // broadcast, so nothing in the stack treats it as ours
                }
                frame.put(6, (byte) 0x02);
                frame.putShort(12, (short) 0x88b5); // local experimental EtherType: no protocol takes it
                endpoint.write(frame);
                bytes += length;
            }
            TapStatistics after = TapStatistics.read(tap.name()).orElseThrow();
            assertEquals(3, after.rxPackets() - before.rxPackets(), "each frame written is one the tap received");
            assertEquals(bytes, after.rxBytes() - before.rxBytes());
            assertEquals(0, after.rxErrors() - before.rxErrors());
        }
    }

    @Test
    void anInterfaceThatIsNotThereHasNoStatistics() {
        assertEquals(Optional.empty(), TapStatistics.read("vs-none"));
        assertEquals(Optional.empty(), TapStatistics.read("../lo"));
    }
}
