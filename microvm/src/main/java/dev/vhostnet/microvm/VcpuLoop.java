package dev.vhostnet.microvm;

import dev.vhostnet.eventfd.KvmVcpu;
import dev.vhostnet.eventfd.VcpuExit;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmRegs;
import dev.vhostnet.sys.SignalUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import java.util.BitSet;
import java.util.OptionalLong;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One vCPU's {@code KVM_RUN} loop (Firecracker {@code vstate/vcpu.rs}, {@code run_emulation}):
 * port exits to the port {@link Bus}, MMIO exits to the MMIO bus, the exits that end a guest end
 * the loop, and every other exit is counted and run past. To stop it from another thread,
 * {@link #stop} sets {@code immediate_exit} and sends the thread {@code SIGURG}, which makes a
 * {@code KVM_RUN} in progress return {@code EINTR} (a handler that does nothing is installed once:
 * the signal's default, ignore, would not interrupt it).
 *
 * <p>With the in-kernel irqchip a {@code hlt} never reaches this process, so a guest that halts
 * for good — Linux's {@code poweroff} without ACPI becomes a halt: {@code cli; hlt} forever — would
 * look alive. {@link #kick} (once a second, from {@link MicroVm}) brings the vCPU out; a vCPU found
 * halted with interrupts disabled has ended.
 */
final class VcpuLoop implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(VcpuLoop.class);

    static {
        try {
            Syscalls.interruptWith(SignalUapi.SIGURG);
        } catch (SysException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final long RFLAGS_IF = 1 << 9;
    /** x86-64's kernel text and modules ({@code Documentation/x86/x86_64/mm.rst}): where return addresses point. */
    private static final long KERNEL_TEXT = 0xffffffff80000000L;

    private static final long KERNEL_TEXT_END = 0xffffffffff000000L;
    /** How many words above RSP {@link #sample} looks at. */
    private static final int STACK_WORDS = 64;

    private static final long PAGE = 4096;

    private final KvmVcpu vcpu;
    private final MemoryTable memory;
    private final Bus io;
    private final Bus mmio;
    private final ExitCounters counters;
    private final boolean redeliverLost;
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();
    private volatile int tid;
    private volatile String lastSample = "not sampled yet";
    /** The vectors in service at the last kick that found the vCPU idle (halted, interrupts on). */
    private BitSet idleInService = new BitSet();
    /** Kicks in a row that found the vCPU idle with nothing in service. */
    private int idleKicks;
    /** Raises the devices' interrupts once ({@link MicroVm}: each virtio-mmio transport's GSI). */
    private volatile Runnable raiseDeviceInterrupts = () -> {};

    VcpuLoop(KvmVcpu vcpu, MemoryTable memory, Bus io, Bus mmio, ExitCounters counters, boolean redeliverLost) {
        this.vcpu = vcpu;
        this.memory = memory;
        this.io = io;
        this.mmio = mmio;
        this.counters = counters;
        this.redeliverLost = redeliverLost;
    }

    /** What {@link #recoverLostInterrupts} raises when the vCPU idles: set once the devices exist. */
    void raiseDeviceInterruptsWith(Runnable raise) {
        this.raiseDeviceInterrupts = raise;
    }

    /** Completes when the loop ends. */
    CompletableFuture<VmExit> exit() {
        return exit;
    }

    /** Ends the loop with {@code why} (a device asking, or {@link MicroVm#close()}); safe from any thread. */
    void stop(VmExit why) {
        if (!exit.complete(why)) {
            return;
        }
        vcpu.setImmediateExit(true);
        int t = tid;
        if (t != 0) {
            try {
                Syscalls.tgkill(t, SignalUapi.SIGURG);
            } catch (SysException e) {
                log.debug("stopping vCPU thread {}: {}", t, e.getMessage());
            }
        }
    }

    /** Makes a {@code KVM_RUN} in progress return, so the loop looks at the vCPU's state. */
    void kick() {
        int t = tid;
        if (t != 0 && !exit.isDone()) {
            try {
                Syscalls.tgkill(t, SignalUapi.SIGURG);
            } catch (SysException e) {
                log.debug("kicking vCPU thread {}: {}", t, e.getMessage());
            }
        }
    }

    @Override
    public void run() {
        tid = Syscalls.gettid();
        try {
            while (!exit.isDone()) {
                VmExit end = handle(vcpu.run());
                if (end != null) {
                    exit.complete(end);
                }
            }
        } catch (SysException | RuntimeException e) {
            log.warn("vCPU loop failed", e);
            exit.complete(new VmExit(VmExit.Reason.FAILED, e.toString()));
        } finally {
            tid = 0;
        }
    }

    /** Serves one exit; returns why the guest ended, or null to run on. */
    private VmExit handle(VcpuExit e) {
        counters.exit(reasonName(e.reason()));
        switch (e.reason()) {
            case KvmUapi.KVM_EXIT_IO -> access(io, e);
            case KvmUapi.KVM_EXIT_MMIO -> access(mmio, e);
            case KvmUapi.KVM_EXIT_INTR -> {
                Kick kick = readAtKick();
                if (kick == null) {
                    return null;
                }
                sample(kick);
                if (redeliverLost) {
                    recoverLostInterrupts(kick);
                }
                if (kick.halted() && (kick.regs().rflags & RFLAGS_IF) == 0) {
                    return new VmExit(VmExit.Reason.HALTED, "hlt with interrupts disabled");
                }
            }
            case KvmUapi.KVM_EXIT_HLT -> {
                return new VmExit(VmExit.Reason.HALTED, "");
            }
            case KvmUapi.KVM_EXIT_SHUTDOWN -> {
                return new VmExit(VmExit.Reason.SHUTDOWN, "triple fault or reset");
            }
            case KvmUapi.KVM_EXIT_SYSTEM_EVENT -> {
                return new VmExit(VmExit.Reason.SYSTEM_EVENT, "");
            }
            case KvmUapi.KVM_EXIT_FAIL_ENTRY, KvmUapi.KVM_EXIT_INTERNAL_ERROR -> {
                return new VmExit(VmExit.Reason.FAILED, e + " at " + instructionPointer());
            }
            default -> {}
        }
        return null;
    }

    private void access(Bus bus, VcpuExit e) {
        byte[] data = new byte[e.size()];
        if (e.write()) {
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (e.data() >>> (8 * i));
            }
            bus.write(e.address(), data);
        } else {
            bus.read(e.address(), data);
            long value = 0;
            for (int i = data.length - 1; i >= 0; i--) {
                value = (value << 8) | (data[i] & 0xff);
            }
            vcpu.completeRead(e, value);
        }
    }

    /**
     * The vCPU's state at a once-a-second kick, read once for the sample, the recovery and the
     * halted-for-good check (halted with {@code RFLAGS.IF} clear: no interrupt can wake it; an NMI
     * could, but Linux's halt does not expect one).
     */
    private record Kick(KvmRegs regs, int mpState, LocalApic apic) {
        boolean halted() {
            return mpState == KvmUapi.KVM_MP_STATE_HALTED;
        }
    }

    /** The state at this kick, or null (the sample says why) when KVM would not give it. */
    private Kick readAtKick() {
        try {
            return new Kick(vcpu.getRegs(), vcpu.getMpState(), new LocalApic(vcpu.getLapic()));
        } catch (SysException e) {
            lastSample = "unreadable: " + e.getMessage();
            return null;
        }
    }

    /**
     * Where the vCPU was at a once-a-second kick: what a stalled guest is doing, its local APIC
     * included, and the kernel addresses on its stack — the return addresses a backtrace would
     * name, as Linux's own oops prints them ({@code show_trace_log_lvl}: every kernel-text word).
     */
    private void sample(Kick kick) {
        try {
            lastSample = String.format(
                    "rip 0x%x rflags 0x%x rsp 0x%x mp_state %d %s stack [%s]",
                    kick.regs().rip,
                    kick.regs().rflags,
                    kick.regs().rsp,
                    kick.mpState(),
                    kick.apic(),
                    kernelWordsAbove(kick.regs().rsp));
        } catch (SysException e) {
            lastSample = "unreadable: " + e.getMessage();
        }
    }

    /** The words in kernel text among the {@link #STACK_WORDS} from {@code rsp} up, through the guest's page tables. */
    private String kernelWordsAbove(long rsp) throws SysException {
        StringJoiner words = new StringJoiner(" ");
        long page = -1;
        OptionalLong frame = OptionalLong.empty();
        for (long gva = rsp & ~7L, end = gva + 8L * STACK_WORDS; Long.compareUnsigned(gva, end) < 0; gva += 8) {
            if ((gva & -PAGE) != page) {
                page = gva & -PAGE;
                frame = vcpu.translate(page);
            }
            long gpa = frame.orElse(-1) + (gva & (PAGE - 1));
            if (frame.isEmpty() || !memory.contains(gpa, 8)) {
                break;
            }
            long word = memory.getLong(gpa);
            if (Long.compareUnsigned(word, KERNEL_TEXT) >= 0 && Long.compareUnsigned(word, KERNEL_TEXT_END) < 0) {
                words.add("0x" + Long.toHexString(word));
            }
        }
        return words.toString();
    }

    /**
     * A vCPU halted with interrupts enabled is in Linux's idle loop, where no interrupt handler is
     * running; a vector still in service there was accepted by the local APIC but its handler never
     * ran — an injection the platform lost (nested KVM under TCG does: microvm/README.md). Until
     * the guest's {@code EOI} that never comes, it blocks every vector of its priority class and
     * below: the timer, the NIC. Seen at two kicks in a row, the highest such vector goes back to
     * requested ({@code KVM_SET_LAPIC}) and KVM delivers it again. An interrupt lost before the
     * local APIC leaves no trace there: a vCPU idle at two kicks in a row with nothing in service
     * gets each device's interrupt raised once — spurious if nothing was lost, which a virtio
     * driver takes (it looks at its rings and finds nothing). Both are counted.
     */
    private void recoverLostInterrupts(Kick kick) {
        try {
            boolean idle = kick.halted() && (kick.regs().rflags & RFLAGS_IF) != 0;
            LocalApic apic = kick.apic();
            BitSet inService = idle ? apic.inService() : new BitSet();
            if (!inService.isEmpty() && inService.equals(idleInService)) {
                int vector = inService.length() - 1;
                vcpu.setLapic(apic.redelivered(vector));
                counters.redelivered(vector);
                log.warn(
                        "vector 0x{} was in service while the vCPU idled: delivered again",
                        Integer.toHexString(vector));
                inService = new BitSet();
            }
            idleInService = inService;
            idleKicks = idle && apic.inService().isEmpty() ? idleKicks + 1 : 0;
            if (idleKicks >= 2) {
                idleKicks = 0;
                raiseDeviceInterrupts.run();
                counters.raisedWhileIdle();
            }
        } catch (SysException e) {
            log.debug("setting the local APIC: {}", e.getMessage());
        }
    }

    /** The vCPU's state at the last once-a-second kick (RIP, RFLAGS, RSP, MP state). */
    String lastSample() {
        return lastSample;
    }

    private String instructionPointer() {
        try {
            return "rip 0x" + Long.toHexString(vcpu.getRegs().rip);
        } catch (SysException e) {
            return "rip unknown (" + e.getMessage() + ")";
        }
    }

    private static String reasonName(int reason) {
        return switch (reason) {
            case KvmUapi.KVM_EXIT_IO -> "IO";
            case KvmUapi.KVM_EXIT_MMIO -> "MMIO";
            case KvmUapi.KVM_EXIT_INTR -> "INTR";
            case KvmUapi.KVM_EXIT_HLT -> "HLT";
            case KvmUapi.KVM_EXIT_SHUTDOWN -> "SHUTDOWN";
            case KvmUapi.KVM_EXIT_SYSTEM_EVENT -> "SYSTEM_EVENT";
            case KvmUapi.KVM_EXIT_FAIL_ENTRY -> "FAIL_ENTRY";
            case KvmUapi.KVM_EXIT_INTERNAL_ERROR -> "INTERNAL_ERROR";
            default -> "reason " + reason;
        };
    }
}
