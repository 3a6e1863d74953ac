package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.PciUapi.*;
import static dev.vhostnet.sys.VirtioMmioUapi.*;
import static dev.vhostnet.sys.VirtioPciUapi.*;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.virtio.Notifiers;
import dev.vhostnet.virtio.VirtioMmioTransport;
import dev.vhostnet.virtio.VirtioPciTransport;
import dev.vhostnet.virtio.VmWiring;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A transport's register file as a guest driver reaches it — Linux's {@code virtio_config_ops}
 * over virtio-mmio ({@code virtio_mmio.c}) or virtio-pci modern ({@code virtio_pci_modern_dev.c},
 * after firmware placed BAR0 and the driver found the capabilities and enabled MSI-X) — and nothing
 * else: every access is a register read or write of the transport.
 */
abstract class Registers implements AutoCloseable {
    enum Kind {
        MMIO,
        PCI
    }

    /** A transport of {@code kind} for {@code device} in {@code memory}, probed as firmware and Linux do. */
    static Registers open(Kind kind, VirtioNetDevice device, MemoryTable memory) throws SysException {
        return kind == Kind.MMIO
                ? new Mmio(new VirtioMmioTransport(device, 0xd000_0000L, 5, 0, memory))
                : new Pci(new VirtioPciTransport(device, 40, new NoVm(), memory));
    }

    abstract int status();

    abstract void writeStatus(int status);

    abstract long deviceFeatures();

    abstract void writeDriverFeatures(long features);

    /** The largest size of queue {@code q}; 0 when there is no such queue. */
    abstract int queueMax(int q);

    /** Sets queue {@code q} up and enables it; returns whether it reads back enabled. */
    abstract boolean setUpQueue(int q, int size, long desc, long avail, long used);

    /** {@code len} bytes (1, 2 or 4) of device configuration at {@code offset}, little-endian. */
    abstract long readConfig(int offset, int len);

    abstract void writeConfig(int offset, int len, long value);

    abstract int configGeneration();

    /** Raw access for hostile traffic: {@code region} 0 the mmio window / PCI config space, 1 BAR0. */
    abstract void raw(int region, long offset, byte[] data, boolean write);

    abstract Notifiers notifiers();

    /** What firmware does at boot (PCI: place BAR0, enable decoding, MSI-X with every vector unmasked); mmio: nothing. */
    void firmware() {
        // virtio-mmio needs no set-up
    }

    abstract dev.vhostnet.virtio.TransportCounters counters();

    @Override
    public abstract void close();

