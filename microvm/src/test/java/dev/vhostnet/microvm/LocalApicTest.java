package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVcpu;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.sys.KvmUapi;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

class LocalApicTest {
    /** Vector 0x31 lives in the second 32-bit register of each bank (offset 0x10), bit 17. */
    @Test
    void vectorsAreReadAndMovedAtTheKernelsOffsets() {
        byte[] page = new byte[KvmUapi.KVM_APIC_REG_SIZE];
        page[LocalApic.APIC_ISR + 0x10 + 2] = 0x02;
        page[LocalApic.APIC_TASKPRI] = 0x20;
        LocalApic apic = new LocalApic(page);
        assertEquals(BitSet.valueOf(new long[] {1L << 49}), apic.inService());
        assertEquals(new BitSet(), apic.requested());
        assertEquals("isr [0x31] irr [] tpr 0x20", apic.toString());

        LocalApic moved = new LocalApic(apic.redelivered(0x31));
        assertEquals(new BitSet(), moved.inService());
        assertEquals(BitSet.valueOf(new long[] {1L << 49}), moved.requested());
        assertEquals(0x02, moved.redelivered(0x31)[LocalApic.APIC_IRR + 0x10 + 2]);
    }

    /** KVM takes the page back: a vector moved to IRR reads back there, out of ISR. */
    @Test
    void kvmKeepsTheRedeliveredPage() throws Exception {
        String cause = Kvm.unavailabilityCause();
        assumeTrue(cause == null, () -> "needs /dev/kvm: " + cause);
        try (Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                byte[] page = vcpu.getLapic();
                page[LocalApic.APIC_ISR + 0x10 + 2] |= 0x02;
                vcpu.setLapic(page);
                assertEquals("[0x31]", hex(new LocalApic(vcpu.getLapic()).inService()));
                vcpu.setLapic(new LocalApic(vcpu.getLapic()).redelivered(0x31));
                LocalApic after = new LocalApic(vcpu.getLapic());
                assertEquals(new BitSet(), after.inService());
                assertEquals(BitSet.valueOf(new long[] {1L << 49}), after.requested());
            }
        }
    }

    private static String hex(BitSet set) {
        return set.stream().mapToObj(v -> String.format("0x%02x", v)).toList().toString();
    }
}
