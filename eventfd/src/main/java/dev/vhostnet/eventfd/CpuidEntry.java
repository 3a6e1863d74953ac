package dev.vhostnet.eventfd;

/**
 * One CPUID leaf as KVM reports and takes it ({@code struct kvm_cpuid_entry2}): {@code function}
 * (EAX in), {@code index} (ECX in, for leaves with {@code KVM_CPUID_FLAG_SIGNIFCANT_INDEX}), and
 * the four output registers.
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** This entry with new output registers. */
    public CpuidEntry withRegisters(int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, edx);
    }

    @Override
    public String toString() {
        return String.format("0x%x.%d: eax=%08x ebx=%08x ecx=%08x edx=%08x", function, index, eax, ebx, ecx, edx);
    }
}
