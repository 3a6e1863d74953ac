package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;
import java.util.List;

/**
 * The BIOS memory map the kernel reads from the zero page (Linux {@code arch/x86/include/asm/e820/types.h};
 * Firecracker {@code arch/x86_64/mod.rs}, {@code configure_system}): RAM below the EBDA, the
 * legacy hole up to 1 MiB, RAM from 1 MiB to the end of guest memory.
 */
record E820(List<Entry> entries) {
    static final int RAM = 1;
    static final int RESERVED = 2;

    /** One range: {@code type} is {@link #RAM} or {@link #RESERVED}. */
    record Entry(long address, long size, int type) {}

    E820 {
        entries = List.copyOf(entries);
    }

    /** The map of a guest with {@code memory} bytes of RAM from address 0. */
    static E820 forRam(long memory) {
        Preconditions.checkArgument(
                memory > Layout.HIMEM && memory <= Layout.MMIO_GAP,
                "guest memory must be above 1 MiB and at most 3 GiB: %s bytes",
                memory);
        return new E820(List.of(new Entry(0, Layout.EBDA, RAM), new Entry(Layout.HIMEM, memory - Layout.HIMEM, RAM)));
    }
}
