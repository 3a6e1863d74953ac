package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.sys.KvmUapi.KvmSegment;
import org.junit.jupiter.api.Test;

class GdtTest {

    @Test
    void descriptorsAreTheFlatLongModeOnesFirecrackerBootsWith() {
        assertEquals(0L, Gdt.ENTRIES[0]);
        assertEquals(0x00af9b000000ffffL, Gdt.ENTRIES[Gdt.CODE]);
        assertEquals(0x00cf93000000ffffL, Gdt.ENTRIES[Gdt.DATA]);
        assertEquals(0x008f8b000000ffffL, Gdt.ENTRIES[Gdt.TSS]);
        assertEquals(31, Gdt.limit());
    }

    @Test
    void theCodeSegmentIsA64BitFlatSegmentAtSelector8() {
        KvmSegment cs = new KvmSegment();
        Gdt.segment(Gdt.CODE, cs);
        assertEquals(8, cs.selector);
        assertEquals(0, cs.base);
        assertEquals(0xffffffff, cs.limit);
        assertEquals(0xb, cs.type);
        assertEquals(1, cs.l);
        assertEquals(0, cs.db);
        assertEquals(1, cs.present);
        assertEquals(1, cs.s);
        assertEquals(1, cs.g);
        assertEquals(0, cs.unusable);
    }

    @Test
    void aDescriptorSpreadsBaseLimitAndFlagsAsTheCpuReadsThem() {
        assertEquals(0x12ca93345678bcdeL, Gdt.entry(0xc093, 0x12345678L, 0xabcde));
    }
}
