package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.GsiRoute;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.sys.KvmUapi;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PcIrqRoutingTest {
    private static final int PIC_MASTER = KvmUapi.KVM_IRQCHIP_PIC_MASTER;
    private static final int PIC_SLAVE = KvmUapi.KVM_IRQCHIP_PIC_SLAVE;
    private static final int IOAPIC = KvmUapi.KVM_IRQCHIP_IOAPIC;

    @Test
    void thePitsGsiReachesTheIoApicPinTheMadtNamesForIrq0() {
        assertEquals(
                Set.of(new GsiRoute.Irqchip(0, PIC_MASTER, 0), new GsiRoute.Irqchip(0, IOAPIC, 2)),
                routesOf(0),
                "GSI 0 (the PIT): the master PIC's pin 0 and the I/O APIC's pin 2");
        assertEquals(Set.of(), routesOf(2), "GSI 2 is the PICs' cascade: nothing raises it");
        assertEquals(
                Set.of(new GsiRoute.Irqchip(4, PIC_MASTER, 4), new GsiRoute.Irqchip(4, IOAPIC, 4)),
                routesOf(Layout.COM1_IRQ),
                "COM1");
        assertEquals(
                Set.of(new GsiRoute.Irqchip(12, PIC_SLAVE, 4), new GsiRoute.Irqchip(12, IOAPIC, 12)), routesOf(12));
        for (int gsi = 16; gsi <= Layout.LAST_IRQ; gsi++) {
            assertEquals(Set.of(new GsiRoute.Irqchip(gsi, IOAPIC, gsi)), routesOf(gsi), "GSI " + gsi);
        }
        List<Integer> pins = PcIrqRouting.routes().stream()
                .map(GsiRoute.Irqchip.class::cast)
                .filter(r -> r.irqchip() == IOAPIC)
                .map(GsiRoute.Irqchip::pin)
                .sorted()
                .toList();
        assertEquals(Layout.LAST_IRQ, pins.size(), "every I/O APIC pin but 0 is raised by exactly one GSI");
        assertEquals(pins.stream().distinct().count(), pins.size());
    }

    @Test
    void kvmTakesTheTable() throws Exception {
        String cause = Kvm.unavailabilityCause();
        assumeTrue(cause == null, () -> "needs /dev/kvm: " + cause);
        try (Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            vm.setGsiRouting(PcIrqRouting.routes());
            vm.irqLine(0, true);
            vm.irqLine(0, false);
        }
    }

    private static Set<GsiRoute> routesOf(int gsi) {
        return PcIrqRouting.routes().stream().filter(r -> r.gsi() == gsi).collect(Collectors.toSet());
    }
}
