package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;
import dev.vhostnet.sys.KvmUapi;
import java.util.BitSet;

/**
 * The local APIC's register page as {@code KVM_GET_LAPIC} returns it: the in-service (ISR) and
 * requested (IRR) vectors and the task priority, at the offsets of the kernel's {@code
 * arch/x86/include/asm/apicdef.h} ({@code APIC_ISR}, {@code APIC_IRR}: eight 32-bit registers, 16
 * bytes apart). Immutable: {@link #redelivered} returns a new page.
 */
final class LocalApic {
    static final int APIC_TASKPRI = 0x80;
    static final int APIC_ISR = 0x100;
    static final int APIC_IRR = 0x200;

    private final byte[] regs;

    LocalApic(byte[] regs) {
        Preconditions.checkArgument(regs.length == KvmUapi.KVM_APIC_REG_SIZE, "%s bytes", regs.length);
        this.regs = regs.clone();
    }

    BitSet inService() {
        return vectors(APIC_ISR);
    }

    BitSet requested() {
        return vectors(APIC_IRR);
    }

    int taskPriority() {
        return register(APIC_TASKPRI) & 0xff;
    }

    /**
     * The page with {@code vector} moved from in service back to requested: what the CPU would see
     * had the interrupt's delivery not been lost — KVM delivers it again and the guest's {@code EOI}
     * then acknowledges it once.
     */
    byte[] redelivered(int vector) {
        byte[] out = regs.clone();
        setBit(out, APIC_ISR, vector, false);
        setBit(out, APIC_IRR, vector, true);
        return out;
    }

    private BitSet vectors(int base) {
        BitSet set = new BitSet(256);
        for (int v = 0; v < 256; v++) {
            if ((register(base + 0x10 * (v / 32)) & (1 << (v % 32))) != 0) {
                set.set(v);
            }
        }
        return set;
    }

    private int register(int offset) {
        return (regs[offset] & 0xff)
                | (regs[offset + 1] & 0xff) << 8
                | (regs[offset + 2] & 0xff) << 16
                | (regs[offset + 3] & 0xff) << 24;
    }

    private static void setBit(byte[] page, int base, int vector, boolean on) {
        int at = base + 0x10 * (vector / 32) + (vector % 32) / 8;
        int mask = 1 << (vector % 8);
        page[at] = (byte) (on ? page[at] | mask : page[at] & ~mask);
    }

    @Override
    public String toString() {
        return "isr " + hex(inService()) + " irr " + hex(requested()) + " tpr 0x" + Integer.toHexString(taskPriority());
    }

    private static String hex(BitSet set) {
        StringBuilder s = new StringBuilder("[");
        set.stream().forEach(v -> s.append(s.length() > 1 ? " " : "").append(String.format("0x%02x", v)));
        return s.append(']').toString();
    }
}
