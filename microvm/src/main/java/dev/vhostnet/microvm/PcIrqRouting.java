package dev.vhostnet.microvm;

import dev.vhostnet.eventfd.GsiRoute;
import dev.vhostnet.sys.KvmUapi;
import java.util.ArrayList;
import java.util.List;

/**
 * The PC's wiring of GSIs to the in-kernel 8259s and I/O APIC, as QEMU's {@code
 * kvm_pc_setup_irq_routing} sets it ({@code hw/i386/kvm/ioapic.c}): ISA IRQs 0-15 on the PICs (2 is
 * the cascade), GSI 0 — where KVM's PIT raises its tick ({@code arch/x86/kvm/i8254.c}) — on I/O
 * APIC pin 2, and every other GSI on its own pin. KVM's default table ({@code
 * kvm_setup_default_irq_routing}) puts GSI 0 on pin 0, while the MADT's interrupt source override,
 * which PC firmware has, tells the guest the timer is on pin 2: a guest ticking on the PIT through
 * the I/O APIC would wait on a pin nothing raises.
 */
final class PcIrqRouting {
    /** The I/O APIC pin of ISA IRQ 0, which the MADT's override names. */
    static final int TIMER_PIN = 2;
    /** The master PIC's input the slave's output drives: no device raises it. */
    private static final int CASCADE = 2;
    /** The ISA IRQs, which the two PICs take 8 each. */
    private static final int ISA_IRQS = 16;

    private PcIrqRouting() {}

    static List<GsiRoute> routes() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < ISA_IRQS; gsi++) {
            if (gsi != CASCADE) {
                routes.add(new GsiRoute.Irqchip(
                        gsi, gsi < 8 ? KvmUapi.KVM_IRQCHIP_PIC_MASTER : KvmUapi.KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
            }
        }
        for (int gsi = 0; gsi <= Layout.LAST_IRQ; gsi++) {
            if (gsi != TIMER_PIN) {
                routes.add(new GsiRoute.Irqchip(gsi, KvmUapi.KVM_IRQCHIP_IOAPIC, gsi == 0 ? TIMER_PIN : gsi));
            }
        }
        return routes;
    }
}
