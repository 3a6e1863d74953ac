package dev.vhostnet.eventfd;

import com.google.common.base.Preconditions;
import com.sun.jna.Memory;
import dev.vhostnet.memtable.GuestRegion;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmIoeventfd;
import dev.vhostnet.sys.KvmUapi.KvmIrqLevel;
import dev.vhostnet.sys.KvmUapi.KvmIrqRouting;
import dev.vhostnet.sys.KvmUapi.KvmIrqRoutingEntry;
import dev.vhostnet.sys.KvmUapi.KvmIrqfd;
import dev.vhostnet.sys.KvmUapi.KvmPitConfig;
import dev.vhostnet.sys.KvmUapi.KvmReinjectControl;
import dev.vhostnet.sys.KvmUapi.KvmUserspaceMemoryRegion;
import dev.vhostnet.sys.SysException;
import java.util.List;
import java.util.OptionalLong;

/**
 * A KVM virtual machine ({@code KVM_CREATE_VM}): guest memory slots, the in-kernel interrupt
 * controller, and the two eventfd bridges that keep the virtio hot path out of this process —
 * {@code KVM_IOEVENTFD} (a guest doorbell write signals an eventfd) and {@code KVM_IRQFD} (a
 * signalled eventfd injects a guest interrupt).
 */
public final class KvmVm implements AutoCloseable {
    private final Kvm kvm;
    private final Fd fd;

