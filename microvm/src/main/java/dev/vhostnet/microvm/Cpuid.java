package dev.vhostnet.microvm;

import dev.vhostnet.eventfd.CpuidEntry;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID a vCPU reports: KVM's supported leaves ({@code KVM_GET_SUPPORTED_CPUID}) normalized
 * as Firecracker's {@code cpu_config/x86_64/cpuid/normalize.rs} does for leaf 1 (APIC id, CLFLUSH
 * size, logical CPU count, the hypervisor bit), then with what nested KVM under TCG cannot run
 * taken out — QEMU's {@code -cpu host,pmu=off,-xsave,-xsaveopt,-xsavec,-xsaves,-avx,-avx2,-tsc-deadline},
 * the recipe that boots there (DESIGN.md, "Nested guests in the test VM"): no XSAVE family (leaf
 * 0xd emptied), no AVX and nothing that needs it (AVX2, AVX-512, FMA, F16C, XOP, FMA4, VAES,
 * VPCLMULQDQ), no TSC-deadline timer, and no PMU (leaf 0xa and 0x80000022 emptied, PDCM and AMD's
 * PERFCTR_CORE cleared).
 */
final class Cpuid {
    private static final int LEAF_FEATURES = 0x1;
    private static final int LEAF_EXTENDED_FEATURES = 0x7;
    private static final int LEAF_PMU = 0xa;
    private static final int LEAF_XSAVE = 0xd;
    private static final int LEAF_AMD_FEATURES = 0x80000001;
    private static final int LEAF_AMD_PMU_V2 = 0x80000022;

    // Leaf 1 ECX
    static final int FMA = 1 << 12;
    static final int PDCM = 1 << 15;
    static final int TSC_DEADLINE = 1 << 24;
    static final int XSAVE = 1 << 26;
    static final int OSXSAVE = 1 << 27;
    static final int AVX = 1 << 28;
    static final int F16C = 1 << 29;
    static final int HYPERVISOR = 1 << 31;
    // Leaf 1 EDX
    static final int HTT = 1 << 28;
    // Leaf 7.0 EBX: AVX2 and the AVX-512 foundation, DQ, IFMA, PF, ER, CD, BW, VL
    static final int LEAF7_EBX_AVX =
            1 << 5 | 1 << 16 | 1 << 17 | 1 << 21 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 30 | 1 << 31;
    // Leaf 7.0 ECX: AVX-512 VBMI, VBMI2, VAES, VPCLMULQDQ, VNNI, BITALG, VPOPCNTDQ
    static final int LEAF7_ECX_AVX = 1 << 1 | 1 << 6 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 14;
    // Leaf 7.0 EDX: AVX-512 4VNNIW, 4FMAPS, VP2INTERSECT, FP16
    static final int LEAF7_EDX_AVX = 1 << 2 | 1 << 3 | 1 << 8 | 1 << 23;
    // Leaf 7.1 EAX: AVX-VNNI, AVX-512 BF16
    static final int LEAF7_1_EAX_AVX = 1 << 4 | 1 << 5;
    // Leaf 0x80000001 ECX
    static final int XOP = 1 << 11;
    static final int FMA4 = 1 << 16;
    static final int PERFCTR_CORE = 1 << 23;

    private Cpuid() {}

    /** The leaves vCPU {@code id} of {@code count} reports, from what KVM supports. */
    static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int id, int count) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(filter(e, id, count));
        }
        return out;
    }

    private static CpuidEntry filter(CpuidEntry e, int id, int count) {
        return switch (e.function()) {
            case LEAF_FEATURES ->
                e.withRegisters(
                        e.eax(),
                        (e.ebx() & 0x000000ff) | id << 24 | count << 16 | 8 << 8,
                        (e.ecx() & ~(FMA | PDCM | TSC_DEADLINE | XSAVE | OSXSAVE | AVX | F16C)) | HYPERVISOR,
                        count > 1 ? e.edx() | HTT : e.edx() & ~HTT);
            case LEAF_EXTENDED_FEATURES ->
                e.index() == 0
                        ? e.withRegisters(
                                e.eax(), e.ebx() & ~LEAF7_EBX_AVX, e.ecx() & ~LEAF7_ECX_AVX, e.edx() & ~LEAF7_EDX_AVX)
                        : e.index() == 1 ? e.withRegisters(e.eax() & ~LEAF7_1_EAX_AVX, e.ebx(), e.ecx(), e.edx()) : e;
            case LEAF_PMU, LEAF_XSAVE, LEAF_AMD_PMU_V2 -> e.withRegisters(0, 0, 0, 0);
            case LEAF_AMD_FEATURES ->
                e.withRegisters(e.eax(), e.ebx(), e.ecx() & ~(XOP | FMA4 | PERFCTR_CORE), e.edx());
            default -> e;
        };
    }
}
