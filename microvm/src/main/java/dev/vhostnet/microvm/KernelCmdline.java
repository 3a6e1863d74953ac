package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;

/** Pieces of the guest kernel's command line this VMM writes for the devices it gives the guest. */
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

    /**
     * {@code virtio_mmio.device=<size>@<base>:<irq>}: how Linux's {@code virtio_mmio} driver learns
     * of a device on a machine without a device tree or ACPI
     * ({@code drivers/virtio/virtio_mmio.c}, {@code vm_cmdline_set}).
     */
    public static String virtioMmioDevice(long size, long base, int irq) {
        Preconditions.checkArgument(
                size > 0 && base >= 0 && irq > 0, "bad virtio-mmio device %s@%s:%s", size, base, irq);
        String sizeText = size % 1024 == 0 ? (size / 1024) + "K" : Long.toString(size);
        return String.format("virtio_mmio.device=%s@0x%x:%d", sizeText, base, irq);
    }
}
