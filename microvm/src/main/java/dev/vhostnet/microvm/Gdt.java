package dev.vhostnet.microvm;

import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.KvmUapi.KvmSegment;

/**
 * The boot GDT (Firecracker {@code arch/x86_64/gdt.rs} and {@code regs.rs}): null, 64-bit code,
 * data and a TSS descriptor, and the {@code kvm_segment} each selector loads — KVM takes segment
 * registers already loaded, so the two must agree.
 */
final class Gdt {
    static final long[] ENTRIES = {
        entry(0, 0, 0),
        entry(0xa09b, 0, 0xfffff), // code: present, DPL 0, execute/read, accessed, L=1, G=1
        entry(0xc093, 0, 0xfffff), // data: present, DPL 0, read/write, accessed, D/B=1, G=1
        entry(0x808b, 0, 0xfffff), // TSS: present, busy 64-bit TSS
    };
    static final int CODE = 1;
    static final int DATA = 2;
    static final int TSS = 3;

    private Gdt() {}

    /** A descriptor from access/flags bits ({@code 0xF0FF}: flags nibble, then access byte), base and limit. */
    static long entry(int flags, long base, long limit) {
        return ((base & 0xff000000L) << (56 - 24))
                | (((long) flags & 0x0000f0ffL) << 40)
                | ((limit & 0x000f0000L) << (48 - 16))
                | ((base & 0x00ffffffL) << 16)
                | (limit & 0x0000ffffL);
    }

    /** Writes the table at {@link Layout#GDT} and an empty IDT at {@link Layout#IDT}. */
    static void write(MemoryTable memory) {
        for (int i = 0; i < ENTRIES.length; i++) {
            memory.putLong(Layout.GDT + i * 8L, ENTRIES[i]);
        }
        memory.putLong(Layout.IDT, 0);
    }

    /** Bytes of the table minus one, the GDTR limit. */
    static short limit() {
        return (short) (ENTRIES.length * 8 - 1);
    }

    /** The segment register contents selector {@code index} loads. */
    static void segment(int index, KvmSegment s) {
        long e = ENTRIES[index];
        s.base = ((e >>> 16) & 0xffffff) | (((e >>> 56) & 0xff) << 24);
        long limit = (e & 0xffff) | (((e >>> 48) & 0xf) << 16);
        s.g = (byte) ((e >>> 55) & 1);
        s.limit = (int) (s.g == 1 ? (limit << 12) | 0xfff : limit);
        s.selector = (short) (index * 8);
        s.type = (byte) ((e >>> 40) & 0xf);
        s.s = (byte) ((e >>> 44) & 1);
        s.dpl = (byte) ((e >>> 45) & 3);
        s.present = (byte) ((e >>> 47) & 1);
        s.avl = (byte) ((e >>> 52) & 1);
        s.l = (byte) ((e >>> 53) & 1);
        s.db = (byte) ((e >>> 54) & 1);
        s.unusable = (byte) (s.present == 0 ? 1 : 0);
    }
}