    KvmVm(Kvm kvm, Fd fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    /** {@code KVM_CREATE_IRQCHIP}: the in-kernel PIC, IOAPIC and local APICs, with default GSI routes. */
    public void createIrqchip() throws SysException {
        fd.ioctl(KvmUapi.KVM_CREATE_IRQCHIP);
    }

    /**
     * {@code KVM_IRQ_LINE}: drives {@code gsi} to {@code level} now, on this thread (an irqfd is
     * edge-only and injected by a kernel worker). A device model whose interrupt is a level, as an
     * 8250's is, raises it while an interrupt is pending and lowers it when the guest acknowledges.
     */
    public void irqLine(int gsi, boolean level) throws SysException {
        KvmIrqLevel line = new KvmIrqLevel();
        line.irq = gsi;
        line.level = level ? 1 : 0;
        fd.ioctl(KvmUapi.KVM_IRQ_LINE, line);
    }

    /** {@code KVM_SET_TSS_ADDR}: three pages of guest-physical space Intel VMX needs for real mode. */
    public void setTssAddr(long gpa) throws SysException {
        fd.ioctl(KvmUapi.KVM_SET_TSS_ADDR, gpa);
    }

    /**
     * {@code KVM_SET_IDENTITY_MAP_ADDR}: one page of guest-physical space Intel VMX needs for an
     * identity page table in real mode; call before creating vCPUs.
     */
    public void setIdentityMapAddr(long gpa) throws SysException {
        Memory address = new Memory(8);
        address.setLong(0, gpa);
        fd.ioctl(KvmUapi.KVM_SET_IDENTITY_MAP_ADDR, address);
    }

    /**
     * {@code KVM_CREATE_PIT2}: the in-kernel i8254 timer on ports 0x40–0x43, driving GSI 0;
     * {@code flags} may be {@code KVM_PIT_SPEAKER_DUMMY}. Needs the irqchip first.
     */
    public void createPit2(int flags) throws SysException {
        KvmPitConfig config = new KvmPitConfig();
        config.flags = flags;
        fd.ioctl(KvmUapi.KVM_CREATE_PIT2, config);
    }

    /**
     * {@code KVM_REINJECT_CONTROL}: whether the PIT holds each tick back until the guest acknowledged
     * the one before (KVM's default) or ticks regardless (QEMU's {@code lost_tick_policy=discard}).
     */
    public void setPitReinject(boolean reinject) throws SysException {
        KvmReinjectControl control = new KvmReinjectControl();
        control.pit_reinject = (byte) (reinject ? 1 : 0);
        fd.ioctl(KvmUapi.KVM_REINJECT_CONTROL, control);
    }

    /** {@code KVM_SET_USER_MEMORY_REGION}: maps {@code size} bytes at {@code hva} into the guest at {@code gpa}. */
    public void setUserMemoryRegion(int slot, long gpa, long size, long hva) throws SysException {
        KvmUserspaceMemoryRegion region = new KvmUserspaceMemoryRegion();
        region.slot = slot;
        region.guest_phys_addr = gpa;
        region.memory_size = size;
        region.userspace_addr = hva;
        fd.ioctl(KvmUapi.KVM_SET_USER_MEMORY_REGION, region);
    }

    /** Registers every region of {@code memory} as the memslot of its slot number. */
    public void setMemoryTable(MemoryTable memory) throws SysException {
        for (GuestRegion r : memory.regions()) {
            setUserMemoryRegion(r.slot(), r.gpa(), r.size(), r.hva());
        }
    }

    /**
     * {@code KVM_IOEVENTFD}: guest writes to {@code at} (with value {@code datamatch}, when given)
     * signal {@code eventfd} inside the kernel, without an exit to this process. Closing the
     * returned registration deassigns it.
     */
    public Registration ioeventfd(EventFd eventfd, IoAddress at, OptionalLong datamatch) throws SysException {
        Preconditions.checkArgument(
                datamatch.isEmpty() || at.length() != 0,
                "a datamatch needs an access length of 1, 2, 4 or 8, not 0 (any)");
        KvmIoeventfd spec = ioeventfdSpec(eventfd, at, datamatch);
        fd.ioctl(KvmUapi.KVM_IOEVENTFD, spec);
        return new Registration("ioeventfd " + at, () -> {
            KvmIoeventfd deassign = ioeventfdSpec(eventfd, at, datamatch);
            deassign.flags |= KvmUapi.KVM_IOEVENTFD_FLAG_DEASSIGN;
            fd.ioctl(KvmUapi.KVM_IOEVENTFD, deassign);
        });
    }

    private static KvmIoeventfd ioeventfdSpec(EventFd eventfd, IoAddress at, OptionalLong datamatch) {
        KvmIoeventfd spec = new KvmIoeventfd();
        spec.addr = at.address();
        spec.len = at.length();
        spec.fd = eventfd.fd().get();
        spec.flags = at.space() == IoAddress.Space.PIO ? KvmUapi.KVM_IOEVENTFD_FLAG_PIO : 0;
        if (datamatch.isPresent()) {
            spec.flags |= KvmUapi.KVM_IOEVENTFD_FLAG_DATAMATCH;
            spec.datamatch = datamatch.getAsLong();
        }
        return spec;
    }

    /**
     * {@code KVM_IRQFD}: signalling {@code eventfd} injects {@code gsi} (edge) into the guest.
     * Closing the returned registration deassigns it.
     */
    public Registration irqfd(EventFd eventfd, int gsi) throws SysException {
        return irqfd(eventfd, gsi, null);
    }

    /**
     * {@code KVM_IRQFD} with {@code KVM_IRQFD_FLAG_RESAMPLE}: a level-triggered {@code gsi} that
     * stays asserted until the guest's EOI, which KVM reports by signalling {@code resample} — the
     * device then re-checks its state and signals {@code eventfd} again if still pending.
     */
    public Registration irqfd(EventFd eventfd, int gsi, EventFd resample) throws SysException {
        Preconditions.checkArgument(gsi >= 0, "gsi must not be negative: %s", gsi);
        KvmIrqfd spec = new KvmIrqfd();
        spec.fd = eventfd.fd().get();
        spec.gsi = gsi;
        if (resample != null) {
            spec.flags = KvmUapi.KVM_IRQFD_FLAG_RESAMPLE;
            spec.resamplefd = resample.fd().get();
        }
        fd.ioctl(KvmUapi.KVM_IRQFD, spec);
        return new Registration("irqfd gsi " + gsi, () -> {
            KvmIrqfd deassign = new KvmIrqfd();
            deassign.fd = spec.fd;
            deassign.gsi = gsi;
            deassign.flags = KvmUapi.KVM_IRQFD_FLAG_DEASSIGN;
            fd.ioctl(KvmUapi.KVM_IRQFD, deassign);
        });
    }

    /** {@code KVM_SET_GSI_ROUTING}: replaces the whole routing table (the defaults included) with {@code routes}. */
    public void setGsiRouting(List<GsiRoute> routes) throws SysException {
        Memory table = new Memory(KvmIrqRouting.SIZE + (long) KvmIrqRoutingEntry.SIZE * Math.max(1, routes.size()));
        table.clear();
        table.setInt(0, routes.size());
        for (int i = 0; i < routes.size(); i++) {
            KvmIrqRoutingEntry e =
                    new KvmIrqRoutingEntry(table.share(KvmIrqRouting.SIZE + (long) KvmIrqRoutingEntry.SIZE * i));
            GsiRoute route = routes.get(i);
            e.gsi = route.gsi();
            if (route instanceof GsiRoute.Irqchip chip) {
                e.type = KvmUapi.KVM_IRQ_ROUTING_IRQCHIP;
                e.putUnionWord(KvmUapi.KVM_IRQ_ROUTING_ENTRY_IRQCHIP, chip.irqchip());
                e.putUnionWord(KvmUapi.KVM_IRQ_ROUTING_ENTRY_PIN, chip.pin());
            } else if (route instanceof GsiRoute.Msi msi) {
                e.type = KvmUapi.KVM_IRQ_ROUTING_MSI;
                e.putUnionWord(KvmUapi.KVM_IRQ_ROUTING_ENTRY_MSI_ADDRESS_LO, (int) msi.address());
                e.putUnionWord(KvmUapi.KVM_IRQ_ROUTING_ENTRY_MSI_ADDRESS_HI, (int) (msi.address() >>> 32));
                e.putUnionWord(KvmUapi.KVM_IRQ_ROUTING_ENTRY_MSI_DATA, msi.data());
            }
            e.write();
        }
        fd.ioctl(KvmUapi.KVM_SET_GSI_ROUTING, table);
    }

    /** {@code KVM_CREATE_VCPU} with its {@code kvm_run} area mapped. */
    public KvmVcpu createVcpu(int id) throws SysException {
        int vcpu = fd.ioctl(KvmUapi.KVM_CREATE_VCPU, id);
        return KvmVcpu.create(Fd.adopt(vcpu, "kvm-vcpu-" + id), kvm.vcpuMmapSize());
    }

    /** The VM fd, to hand to another process or a vhost-user backend. */
    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }

    /** An ioeventfd or irqfd binding; {@link #close()} removes it (a no-op once the VM is closed). */
    public final class Registration implements AutoCloseable {
        private final String what;
        private final Deassign deassign;
        private boolean closed;

        private Registration(String what, Deassign deassign) {
            this.what = what;
            this.deassign = deassign;
        }

        /** Deassigns the binding. */
        @Override
        public synchronized void close() throws SysException {
            if (!closed && fd.isOpen()) {
                deassign.run();
            }
            closed = true;
        }

        @Override
        public String toString() {
            return what;
        }
    }

    @FunctionalInterface
    private interface Deassign {
        void run() throws SysException;
    }
}
