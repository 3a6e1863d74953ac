package dev.vhostnet.microvm;

/**
 * The sleep control and status registers of hardware-reduced ACPI (ACPI 6.5 §4.8.3.7), one I/O
 * port named by the FADT's {@code SLEEP_CONTROL_REG} and {@code SLEEP_STATUS_REG} (Cloud
 * Hypervisor's {@code devices/src/acpi.rs AcpiShutdownDevice}). Linux's {@code poweroff} ends in
 * {@code acpi_hw_extended_sleep}: it clears {@code WAK_STS} in the status register, then writes
 * {@code SLP_TYPx} of {@code \_S5_} (5) with {@code SLP_EN} to the control register — here, stop
 * the VM. Other values, the status clear among them, are taken and ignored; reads give 0.
 */
final class AcpiSleepControl implements BusDevice {
    /** {@code ACPI_X_SLEEP_ENABLE}, {@code ACPI_X_SLEEP_TYPE_MASK/POSITION} in ACPICA's {@code actbl.h}. */
    static final int SLP_EN = 0x20;

    static final int SLP_TYP_SHIFT = 2;
    static final int SLP_TYP_MASK = 0x1c;
    /** The sleep type {@link Acpi}'s {@code \_S5_} gives S5 (soft off). */
    static final int S5 = 5;

    private final Runnable powerOff;

    AcpiSleepControl(Runnable powerOff) {
        this.powerOff = powerOff;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
    }

    @Override
    public void write(long offset, byte[] data) {
        int value = data[0] & 0xff;
        if ((value & SLP_EN) != 0 && (value & SLP_TYP_MASK) >> SLP_TYP_SHIFT == S5) {
            powerOff.run();
        }
    }
}
