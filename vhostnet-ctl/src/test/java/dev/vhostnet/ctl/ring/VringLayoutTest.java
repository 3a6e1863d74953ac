package dev.vhostnet.ctl.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.memtable.MemoryTable;
import org.junit.jupiter.api.Test;

class VringLayoutTest {
    private static void rejected(String expected, Runnable make) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void ringSizeMustBeAPowerOfTwoUpTo32768() {
        rejected("power of two from 1 to 32768, not 0", () -> VringLayout.contiguous(0, 0));
        rejected("not 100", () -> VringLayout.contiguous(0, 100));
        rejected("not 65536", () -> VringLayout.contiguous(0, 65536));
        rejected("not -256", () -> VringLayout.contiguous(0, -256));
        assertEquals(32768, VringLayout.contiguous(0, 32768).size());
    }

    @Test
    void eachPartMustBeAlignedAsTheSpecSays() {
        rejected(
                "descriptor table at guest address 0x1008 is not 16-byte aligned",
                () -> new VringLayout(8, 0x1008, 0x2000, 0x3000));
        rejected(
                "available ring at guest address 0x2001 is not 2-byte aligned",
                () -> new VringLayout(8, 0x1000, 0x2001, 0x3000));
        rejected(
                "used ring at guest address 0x3002 is not 4-byte aligned",
                () -> new VringLayout(8, 0x1000, 0x2000, 0x3002));
    }

    @Test
    void theContiguousLayoutFollowsTheLegacySpec() {
        VringLayout ring = VringLayout.contiguous(0x10000, 256);
        assertEquals(0x10000, ring.descGpa());
        assertEquals(0x10000 + 16 * 256, ring.availGpa());
        assertEquals(0x12000, ring.usedGpa(), "the used ring starts on the page after the available ring");
        assertEquals(
                4096 + 4096 + 4096, VringLayout.contiguousBytes(256), "desc+avail in 2 pages, used (2054 bytes) in 1");
        assertEquals(6 + 2 * 256, VringLayout.availBytes(256));
        assertEquals(6 + 8 * 256, VringLayout.usedBytes(256));
    }

    @Test
    void everyPartMustLieInsideGuestMemory() throws Exception {
        try (MemoryTable memory = MemoryTable.builder()
                .region(0, 0x10000)
                .region(0x20000, 0x10000)
                .build()) {
            VringLayout.contiguous(0x20000, 256).checkIn(memory, "queue 0");
            rejected(
                    "used ring of queue 1 at [gpa 0x10000, +2054) is not inside guest memory",
                    () -> VringLayout.contiguous(0x10000 - 0x2000, 256).checkIn(memory, "queue 1"));
            rejected(
                    "descriptor table of queue 2",
                    () -> VringLayout.contiguous(0x40000, 8).checkIn(memory, "queue 2"));
        }
    }
}
