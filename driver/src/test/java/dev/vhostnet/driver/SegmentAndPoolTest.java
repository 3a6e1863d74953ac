package dev.vhostnet.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.memtable.MemoryTable;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SegmentAndPoolTest {
    @Test
    void segmentsRejectEmptyNegativeAndWrappingRanges() {
        assertThrows(IllegalArgumentException.class, () -> new Segment(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Segment(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> new Segment(Long.MAX_VALUE - 4, 10));
        assertEquals(10, new Segment(4096, 10).len());
    }

    @Test
    void aPoolHandsOutEachBufferOnceAndItsBytesAreGuestMemoryAtItsAddress() throws Exception {
        try (MemoryTable memory = MemoryTable.builder().region(0, 1 << 16).build()) {
            GuestBufferPool pool = new GuestBufferPool(memory, 0x1000, 4, 1000);
            Set<Integer> got = new HashSet<>();
            for (int i = 0; i < 4; i++) {
                got.add(pool.allocate());
            }
            assertEquals(Set.of(0, 1, 2, 3), got);
            assertEquals(-1, pool.allocate());
            pool.free(2);
            assertThrows(IllegalStateException.class, () -> pool.free(2));
            assertEquals(2, pool.allocate());
            assertEquals(0x1000 + 3000, pool.gpa(3));

            pool.buffer(3).put(0, new byte[] {1, 2, 3}, 0, 3);
            byte[] back = new byte[3];
            memory.read(0x1000 + 3000, back, 0, 3);
            assertArrayEquals(new byte[] {1, 2, 3}, back);
            assertThrows(IllegalArgumentException.class, () -> new GuestBufferPool(memory, 0x1000, 100, 1000));
        }
    }
}
