package dev.vhostnet.eventfd;

import com.google.common.base.Preconditions;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmCpuid2;
import dev.vhostnet.sys.KvmUapi.KvmCpuidEntry2;
import dev.vhostnet.sys.KvmUapi.KvmFpu;
import dev.vhostnet.sys.KvmUapi.KvmMsrEntry;
import dev.vhostnet.sys.KvmUapi.KvmMsrs;
import dev.vhostnet.sys.KvmUapi.KvmRegs;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import dev.vhostnet.sys.Mman;
import dev.vhostnet.sys.Mmap;
import dev.vhostnet.sys.SysException;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/** A virtual CPU ({@code KVM_CREATE_VCPU}) with its mapped {@code struct kvm_run}. */
public final class KvmVcpu implements AutoCloseable {
    private final Fd fd;
    private final Mmap run;

    private KvmVcpu(Fd fd, Mmap run) {
        this.fd = fd;
        this.run = run;
    }

    static KvmVcpu create(Fd vcpu, int mmapSize) throws SysException {
        try {
            return new KvmVcpu(vcpu, Mmap.map(vcpu, mmapSize, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, 0));
        } catch (SysException | RuntimeException e) {
            vcpu.close();
            throw e;
        }
    }

    public KvmRegs getRegs() throws SysException {
        KvmRegs regs = new KvmRegs();
        fd.ioctl(KvmUapi.KVM_GET_REGS, regs);
        return regs;
    }

    public void setRegs(KvmRegs regs) throws SysException {
        fd.ioctl(KvmUapi.KVM_SET_REGS, regs);
    }

    public KvmSregs getSregs() throws SysException {
        KvmSregs sregs = new KvmSregs();
        fd.ioctl(KvmUapi.KVM_GET_SREGS, sregs);
        return sregs;
    }

    public void setSregs(KvmSregs sregs) throws SysException {
        fd.ioctl(KvmUapi.KVM_SET_SREGS, sregs);
    }

    /** {@code KVM_GET_MP_STATE}: the vCPU's run state, e.g. {@code KVM_MP_STATE_HALTED} while it waits in {@code hlt}. */
    public int getMpState() throws SysException {
        Memory state = new Memory(4);
        fd.ioctl(KvmUapi.KVM_GET_MP_STATE, state);
        return state.getInt(0);
    }

    /**
     * {@code KVM_TRANSLATE}: the guest physical address the vCPU's page tables map {@code gva} to,
     * or empty where they map nothing.
     */
    public OptionalLong translate(long gva) throws SysException {
        KvmUapi.KvmTranslation t = new KvmUapi.KvmTranslation();
        t.linear_address = gva;
        fd.ioctl(KvmUapi.KVM_TRANSLATE, t);
        return t.valid != 0 ? OptionalLong.of(t.physical_address) : OptionalLong.empty();
    }

    /** {@code KVM_GET_LAPIC}: the in-kernel local APIC's register page ({@code struct kvm_lapic_state}). */
    public byte[] getLapic() throws SysException {
        Memory page = new Memory(KvmUapi.KVM_APIC_REG_SIZE);
        fd.ioctl(KvmUapi.KVM_GET_LAPIC, page);
        return page.getByteArray(0, KvmUapi.KVM_APIC_REG_SIZE);
    }

    /** {@code KVM_SET_LAPIC}: replaces the local APIC's register page; KVM recomputes its ISR/IRR caches and PPR. */
    public void setLapic(byte[] regs) throws SysException {
        Preconditions.checkArgument(
                regs.length == KvmUapi.KVM_APIC_REG_SIZE, "a local APIC page is 1024 bytes, not %s", regs.length);
        Memory page = new Memory(KvmUapi.KVM_APIC_REG_SIZE);
        page.write(0, regs, 0, regs.length);
        fd.ioctl(KvmUapi.KVM_SET_LAPIC, page);
    }

    /** {@code KVM_SET_FPU}: x87 and SSE state (control words, {@code MXCSR}). */
    public void setFpu(KvmFpu fpu) throws SysException {
        fd.ioctl(KvmUapi.KVM_SET_FPU, fpu);
    }

    /** {@code KVM_SET_CPUID2}: the CPUID leaves this vCPU reports; set before its first run. */
    public void setCpuid2(List<CpuidEntry> entries) throws SysException {
        Memory table = new Memory(KvmCpuid2.SIZE + (long) KvmCpuidEntry2.SIZE * Math.max(1, entries.size()));
        table.clear();
        table.setInt(0, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry entry = entries.get(i);
            KvmCpuidEntry2 e = new KvmCpuidEntry2(table.share(KvmCpuid2.SIZE + (long) KvmCpuidEntry2.SIZE * i));
            e.function = entry.function();
            e.index = entry.index();
            e.flags = entry.flags();
            e.eax = entry.eax();
            e.ebx = entry.ebx();
            e.ecx = entry.ecx();
            e.edx = entry.edx();
            e.write();
        }
        fd.ioctl(KvmUapi.KVM_SET_CPUID2, table);
    }

