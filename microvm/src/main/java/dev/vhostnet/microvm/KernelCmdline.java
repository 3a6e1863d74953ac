package dev.vhostnet.microvm;

/** The guest kernel's command line this VMM boots with unless told otherwise. */
public final class KernelCmdline {
    /**
     * What boots nested under TCG (DESIGN.md, "Nested guests in the test VM"), plus: the console
     * on COM1, reboot through the i8042 reset line, and a reboot right after a panic, so that a
     * crashed guest ends the VM (a {@code poweroff -f} halts: see {@link VmExit.Reason#HALTED}); and
     * {@code pci=off}: there is no PCI bus yet, and probing one costs thousands of exits; {@code
     * nokaslr}: the kernel where its symbols say, so {@link MicroVm#vcpuSample()} names
     * the function a stalled guest is in.
     */
    public static final String DEFAULT =
            "console=ttyS0 reboot=k panic=-1 pci=off quiet no_timer_check tsc=reliable nolapic_timer nokaslr";

    private KernelCmdline() {}
}
