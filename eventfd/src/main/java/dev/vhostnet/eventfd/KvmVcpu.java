package dev.vhostnet.eventfd;

import com.sun.jna.Pointer;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmRegs;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import dev.vhostnet.sys.Mman;
import dev.vhostnet.sys.Mmap;
import dev.vhostnet.sys.SysException;

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
