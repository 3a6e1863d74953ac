package dev.vhostnet.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.Range;
import com.google.common.collect.RangeSet;
import com.google.common.collect.TreeRangeSet;
import dev.vhostnet.ctl.ring.VringLayout;
import org.junit.jupiter.api.Test;

class DriverMemoryTest {
    @Test
    void partsArePageAlignedDisjointAndInsideTheRange() {
        long base = 0x100000;
        long needed = DriverMemory.bytesNeeded(2, 256, 2048);
        DriverMemory m = DriverMemory.layout(base, needed, 2, 256, 2048);
        assertEquals(needed, m.bytes());
        RangeSet<Long> used = TreeRangeSet.create();
        for (DriverMemory.QueuePair p : m.queuePairs()) {
            for (long[] part : new long[][] {
                {p.rx().descGpa(), VringLayout.contiguousBytes(256)},
                {p.tx().descGpa(), VringLayout.contiguousBytes(256)},
                {p.txIndirectGpa(), DriverQueue.indirectBytes(256, p.txIndirectEntries())},
                {p.rxBuffersGpa(), 256L * 2048},
                {p.txBuffersGpa(), 256L * 2048}
            }) {
                Range<Long> r = Range.closedOpen(part[0], part[0] + part[1]);
                assertEquals(0, part[0] % DriverMemory.PAGE);
                assertTrue(used.subRangeSet(r).isEmpty(), "overlap at " + Long.toHexString(part[0]));
                assertTrue(Range.closedOpen(base, base + needed).encloses(r));
                used.add(r);
            }
        }
        assertEquals(33, m.queuePair(0).txIndirectEntries(), "a 65550-byte frame and header over 2048-byte buffers");
    }

    @Test
    void saysHowMuchItNeedsWhenTheRangeIsTooSmall() {
        long needed = DriverMemory.bytesNeeded(1, 8, 2048);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> DriverMemory.layout(0, needed - 1, 1, 8, 2048));
        assertTrue(e.getMessage().contains("need " + needed + " bytes"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DriverMemory.bytesNeeded(1, 6, 2048));
    }
}
