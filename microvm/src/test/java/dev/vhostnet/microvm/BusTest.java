package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BusTest {
    private final ExitCounters counters = new ExitCounters();
    private final Bus bus = new Bus("pio", counters);
    private final List<String> seen = new ArrayList<>();

    private BusDevice recorder(String name) {
        return new BusDevice() {
            @Override
            public void read(long offset, byte[] data) {
                seen.add(name + " read " + offset);
                data[0] = 0x42;
            }

            @Override
            public void write(long offset, byte[] data) {
                seen.add(name + " write " + offset + "=" + data[0]);
            }
        };
    }

    @Test
    void accessesReachTheDeviceAtTheirOffset() {
        bus.add(0x3f8, 8, recorder("com1"));
        bus.write(0x3fb, new byte[] {3});
        byte[] data = new byte[1];
        bus.read(0x3fd, data);
        assertEquals(List.of("com1 write 3=3", "com1 read 5"), seen);
        assertEquals(0x42, data[0]);
    }

    @Test
    void anAccessNoDeviceTakesReadsAllOnesAndIsCounted() {
        bus.add(0x3f8, 8, recorder("com1"));
        byte[] data = new byte[2];
        bus.read(0x2f8, data);
        bus.read(0x3ff, data); // crosses the end of COM1
        bus.write(0x80, new byte[] {0});
        assertArrayEquals(new byte[] {-1, -1}, data);
        assertEquals(List.of(), seen);
        assertEquals(3, counters.unhandled());
        assertEquals(1L, counters.snapshot().get("unhandled pio write 0x80"));
    }

    @Test
    void overlappingDevicesAreRefused() {
        bus.add(0x3f8, 8, recorder("com1"));
        assertThrows(IllegalArgumentException.class, () -> bus.add(0x3f0, 9, recorder("x")));
        assertThrows(IllegalArgumentException.class, () -> bus.add(0x3ff, 1, recorder("x")));
        bus.add(0x400, 1, recorder("next"));
    }

    @Test
    void aGuestScanningAddressesCannotGrowTheCountersWithoutBound() {
        for (int port = 0; port < 10_000; port++) {
            bus.read(port, new byte[1]);
        }
        assertEquals(10_000, counters.unhandled());
        assertEquals(257, counters.snapshot().size());
    }
}
