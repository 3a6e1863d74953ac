package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.eventfd.CpuidEntry;
import java.util.List;
import org.junit.jupiter.api.Test;

class CpuidTest {
    private static final int ALL = 0xffffffff;

    private static CpuidEntry leaf(List<CpuidEntry> entries, int function, int index) {
        return entries.stream()
                .filter(e -> e.function() == function && e.index() == index)
                .findFirst()
                .orElseThrow();
    }

    private final List<CpuidEntry> filtered = Cpuid.forVcpu(
            List.of(
                    new CpuidEntry(0x1, 0, 0, 0x00a00f11, ALL, ALL & ~Cpuid.HYPERVISOR, ALL),
                    new CpuidEntry(0x7, 0, 1, 0, ALL, ALL, ALL),
                    new CpuidEntry(0x7, 1, 1, ALL, 0, 0, 0),
                    new CpuidEntry(0xa, 0, 0, ALL, ALL, ALL, ALL),
                    new CpuidEntry(0xd, 1, 1, ALL, ALL, ALL, ALL),
                    new CpuidEntry(0x80000001, 0, 0, 0, 0, ALL, ALL),
                    new CpuidEntry(0x80000022, 0, 0, ALL, ALL, ALL, ALL),
                    new CpuidEntry(0x40000001, 0, 0, 0x1234, 0, 0, 0)),
            0,
            1);

    @Test
    void leafOneHasTheHypervisorBitAndNeitherXsaveNorAvxNorTscDeadlineNorPdcm() {
        CpuidEntry one = leaf(filtered, 1, 0);
        assertEquals(Cpuid.HYPERVISOR, one.ecx() & Cpuid.HYPERVISOR);
        for (int bit :
                new int[] {Cpuid.XSAVE, Cpuid.OSXSAVE, Cpuid.AVX, Cpuid.FMA, Cpuid.F16C, Cpuid.TSC_DEADLINE, Cpuid.PDCM
                }) {
            assertEquals(0, one.ecx() & bit, Integer.toHexString(bit));
        }
        assertEquals(0x00a00f11, one.eax(), "the family/model/stepping stay");
    }

    @Test
    void leafOneNamesTheVcpuItsCountAndTheClflushLine() {
        CpuidEntry one = leaf(filtered, 1, 0);
        assertEquals(0, one.ebx() >>> 24, "initial APIC id");
        assertEquals(1, (one.ebx() >>> 16) & 0xff, "logical processors");
        assertEquals(8, (one.ebx() >>> 8) & 0xff, "CLFLUSH line in 8-byte units");
        assertEquals(0, one.edx() & Cpuid.HTT, "one vCPU: no hyper-threading");
        CpuidEntry second = leaf(Cpuid.forVcpu(List.of(one), 1, 2), 1, 0);
        assertEquals(1, second.ebx() >>> 24);
        assertEquals(Cpuid.HTT, second.edx() & Cpuid.HTT);
    }

    @Test
    void avx2AndAvx512AreGone() {
        CpuidEntry seven = leaf(filtered, 7, 0);
        assertEquals(0, seven.ebx() & Cpuid.LEAF7_EBX_AVX);
        assertEquals(0, seven.ecx() & Cpuid.LEAF7_ECX_AVX);
        assertEquals(0, seven.edx() & Cpuid.LEAF7_EDX_AVX);
        assertEquals(ALL & ~Cpuid.LEAF7_EBX_AVX, seven.ebx(), "the other leaf 7 features stay");
        assertEquals(0, leaf(filtered, 7, 1).eax() & Cpuid.LEAF7_1_EAX_AVX);
    }

    @Test
    void thePmuAndXsaveLeavesAreEmpty() {
        for (CpuidEntry e : List.of(leaf(filtered, 0xa, 0), leaf(filtered, 0xd, 1), leaf(filtered, 0x80000022, 0))) {
            assertEquals(List.of(0, 0, 0, 0), List.of(e.eax(), e.ebx(), e.ecx(), e.edx()), e.toString());
        }
        CpuidEntry amd = leaf(filtered, 0x80000001, 0);
        assertEquals(0, amd.ecx() & (Cpuid.PERFCTR_CORE | Cpuid.XOP | Cpuid.FMA4));
    }

    @Test
    void otherLeavesPassThrough() {
        assertEquals(new CpuidEntry(0x40000001, 0, 0, 0x1234, 0, 0, 0), leaf(filtered, 0x40000001, 0));
    }
}
