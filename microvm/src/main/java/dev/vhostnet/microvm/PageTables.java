package dev.vhostnet.microvm;

import dev.vhostnet.memtable.MemoryTable;

/**
 * The identity map a 64-bit entry needs (Firecracker {@code arch/x86_64/regs.rs},
 * {@code setup_page_tables}): one PML4 entry, one PDPT entry, and a page directory of 512 2 MiB
 * pages, so guest-physical 0–1 GiB is mapped at the same virtual addresses. The kernel builds its
 * own tables early; these only have to cover it, the zero page and the command line until then.
 */
final class PageTables {
    private static final long PRESENT_WRITABLE = 0x3;
    private static final long PAGE_SIZE_2M = 0x80;
    static final long MAPPED = 512L << 21;

    private PageTables() {}

    /** Writes the tables at {@link Layout#PML4}, {@link Layout#PDPT} and {@link Layout#PD}; returns CR3. */
    static long write(MemoryTable memory) {
        memory.putLong(Layout.PML4, Layout.PDPT | PRESENT_WRITABLE);
        memory.putLong(Layout.PDPT, Layout.PD | PRESENT_WRITABLE);
        for (long i = 0; i < 512; i++) {
            memory.putLong(Layout.PD + i * 8, (i << 21) | PAGE_SIZE_2M | PRESENT_WRITABLE);
        }
        return Layout.PML4;
    }
}
