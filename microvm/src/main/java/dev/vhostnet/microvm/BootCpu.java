package dev.vhostnet.microvm;

import dev.vhostnet.eventfd.KvmVcpu;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.KvmUapi.KvmFpu;
import dev.vhostnet.sys.KvmUapi.KvmRegs;
import dev.vhostnet.sys.KvmUapi.KvmSegment;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import dev.vhostnet.sys.SysException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The boot vCPU's state at the kernel's 64-bit entry (boot.rst, "64-bit Boot Protocol";
 * Firecracker {@code arch/x86_64/regs.rs} and {@code msr.rs}): long mode with paging on the
 * identity map, flat segments from the boot GDT, interrupts off, RSI at the zero page, a small
 * stack, x87/SSE defaults and the MSRs a cold CPU has.
 */
final class BootCpu {
    private static final Logger log = LoggerFactory.getLogger(BootCpu.class);

    // <asm/processor-flags.h>
    static final long CR0_PE = 1L << 0;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    // <asm/msr-index.h>
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;
    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_SYSENTER_CS = 0x174;
    static final int MSR_IA32_SYSENTER_ESP = 0x175;
    static final int MSR_IA32_SYSENTER_EIP = 0x176;
    static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    static final long MISC_ENABLE_FAST_STRING = 1;
    static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    /** MTRRs enabled, memory write-back by default. */
    static final long MTRR_ENABLE_WRITE_BACK = 1 << 11 | 6;

    static final int MSR_STAR = 0xc0000081;
    static final int MSR_LSTAR = 0xc0000082;
    static final int MSR_CSTAR = 0xc0000083;
    static final int MSR_SYSCALL_MASK = 0xc0000084;
    static final int MSR_KERNEL_GS_BASE = 0xc0000102;

    private BootCpu() {}

    /** Writes the GDT and page tables into {@code memory} and points {@code vcpu} at {@code entry}. */
    static void configure(KvmVcpu vcpu, MemoryTable memory, long entry) throws SysException {
        Gdt.write(memory);
        KvmSregs sregs = vcpu.getSregs();
        sregs.gdt.base = Layout.GDT;
        sregs.gdt.limit = Gdt.limit();
        sregs.idt.base = Layout.IDT;
        sregs.idt.limit = 7;
        Gdt.segment(Gdt.CODE, sregs.cs);
        for (KvmSegment s : new KvmSegment[] {sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss}) {
            Gdt.segment(Gdt.DATA, s);
        }
        Gdt.segment(Gdt.TSS, sregs.tr);
        sregs.cr3 = PageTables.write(memory);
        sregs.cr0 |= CR0_PE | CR0_PG;
        sregs.cr4 |= CR4_PAE;
        sregs.efer |= EFER_LME | EFER_LMA;
        vcpu.setSregs(sregs);

        KvmRegs regs = new KvmRegs();
        regs.rflags = 2;
        regs.rip = entry;
        regs.rsp = Layout.BOOT_STACK;
        regs.rbp = Layout.BOOT_STACK;
        regs.rsi = Layout.ZERO_PAGE;
        vcpu.setRegs(regs);

        KvmFpu fpu = new KvmFpu();
        fpu.fcw = 0x37f;
        fpu.mxcsr = 0x1f80;
        vcpu.setFpu(fpu);

        Map<Integer, Long> msrs = new LinkedHashMap<>();
        for (int msr : new int[] {
            MSR_IA32_SYSENTER_CS,
            MSR_IA32_SYSENTER_ESP,
            MSR_IA32_SYSENTER_EIP,
            MSR_STAR,
            MSR_CSTAR,
            MSR_KERNEL_GS_BASE,
            MSR_SYSCALL_MASK,
            MSR_LSTAR,
            MSR_IA32_TSC
        }) {
            msrs.put(msr, 0L);
        }
        msrs.put(MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING);
        msrs.put(MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITE_BACK);
        int set = vcpu.setMsrs(msrs);
        if (set != msrs.size()) {
            log.warn(
                    "KVM_SET_MSRS set {} of {} boot MSRs; the first refused is 0x{}",
                    set,
                    msrs.size(),
                    Integer.toHexString(
                            msrs.keySet().stream().skip(set).findFirst().orElse(0)));
        }
    }
}
