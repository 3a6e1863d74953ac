package dev.vhostnet.microvm;

/**
 * Where the boot structures and devices sit in guest-physical and port space (Firecracker
 * {@code arch/x86_64/layout.rs}): everything the boot writes lives below 1 MiB, the kernel from
 * 1 MiB, RAM ends below the 32-bit MMIO gap.
 */
final class Layout {
    private Layout() {}

    static final long GDT = 0x500;
    static final long IDT = 0x520;
    static final long ZERO_PAGE = 0x7000;
    static final long BOOT_STACK = 0x8ff0;
    static final long PML4 = 0x9000;
    static final long PDPT = 0xa000;
    static final long PD = 0xb000;
    static final long CMDLINE = 0x20000;
    /** The Extended BIOS Data Area: RAM below it, the legacy hole from it to 1 MiB. */
    static final long EBDA = 0x9fc00;

    static final long HIMEM = 0x100000;
    /** Three pages KVM needs for the TSS of real-mode emulation on Intel, and the page before them for its identity map. */
    static final long KVM_TSS = 0xfffbd000L;

    static final long KVM_IDENTITY_MAP = 0xfffbc000L;
    /** RAM stops here: from it up to 4 GiB is MMIO (virtio-mmio devices, the IOAPIC, the LAPIC). */
    static final long MMIO_GAP = 0xc0000000L;
    /** Where virtio-mmio devices go, one {@code VirtioMmioTransport.SIZE} slot each. */
    static final long VIRTIO_MMIO_BASE = 0xd0000000L;
    /** The first GSI for virtio-mmio devices: 0–4 are the PIT, keyboard, cascade, COM2 and COM1. */
    static final int VIRTIO_MMIO_FIRST_IRQ = 5;
    /** The last IOAPIC pin. */
    static final int LAST_IRQ = 23;

    static final int COM1 = 0x3f8;
    static final int COM1_IRQ = 4;
    static final int I8042_COMMAND = 0x64;
    static final int CMOS = 0x70;
    /** The hardware-reduced ACPI sleep control and status register (Cloud Hypervisor's port). */
    static final int ACPI_SLEEP = 0x3c0;
}