    /**
     * {@code KVM_SET_MSRS}: writes model-specific registers (index to value); returns how many the
     * kernel set, which stops at the first it refuses.
     */
    public int setMsrs(Map<Integer, Long> msrs) throws SysException {
        Memory table = new Memory(KvmMsrs.SIZE + (long) KvmMsrEntry.SIZE * Math.max(1, msrs.size()));
        table.clear();
        table.setInt(0, msrs.size());
        int i = 0;
        for (Map.Entry<Integer, Long> msr : msrs.entrySet()) {
            KvmMsrEntry e = new KvmMsrEntry(table.share(KvmMsrs.SIZE + (long) KvmMsrEntry.SIZE * i++));
            e.index = msr.getKey();
            e.data = msr.getValue();
            e.write();
        }
        return fd.ioctl(KvmUapi.KVM_SET_MSRS, table);
    }

    /**
     * Answers the guest's read that made {@code exit} (a port {@code in} or an MMIO read): the
     * next {@link #run()} gives the guest the low {@code exit.size()} bytes of {@code value}
     * (little-endian). A string {@code rep ins} (count above 1) gets the value in its first element only.
     */
    public void completeRead(VcpuExit exit, long value) {
        Preconditions.checkArgument((exit.isIo() || exit.isMmio()) && !exit.write(), "not a read: %s", exit);
        Pointer p = run.pointer();
        long offset = exit.isIo() ? p.getLong(KvmUapi.KVM_RUN_IO_DATA_OFFSET) : KvmUapi.KVM_RUN_MMIO_DATA;
        for (int i = 0; i < Math.min(exit.size(), 8); i++) {
            p.setByte(offset + i, (byte) (value >>> (8 * i)));
        }
    }

    /**
     * Sets {@code kvm_run.immediate_exit}: while set, {@link #run()} returns {@code KVM_EXIT_INTR}
     * at once. Set it, then signal the vCPU thread, and a stop request cannot slip in between two runs.
     */
    public void setImmediateExit(boolean immediate) {
        run.pointer().setByte(KvmUapi.KVM_RUN_IMMEDIATE_EXIT, (byte) (immediate ? 1 : 0));
    }

    /**
     * {@code KVM_RUN}: runs the guest until it needs this process. Exits the kernel handles itself
     * (an ioeventfd write, an in-kernel {@code hlt}) never come back here. A signal interrupting the
     * call returns {@code KVM_EXIT_INTR}.
     */
    public VcpuExit run() throws SysException {
        try {
            fd.ioctl(KvmUapi.KVM_RUN);
        } catch (SysException e) {
            if (e.is(Errno.EINTR) || e.is(Errno.EAGAIN)) {
                return new VcpuExit(KvmUapi.KVM_EXIT_INTR, 0, 0, false, 0);
            }
            throw e;
        }
        Pointer p = run.pointer();
        int reason = p.getInt(KvmUapi.KVM_RUN_EXIT_REASON);
        return switch (reason) {
            case KvmUapi.KVM_EXIT_IO -> {
                int size = p.getByte(KvmUapi.KVM_RUN_IO_SIZE);
                long dataOffset = p.getLong(KvmUapi.KVM_RUN_IO_DATA_OFFSET);
                yield new VcpuExit(
                        reason,
                        p.getShort(KvmUapi.KVM_RUN_IO_PORT) & 0xffff,
                        size,
                        p.getByte(KvmUapi.KVM_RUN_IO_DIRECTION) == KvmUapi.KVM_EXIT_IO_OUT,
                        readLittleEndian(p, dataOffset, size));
            }
            case KvmUapi.KVM_EXIT_MMIO -> {
                int len = p.getInt(KvmUapi.KVM_RUN_MMIO_LEN);
                yield new VcpuExit(
                        reason,
                        p.getLong(KvmUapi.KVM_RUN_MMIO_PHYS_ADDR),
                        len,
                        p.getByte(KvmUapi.KVM_RUN_MMIO_IS_WRITE) != 0,
                        readLittleEndian(p, KvmUapi.KVM_RUN_MMIO_DATA, Math.min(len, 8)));
            }
            case KvmUapi.KVM_EXIT_INTERNAL_ERROR ->
                new VcpuExit(reason, 0, 0, false, p.getInt(KvmUapi.KVM_RUN_INTERNAL_SUBERROR));
            default -> new VcpuExit(reason, 0, 0, false, 0);
        };
    }

    private static long readLittleEndian(Pointer p, long offset, int size) {
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = (value << 8) | (p.getByte(offset + i) & 0xff);
        }
        return value;
    }

    @Override
    public void close() {
        run.close();
        fd.close();
    }
}
