package dev.vhostnet.microvm;

/** Why a {@link MicroVm} stopped, with what the vCPU loop knew ({@code detail}). */
public record VmExit(Reason reason, String detail) {
    /** The ways a guest ends. */
    public enum Reason {
        /** The guest pulsed the reset line through the i8042 ({@code reboot=k}, or {@code panic=} after {@code poweroff -f}). */
        RESET,
        /** The guest entered S5 through ACPI's sleep control register: Linux's {@code poweroff}. */
        POWEROFF,
        /** {@code KVM_EXIT_SHUTDOWN}: a triple fault, the last resort of a reboot. */
        SHUTDOWN,
        /** {@code KVM_EXIT_SYSTEM_EVENT}: a PSCI-style shutdown or reset request. */
        SYSTEM_EVENT,
        /** The vCPU halted with interrupts disabled, as Linux's {@code poweroff} ends without ACPI power-off; or a {@code hlt} exit reached this process. */
        HALTED,
        /** {@link MicroVm#close()} stopped it. */
        STOPPED,
        /** KVM could not run the vCPU ({@code FAIL_ENTRY}, {@code INTERNAL_ERROR}, a failed {@code KVM_RUN}). */
        FAILED
    }

    @Override
    public String toString() {
        return detail.isEmpty() ? reason.toString() : reason + ": " + detail;
    }
}
