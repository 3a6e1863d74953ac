package dev.vhostnet.eventfd;

import com.google.common.base.Preconditions;
import dev.vhostnet.sys.KvmUapi;

/**
 * One entry of {@code KVM_SET_GSI_ROUTING} ({@code struct kvm_irq_routing_entry}): a GSI routed
 * to an interrupt controller pin, or to an MSI message.
 */
public sealed interface GsiRoute {
    /** The global system interrupt number irqfds name. */
    int gsi();

    /** A GSI delivered to {@code pin} of the in-kernel PIC or IOAPIC. */
    record Irqchip(int gsi, int irqchip, int pin) implements GsiRoute {
        public Irqchip {
            Preconditions.checkArgument(gsi >= 0, "gsi must not be negative: %s", gsi);
            Preconditions.checkArgument(
                    irqchip >= KvmUapi.KVM_IRQCHIP_PIC_MASTER && irqchip <= KvmUapi.KVM_IRQCHIP_IOAPIC,
                    "irqchip must be KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or _IOAPIC: %s",
                    irqchip);
            Preconditions.checkArgument(
                    pin >= 0 && pin < (irqchip == KvmUapi.KVM_IRQCHIP_IOAPIC ? 24 : 8),
                    "pin %s does not exist on irqchip %s",
                    pin,
                    irqchip);
        }
    }

    /** A GSI delivered as the MSI message {@code address}/{@code data} (as an MSI-X table entry holds). */
    record Msi(int gsi, long address, int data) implements GsiRoute {
        public Msi {
            Preconditions.checkArgument(gsi >= 0, "gsi must not be negative: %s", gsi);
        }

        /** A fixed-delivery MSI to the local APIC of {@code apicId} with {@code vector} (x86 format). */
        public static Msi toApic(int gsi, int apicId, int vector) {
            Preconditions.checkArgument(vector >= 16 && vector < 256, "vector must be 16..255: %s", vector);
            return new Msi(gsi, 0xfee00000L | ((long) apicId << 12), vector);
        }
    }
}
