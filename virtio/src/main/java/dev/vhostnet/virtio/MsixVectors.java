package dev.vhostnet.virtio;

import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_CTRL_MASKBIT;
import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_DATA;
import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_LOWER_ADDR;
import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_SIZE;
import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_UPPER_ADDR;
import static dev.vhostnet.sys.PciUapi.PCI_MSIX_ENTRY_VECTOR_CTRL;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.SysException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The MSI-X table and pending bit array of a virtio-pci function, and where each interrupt
 * notifier (a queue's call fd, the configuration notifier) goes: while its vector is enabled and
 * unmasked, a KVM irqfd on the vector's GSI, whose MSI route carries the table entry's
 * address/data; otherwise the {@link MaskedNotifierWatcher}, which sets the vector's pending bit
 * (or, with MSI-X off, the ISR bit and the INTx notifier). On unmask the route is updated if the
 * guest rewrote the message, the irqfd assigned, and a pending interrupt delivered once by
 * signalling the notifier — QEMU's {@code virtio_pci_vq_vector_unmask}, with
 * {@code msix_handle_mask_update}'s one delivery of a pending vector. Every method runs under the
 * transport's lock.
 */
final class MsixVectors implements AutoCloseable {
    private final int count;
    private final int gsiBase;
    private final VmWiring wiring;
    private final DeviceState state;
    private final TransportCounters counters;
    private final EventFd intx;
    private final long[] address;
    private final int[] data;
    private final boolean[] masked;
    private final long[] pending;
    private final GsiMessage[] routed;
    private final Map<EventFd, Wired> notifiers = new LinkedHashMap<>();
    private final MaskedNotifierWatcher watcher;
    private boolean enabled;
    private boolean functionMasked;
    private int configVector = QueueConfig.NO_VECTOR;

    private record GsiMessage(long address, int data) {}

    /** A notifier and its irqfd, when it has one. */
    private static final class Wired {
        final int queue;
        VmWiring.Binding irqfd;
        int gsi;

        Wired(int queue) {
            this.queue = queue;
        }
    }

    MsixVectors(int count, int gsiBase, VmWiring wiring, DeviceState state, EventFd intx, String name)
            throws SysException {
        this.count = count;
        this.gsiBase = gsiBase;
        this.wiring = wiring;
        this.state = state;
        this.counters = state.counters;
        this.intx = intx;
        address = new long[count];
        data = new int[count];
        masked = new boolean[count];
        pending = new long[(count + 63) / 64];
        routed = new GsiMessage[count];
        Arrays.fill(masked, true);
        for (int q = 0; q < state.queueCount(); q++) {
            notifiers.put(state.call(q), new Wired(q));
        }
        notifiers.put(state.configNotifier(), new Wired(-1));
        watcher = new MaskedNotifierWatcher(state, this::signalledWhileMasked, counters, name);
        notifiers.keySet().forEach(watcher::watch);
    }

    int count() {
        return count;
    }

    /** Bytes of pending bit array: one bit a vector, in 64-bit words. */
    int pbaBytes() {
        return pending.length * 8;
    }

    int gsi(int vector) {
        return gsiBase + vector;
    }

    boolean isValid(int vector) {
        return vector >= 0 && vector < count;
    }

    int configVector() {
        return configVector;
    }

    void setConfigVector(int vector) {
        configVector = isValid(vector) ? vector : QueueConfig.NO_VECTOR;
        reconcile();
    }

    boolean isPending(int vector) {
        return (pending[vector / 64] & (1L << (vector % 64))) != 0;
    }

    // ---- the guest's view: control bits, table, PBA ----

    void setControl(boolean enable, boolean maskAll) {
        enabled = enable;
        functionMasked = maskAll;
        reconcile();
    }

    /** Reads {@code data.length} (4 or 8) bytes at {@code offset} of the table. */
    void readTable(int offset, byte[] out) {
        int vector = offset / PCI_MSIX_ENTRY_SIZE;
        int field = offset % PCI_MSIX_ENTRY_SIZE;
        byte[] entry = new byte[PCI_MSIX_ENTRY_SIZE];
        Le.put(entry, PCI_MSIX_ENTRY_LOWER_ADDR, 8, address[vector]);
        Le.put(entry, PCI_MSIX_ENTRY_DATA, 4, data[vector]);
        Le.put(entry, PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked[vector] ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
        System.arraycopy(entry, field, out, 0, out.length);
    }

    /** A guest write of 4 or 8 bytes at {@code offset} of the table. */
    void writeTable(int offset, byte[] in) {
        int vector = offset / PCI_MSIX_ENTRY_SIZE;
        int field = offset % PCI_MSIX_ENTRY_SIZE;
        for (int i = 0; i < in.length; i += 4) {
            long v = Le.get(in, i, 4);
            switch (field + i) {
                case PCI_MSIX_ENTRY_LOWER_ADDR -> address[vector] = QueueRegisters.setLow(address[vector], v);
                case PCI_MSIX_ENTRY_UPPER_ADDR -> address[vector] = QueueRegisters.setHigh(address[vector], v);
                case PCI_MSIX_ENTRY_DATA -> data[vector] = (int) v;
                default -> masked[vector] = (v & PCI_MSIX_ENTRY_CTRL_MASKBIT) != 0;
            }
        }
        reconcile();
    }

    void readPba(int offset, byte[] out) {
        byte[] all = new byte[pbaBytes()];
        for (int i = 0; i < pending.length; i++) {
            Le.put(all, 8 * i, 8, pending[i]);
        }
        System.arraycopy(all, offset, out, 0, out.length);
    }

    // ---- routing ----

    private int vectorOf(Wired w) {
        return w.queue < 0 ? configVector : state.queue(w.queue).vector;
    }

    private boolean deliverable(int vector) {
        return enabled && !functionMasked && isValid(vector) && !masked[vector];
    }

    /**
     * Brings every notifier to where its vector says it goes. Called after anything that changes a
     * vector's state: the control bits, a table entry, a queue's or the config vector, a reset.
     */
    void reconcile() {
        for (Map.Entry<EventFd, Wired> e : notifiers.entrySet()) {
            EventFd fd = e.getKey();
            Wired w = e.getValue();
            int vector = vectorOf(w);
            boolean direct = deliverable(vector) && route(vector);
            if (w.irqfd != null && (!direct || w.gsi != gsi(vector))) {
                deassign(w);
            }
            if (!direct) {
                watcher.watch(fd);
            } else if (w.irqfd == null) {
                watcher.unwatch(fd);
                drainInto(fd, w, vector);
                assign(fd, w, vector);
            }
        }
        deliverPending();
    }

    /** Sets the vector's MSI route to its table entry's message, if it changed; false if KVM refused. */
    private boolean route(int vector) {
        GsiMessage message = new GsiMessage(address[vector], data[vector]);
        if (message.equals(routed[vector])) {
            return true;
        }
        try {
            wiring.routeMsi(gsi(vector), message.address(), message.data());
            routed[vector] = message;
            return true;
        } catch (SysException | RuntimeException e) {
            counters.wiringFailure("MSI route of vector " + vector + ": " + e.getMessage());
            return false;
        }
    }

    private void assign(EventFd fd, Wired w, int vector) {
        try {
            w.irqfd = wiring.irqfd(fd, gsi(vector));
            w.gsi = gsi(vector);
        } catch (SysException | RuntimeException e) {
            counters.wiringFailure("irqfd for vector " + vector + ": " + e.getMessage());
            watcher.watch(fd);
        }
    }

    private void deassign(Wired w) {
        try {
            w.irqfd.close();
        } catch (SysException | RuntimeException e) {
            counters.wiringFailure("irqfd deassign on gsi " + w.gsi + ": " + e.getMessage());
        }
        w.irqfd = null;
    }

    /** Signals that came after the watcher's last read and before the irqfd: they are pending. */
    private void drainInto(EventFd fd, Wired w, int vector) {
        try {
            long n = fd.read();
            if (n > 0) {
                setPending(vector);
            }
        } catch (SysException | RuntimeException e) {
            counters.wiringFailure("drain notifier of queue " + w.queue + ": " + e.getMessage());
        }
    }

    /** One interrupt for each pending vector that can now be delivered, through one of its irqfds. */
    private void deliverPending() {
        for (Map.Entry<EventFd, Wired> e : notifiers.entrySet()) {
            Wired w = e.getValue();
            int vector = vectorOf(w);
            if (w.irqfd != null && isValid(vector) && isPending(vector) && deliverable(vector)) {
                pending[vector / 64] &= ~(1L << (vector % 64));
                try {
                    e.getKey().signal();
                } catch (SysException ex) {
                    counters.wiringFailure("deliver pending vector " + vector + ": " + ex.getMessage());
                }
            }
        }
    }

    private void setPending(int vector) {
        pending[vector / 64] |= 1L << (vector % 64);
    }

    private void signalledWhileMasked(EventFd notifier, long n) {
        Wired w = notifiers.get(notifier);
        int vector = vectorOf(w);
        if (!enabled) {
            state.raiseInterruptStatus(w.queue < 0 ? DeviceState.INT_CONFIG : DeviceState.INT_QUEUE);
            try {
                intx.signal();
            } catch (SysException e) {
                counters.wiringFailure("INTx: " + e.getMessage());
            }
        } else if (isValid(vector)) {
            setPending(vector);
            counters.maskedInterrupt();
            if (deliverable(vector)) {
                // Unmasked, yet here: its irqfd could not be assigned. Try again, and deliver.
                reconcile();
            }
        }
        // MSI-X on and no vector: the device raises no interrupt for it (virtio 1.x §4.1.5.1.2).
    }

    /** Device reset: vectors back to NO_VECTOR (the queues' are reset with the queue registers). */
    void resetVectors() {
        configVector = QueueConfig.NO_VECTOR;
        reconcile();
    }

    /** Stops the watcher and deassigns every irqfd. */
    @Override
    public void close() {
        watcher.close();
        for (Wired w : notifiers.values()) {
            if (w.irqfd != null) {
                deassign(w);
            }
        }
    }
}