    static long le(byte[] b) {
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    static byte[] le(long value, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }

    static final class Mmio extends Registers {
        final VirtioMmioTransport t;

        Mmio(VirtioMmioTransport t) {
            this.t = t;
            if (read(VIRTIO_MMIO_MAGIC_VALUE) != MAGIC
                    || read(VIRTIO_MMIO_VERSION) != 2
                    || read(VIRTIO_MMIO_DEVICE_ID) != VirtioNetDevice.DEVICE_TYPE) {
                throw new AssertionError("not a virtio-mmio v2 net device");
            }
        }

        int read(int offset) {
            byte[] b = new byte[4];
            t.read(offset, b);
            return (int) le(b);
        }

        void write(int offset, long value) {
            t.write(offset, le(value, 4));
        }

        @Override
        int status() {
            return read(VIRTIO_MMIO_STATUS);
        }

        @Override
        void writeStatus(int status) {
            write(VIRTIO_MMIO_STATUS, status);
        }

        @Override
        long deviceFeatures() {
            write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
            long f = (long) read(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
            write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
            return f | (read(VIRTIO_MMIO_DEVICE_FEATURES) & 0xffff_ffffL);
        }

        @Override
        void writeDriverFeatures(long features) {
            write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
            write(VIRTIO_MMIO_DRIVER_FEATURES, features >>> 32);
            write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
            write(VIRTIO_MMIO_DRIVER_FEATURES, features & 0xffff_ffffL);
        }

        @Override
        int queueMax(int q) {
            write(VIRTIO_MMIO_QUEUE_SEL, q);
            return read(VIRTIO_MMIO_QUEUE_NUM_MAX);
        }

        /** {@code vm_setup_vq}. */
        @Override
        boolean setUpQueue(int q, int size, long desc, long avail, long used) {
            write(VIRTIO_MMIO_QUEUE_SEL, q);
            if (read(VIRTIO_MMIO_QUEUE_READY) != 0) {
                throw new AssertionError("queue " + q + " already enabled");
            }
            write(VIRTIO_MMIO_QUEUE_NUM, size);
            write(VIRTIO_MMIO_QUEUE_DESC_LOW, desc & 0xffff_ffffL);
            write(VIRTIO_MMIO_QUEUE_DESC_HIGH, desc >>> 32);
            write(VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail & 0xffff_ffffL);
            write(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, avail >>> 32);
            write(VIRTIO_MMIO_QUEUE_USED_LOW, used & 0xffff_ffffL);
            write(VIRTIO_MMIO_QUEUE_USED_HIGH, used >>> 32);
            write(VIRTIO_MMIO_QUEUE_READY, 1);
            return read(VIRTIO_MMIO_QUEUE_READY) == 1;
        }

        @Override
        long readConfig(int offset, int len) {
            byte[] b = new byte[len];
            t.read(VIRTIO_MMIO_CONFIG + offset, b);
            return le(b);
        }

        @Override
        void writeConfig(int offset, int len, long value) {
            t.write(VIRTIO_MMIO_CONFIG + offset, le(value, len));
        }

        @Override
        int configGeneration() {
            return read(VIRTIO_MMIO_CONFIG_GENERATION);
        }

        @Override
        void raw(int region, long offset, byte[] data, boolean write) {
            if (write) {
                t.write(offset, data);
            } else {
                t.read(offset, data);
            }
        }

        @Override
        Notifiers notifiers() {
            return t.notifiers();
        }

        @Override
        dev.vhostnet.virtio.TransportCounters counters() {
            return t.counters();
        }

        @Override
        public void close() {
            t.close();
        }
    }

    static final class Pci extends Registers {
        static final long BAR = 0xe000_0000L;
        final VirtioPciTransport t;
        final Map<Integer, Integer> caps = new HashMap<>();
        int msixCap;

        /** Firmware sizes and places BAR0 and enables decoding; {@code vp_modern_probe} finds the capabilities; MSI-X on, every vector unmasked. */
        Pci(VirtioPciTransport t) {
            this.t = t;
            firmware();
        }

        @Override
        void firmware() {
            if (cfg(PCI_VENDOR_ID, 2) != VirtioPciTransport.VENDOR_ID
                    || cfg(PCI_DEVICE_ID, 2) != VirtioPciTransport.DEVICE_ID_BASE + VirtioNetDevice.DEVICE_TYPE) {
                throw new AssertionError("not a virtio-pci net device");
            }
            cfgWrite(PCI_BASE_ADDRESS_0, 4, BAR);
            cfgWrite(PCI_BASE_ADDRESS_1, 4, BAR >>> 32);
            cfgWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
            int pos = cfg(PCI_CAPABILITY_LIST, 1);
            for (int guard = 0; pos != 0 && guard < 48; guard++) {
                int id = cfg(pos + PCI_CAP_LIST_ID, 1);
                if (id == PCI_CAP_ID_VNDR) {
                    caps.putIfAbsent(cfg(pos + VIRTIO_PCI_CAP_CFG_TYPE, 1), pos);
                } else if (id == PCI_CAP_ID_MSIX) {
                    msixCap = pos;
                }
                pos = cfg(pos + PCI_CAP_LIST_NEXT, 1);
            }
            long table = cfg(msixCap + PCI_MSIX_TABLE, 4) & ~PCI_MSIX_TABLE_BIR;
            int vectors = (cfg(msixCap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
            cfgWrite(msixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
            for (int v = 0; v < vectors; v++) {
                long entry = table + (long) v * PCI_MSIX_ENTRY_SIZE;
                bar(entry + PCI_MSIX_ENTRY_LOWER_ADDR, 4, 0xfee0_0000L);
                bar(entry + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0);
                bar(entry + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v);
                bar(entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
            }
            cfgWrite(msixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
        }

        int cfg(int offset, int len) {
            byte[] b = new byte[len];
            t.readConfig(offset, b);
            return (int) le(b);
        }

        void cfgWrite(int offset, int len, long value) {
            t.writeConfig(offset, le(value, len));
        }

        long bar(long offset, int len) {
            byte[] b = new byte[len];
            t.readBar(offset, b);
            return le(b);
        }

        void bar(long offset, int len, long value) {
            t.writeBar(offset, le(value, len));
        }

        long region(int type) {
            return cfg(caps.get(type) + VIRTIO_PCI_CAP_OFFSET, 4) & 0xffff_ffffL;
        }

        long common(int field) {
            return region(VIRTIO_PCI_CAP_COMMON_CFG) + field;
        }

        @Override
        int status() {
            return (int) bar(common(VIRTIO_PCI_COMMON_STATUS), 1);
        }

        @Override
        void writeStatus(int status) {
            bar(common(VIRTIO_PCI_COMMON_STATUS), 1, status);
        }

        @Override
        long deviceFeatures() {
            bar(common(VIRTIO_PCI_COMMON_DFSELECT), 4, 0);
            long f = bar(common(VIRTIO_PCI_COMMON_DF), 4);
            bar(common(VIRTIO_PCI_COMMON_DFSELECT), 4, 1);
            return f | bar(common(VIRTIO_PCI_COMMON_DF), 4) << 32;
        }

        @Override
        void writeDriverFeatures(long features) {
            bar(common(VIRTIO_PCI_COMMON_GFSELECT), 4, 0);
            bar(common(VIRTIO_PCI_COMMON_GF), 4, features & 0xffff_ffffL);
            bar(common(VIRTIO_PCI_COMMON_GFSELECT), 4, 1);
            bar(common(VIRTIO_PCI_COMMON_GF), 4, features >>> 32);
        }

        @Override
        int queueMax(int q) {
            if (q >= bar(common(VIRTIO_PCI_COMMON_NUMQ), 2)) {
                return 0;
            }
            bar(common(VIRTIO_PCI_COMMON_Q_SELECT), 2, q);
            return (int) bar(common(VIRTIO_PCI_COMMON_Q_SIZE), 2);
        }

        /** {@code vp_modern_find_vqs} with one vector per queue (config on 0, queue q on q + 1). */
        @Override
        boolean setUpQueue(int q, int size, long desc, long avail, long used) {
            bar(common(VIRTIO_PCI_COMMON_MSIX), 2, 0);
            bar(common(VIRTIO_PCI_COMMON_Q_SELECT), 2, q);
            if (bar(common(VIRTIO_PCI_COMMON_Q_ENABLE), 2) != 0) {
                throw new AssertionError("queue " + q + " already enabled");
            }
            bar(common(VIRTIO_PCI_COMMON_Q_SIZE), 2, size);
            bar(common(VIRTIO_PCI_COMMON_Q_DESCLO), 4, desc & 0xffff_ffffL);
            bar(common(VIRTIO_PCI_COMMON_Q_DESCHI), 4, desc >>> 32);
            bar(common(VIRTIO_PCI_COMMON_Q_AVAILLO), 4, avail & 0xffff_ffffL);
            bar(common(VIRTIO_PCI_COMMON_Q_AVAILHI), 4, avail >>> 32);
            bar(common(VIRTIO_PCI_COMMON_Q_USEDLO), 4, used & 0xffff_ffffL);
            bar(common(VIRTIO_PCI_COMMON_Q_USEDHI), 4, used >>> 32);
            bar(common(VIRTIO_PCI_COMMON_Q_MSIX), 2, q + 1);
            bar(common(VIRTIO_PCI_COMMON_Q_ENABLE), 2, 1);
            return bar(common(VIRTIO_PCI_COMMON_Q_ENABLE), 2) == 1;
        }

        @Override
        long readConfig(int offset, int len) {
            return bar(region(VIRTIO_PCI_CAP_DEVICE_CFG) + offset, len);
        }

        @Override
        void writeConfig(int offset, int len, long value) {
            bar(region(VIRTIO_PCI_CAP_DEVICE_CFG) + offset, len, value);
        }

        @Override
        int configGeneration() {
            return (int) bar(common(VIRTIO_PCI_COMMON_CFGGENERATION), 1);
        }

        @Override
        void raw(int region, long offset, byte[] data, boolean write) {
            if (region == 0 && write) {
                t.writeConfig((int) offset, data);
            } else if (region == 0) {
                t.readConfig((int) offset, data);
            } else if (write) {
                t.writeBar(offset, data);
            } else {
                t.readBar(offset, data);
            }
        }

        @Override
        Notifiers notifiers() {
            return t.notifiers();
        }

        @Override
        dev.vhostnet.virtio.TransportCounters counters() {
            return t.counters();
        }

        @Override
        public void close() {
            t.close();
        }
    }

    /** No VM: doorbells and interrupts stay the eventfds the test driver waits on and signals (what KVM would do with them). */
    static final class NoVm implements VmWiring {
        @Override
        public Binding ioeventfd(EventFd fd, IoAddress at, OptionalLong datamatch) {
            return () -> {};
        }

        @Override
        public Binding irqfd(EventFd fd, int gsi) {
            return () -> {};
        }

        @Override
        public void routeMsi(int gsi, long address, int data) {
            // no VM to route in
        }
    }
}
