package dev.vhostnet.eventfd;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.KvmUapi.KvmRegs;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import dev.vhostnet.sys.SysException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A one-vCPU real-mode guest with 64 KiB of RAM at guest-physical 0: code goes at
 * {@link #CODE}, the interrupt vector table is at 0. Used to show that guest writes reach an
 * ioeventfd without an exit, and that an irqfd runs the guest's interrupt handler.
 */
public final class RealModeGuest implements AutoCloseable {
    public static final long RAM = 0x10000;
    public static final int CODE = 0x1000;

    public final Kvm kvm;
    public final KvmVm vm;
    public final MemoryTable memory;
    public final KvmVcpu vcpu;
    private final ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "vcpu0");
        t.setDaemon(true);
        return t;
    });

    private RealModeGuest(Kvm kvm, KvmVm vm, MemoryTable memory, KvmVcpu vcpu) {
        this.kvm = kvm;
        this.vm = vm;
        this.memory = memory;
        this.vcpu = vcpu;
    }

    /** Skips the test, saying why, where this process cannot use KVM. */
    public static void assumeKvm() {
        String cause = Kvm.unavailabilityCause();
        assumeTrue(cause == null, () -> "needs /dev/kvm (run as root on a host with KVM): " + cause);
    }

    /** A guest with (or without) the in-kernel irqchip; without it, {@code hlt} exits to this process. */
    static RealModeGuest create(boolean irqchip, byte[] code) throws SysException {
        return create(irqchip, code, RAM);
    }

    /** A guest with {@code ram} bytes of RAM at 0 (at most 1 MiB is reachable in real mode). */
    public static RealModeGuest create(boolean irqchip, byte[] code, long ram) throws SysException {
        Kvm kvm = Kvm.open();
        KvmVm vm = null;
        MemoryTable memory = null;
        try {
            vm = kvm.createVm();
            if (irqchip) {
                vm.createIrqchip();
            }
            memory = MemoryTable.builder().region(0, ram).build();
            vm.setMemoryTable(memory);
            memory.write(CODE, code, 0, code.length);
            KvmVcpu vcpu = vm.createVcpu(0);
            RealModeGuest guest = new RealModeGuest(kvm, vm, memory, vcpu);
            guest.reset();
            return guest;
        } catch (SysException | RuntimeException e) {
            if (memory != null) {
                memory.close();
            }
            if (vm != null) {
                vm.close();
            }
            kvm.close();
            throw e;
        }
    }

    /** Points the vCPU at {@link #CODE} in real mode with CS=DS=SS=0. */
    public void reset() throws SysException {
        KvmSregs sregs = vcpu.getSregs();
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        vcpu.setSregs(sregs);
        KvmRegs regs = new KvmRegs();
        regs.rip = CODE;
        regs.rflags = 2;
        regs.rsp = 0x8000;
        vcpu.setRegs(regs);
    }

    /** Sets the hidden bases of ds, es and fs, so real-mode code reaches addresses above 1 MiB through them. */
    public void setSegmentBases(long ds, long es, long fs) throws SysException {
        KvmSregs sregs = vcpu.getSregs();
        sregs.ds.base = ds;
        sregs.es.base = es;
        sregs.fs.base = fs;
        vcpu.setSregs(sregs);
    }

    /** Puts {@code code} at {@code at} and points interrupt vector {@code vector} at it. */
    public void setHandler(int vector, int at, byte[] code) {
        memory.write(at, code, 0, code.length);
        setVector(vector, at);
    }

    /** Sets real-mode interrupt vector {@code vector} to {@code 0000:handler}. */
    public void setVector(int vector, int handler) {
        memory.putShort(vector * 4L, (short) handler);
        memory.putShort(vector * 4L + 2, (short) 0);
    }

    /** Runs the vCPU on its own thread until its next exit to this process. */
    public Future<VcpuExit> runAsync() {
        return runner.submit(vcpu::run);
    }

    /** Runs to the next exit, failing after {@code seconds}. */
    public VcpuExit runFor(int seconds) throws Exception {
        return runAsync().get(seconds, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        runner.shutdownNow();
        vcpu.close();
        vm.close();
        memory.close();
        kvm.close();
    }
}
