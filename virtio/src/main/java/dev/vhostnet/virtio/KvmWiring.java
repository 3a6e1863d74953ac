package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.GsiRoute;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.SysException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * {@link VmWiring} on a {@link KvmVm}. {@code KVM_SET_GSI_ROUTING} replaces the whole table, so one
 * instance serves every device of the VM and keeps the table: the VMM's fixed routes (the
 * irqchip pins its INTx and virtio-mmio GSIs use) plus one MSI route per GSI a transport asked for,
 * committed whole on each change (QEMU's {@code kvm_irqchip_update_msi_route} + {@code _commit_routes}).
 */
public final class KvmWiring implements VmWiring {
    private final KvmVm vm;
    private final List<GsiRoute> fixed;
    private final Map<Integer, GsiRoute.Msi> msi = new TreeMap<>();

    public KvmWiring(KvmVm vm, List<GsiRoute> fixedRoutes) {
        this.vm = vm;
        this.fixed = List.copyOf(fixedRoutes);
    }

    /**
     * The routes {@code KVM_CREATE_IRQCHIP} installs on x86: GSIs 0–15 to the PICs and the IOAPIC,
     * 16–23 to the IOAPIC alone (KVM's {@code default_routing}). A VMM that sets MSI routes must
     * keep these, or its INTx lines stop.
     */
    public static List<GsiRoute> irqchipDefaults() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < 24; gsi++) {
            if (gsi < 8) {
                routes.add(new GsiRoute.Irqchip(gsi, KvmUapi.KVM_IRQCHIP_PIC_MASTER, gsi));
            } else if (gsi < 16) {
                routes.add(new GsiRoute.Irqchip(gsi, KvmUapi.KVM_IRQCHIP_PIC_SLAVE, gsi - 8));
            }
            routes.add(new GsiRoute.Irqchip(gsi, KvmUapi.KVM_IRQCHIP_IOAPIC, gsi));
        }
        return routes;
    }

    @Override
    public Binding ioeventfd(EventFd fd, IoAddress at, OptionalLong datamatch) throws SysException {
        return vm.ioeventfd(fd, at, datamatch)::close;
    }

    @Override
    public Binding irqfd(EventFd fd, int gsi) throws SysException {
        return vm.irqfd(fd, gsi)::close;
    }

    @Override
    public synchronized void routeMsi(int gsi, long address, int data) throws SysException {
        GsiRoute.Msi route = new GsiRoute.Msi(gsi, address, data);
        if (route.equals(msi.get(gsi))) {
            return;
        }
        GsiRoute.Msi before = msi.put(gsi, route);
        List<GsiRoute> table = new ArrayList<>(fixed);
        table.addAll(msi.values());
        try {
            vm.setGsiRouting(table);
        } catch (SysException | RuntimeException e) {
            if (before == null) {
                msi.remove(gsi);
            } else {
                msi.put(gsi, before);
            }
            throw e;
        }
    }
}
