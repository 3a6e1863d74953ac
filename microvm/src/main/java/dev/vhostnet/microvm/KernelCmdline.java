package dev.vhostnet.microvm;

/** The guest kernel's command line this VMM boots with unless told otherwise. */
public final class KernelCmdline {
    /**
     * What boots nested under TCG (DESIGN.md, "Nested guests in the test VM"), plus: the console
     * on COM1, reboot through the i8042 reset line, and a reboot right after a panic, so that a
     * crashed guest ends the VM (a {@code poweroff -f} halts: see {@link VmExit.Reason#HALTED}); and
     * {@code pci=off}: there is no PCI bus yet, and probing one costs thousands of exits; {@code
     * nokaslr}: the kernel where its symbols say, so {@link MicroVm#vcpuSample()} names
     * the function a stalled guest is in. The tick is the local APIC timer in its one-shot mode
     * ({@link Cpuid} hides TSC-deadline): with {@code nolapic_timer} Linux 6.1 set up no clock event
     * device at all here ({@code /proc/timer_list}: "Clock Event Device: &lt;NULL&gt;", no IRQ 0), so
     * nothing that waits for a tick — RCU grace periods, {@code sleep} — ever ended.
     */
    public static final String DEFAULT =
            "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check tsc=reliable nokaslr";

    private KernelCmdline() {}
}
