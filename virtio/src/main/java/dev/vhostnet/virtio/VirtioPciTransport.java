package dev.vhostnet.virtio;

import static dev.vhostnet.sys.PciUapi.*;
import static dev.vhostnet.sys.VirtioPciUapi.*;

import com.google.common.base.Preconditions;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioPciUapi.VirtioPciCap;
import dev.vhostnet.sys.VirtioPciUapi.VirtioPciCfgCap;
import dev.vhostnet.sys.VirtioPciUapi.VirtioPciCommonCfg;
import dev.vhostnet.sys.VirtioPciUapi.VirtioPciNotifyCap;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * A virtio-pci device, modern only (virtio 1.x §4.1, {@code <linux/virtio_pci.h>},
 * {@code <linux/pci_regs.h>}): a type 0 configuration space with vendor 0x1af4, device
 * 0x1040 + type, revision 1, the five virtio vendor capabilities and MSI-X; and one 64-bit memory
 * BAR (BAR0, {@link #BAR_SIZE} bytes) holding, a page each, the common configuration, the ISR, the
 * device configuration, the notify area, the MSI-X table and the PBA. Written as QEMU's
 * {@code hw/virtio/virtio-pci.c} ({@code virtio_pci_common_read/write}) and Cloud Hypervisor's
 * {@code transport/pci_common_config.rs}, with every selector bounds checked (a queue_select past
 * the last queue reads zeros and refuses writes).
 *
 * <p>The VMM routes configuration cycles to {@link #readConfig}/{@link #writeConfig} and exits in
 * {@code [barAddress(), barAddress() + BAR_SIZE)} to {@link #readBar}/{@link #writeBar}. When the
 * guest places the BAR and turns memory decoding on, each queue's notify address (a 2-byte write of
 * the queue index at {@code notify + 4·queue}) becomes an ioeventfd; each MSI-X vector {@code v}
 * uses GSI {@code gsiBase + v}, routed to its table entry's message, with the call fds bound as
 * irqfds while the vector is unmasked (see {@link MsixVectors}). Nothing a guest does throws: bad
 * accesses are refused and counted.
 */
public final class VirtioPciTransport implements AutoCloseable {
    public static final int VENDOR_ID = 0x1af4;
    /** Modern devices: 0x1040 + the virtio device ID. */
    public static final int DEVICE_ID_BASE = 0x1040;

    public static final int REVISION = 1;
    /** Non-transitional devices should have a subsystem ID of 0x40 or more (virtio 1.x §4.1.2.1). */
    public static final int SUBSYSTEM_ID = 0x40;

    public static final long BAR_SIZE = 0x8000;
    /** What the low bits of BAR0 read: memory space, 64-bit, not prefetchable. */
    public static final int BAR_FLAGS = PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64;

    public static final int COMMON_OFFSET = 0x0000;
    public static final int ISR_OFFSET = 0x1000;
    public static final int DEVICE_OFFSET = 0x2000;
    public static final int NOTIFY_OFFSET = 0x3000;
    public static final int MSIX_TABLE_OFFSET = 0x4000;
    public static final int MSIX_PBA_OFFSET = 0x5000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    private static final int PAGE = 0x1000;
    private static final int MAX_VECTORS = PAGE / PCI_MSIX_ENTRY_SIZE;

    private static final int CAP_COMMON = 0x40;
    private static final int CAP_NOTIFY = CAP_COMMON + VirtioPciCap.SIZE;
    private static final int CAP_ISR = CAP_NOTIFY + VirtioPciNotifyCap.SIZE;
    private static final int CAP_DEVICE = CAP_ISR + VirtioPciCap.SIZE;
    private static final int CAP_PCI_CFG = CAP_DEVICE + VirtioPciCap.SIZE;
    private static final int CAP_MSIX = CAP_PCI_CFG + VirtioPciCfgCap.SIZE;
    private static final int CFG_DATA = CAP_PCI_CFG + VIRTIO_PCI_CFG_CAP_DATA;

    private final DeviceState state;
    private final TransportCounters counters = new TransportCounters();
    private final byte[] config = new byte[PCI_CFG_SPACE_SIZE];
    private final byte[] writable = new byte[PCI_CFG_SPACE_SIZE];
    private final EventFd intx;
    private final MsixVectors msix;
    private final VmWiring wiring;
    private final List<VmWiring.Binding> doorbellBindings = new ArrayList<>();
    private long mappedBar = -1;

    /**
     * A transport for {@code device}: MSI-X vector {@code v} interrupts on GSI {@code gsiBase + v}
     * (one vector per queue plus one for configuration, at most 256), through {@code wiring};
     * queue rings are checked against {@code memory} when it is not null.
     */
    public VirtioPciTransport(VirtioDevice device, int gsiBase, VmWiring wiring, MemoryTable memory)
            throws SysException {
        Preconditions.checkArgument(gsiBase >= 0, "gsi base %s is negative", gsiBase);
        Preconditions.checkArgument(
                device.configSize() >= 0 && device.configSize() <= PAGE,
                "config space of %s bytes does not fit its page",
                device.configSize());
        Preconditions.checkArgument(
                device.queueCount() * NOTIFY_OFF_MULTIPLIER <= PAGE,
                "%s queues do not fit the notify page",
                device.queueCount());
        this.wiring = wiring;
        this.state = new DeviceState(device, memory, counters);
        EventFd intxFd = null;
        try {
            intxFd = EventFd.create();
            this.msix = new MsixVectors(
                    Math.min(device.queueCount() + 1, MAX_VECTORS),
                    gsiBase,
                    wiring,
                    state,
                    intxFd,
                    "virtio-pci-" + device.deviceType() + "-masked");
        } catch (SysException | RuntimeException e) {
            if (intxFd != null) {
                intxFd.close();
            }
            state.close();
            throw e;
        }
        this.intx = intxFd;
        buildConfigSpace(device);
    }

    private void buildConfigSpace(VirtioDevice device) {
        put(PCI_VENDOR_ID, 2, VENDOR_ID);
        put(PCI_DEVICE_ID, 2, DEVICE_ID_BASE + device.deviceType());
        put(PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
        put(PCI_REVISION_ID, 1, REVISION);
        put(PCI_CLASS_PROG, 3, classCode(device.deviceType()));
        put(PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
        put(PCI_BASE_ADDRESS_0, 4, BAR_FLAGS);
        put(PCI_SUBSYSTEM_VENDOR_ID, 2, VENDOR_ID);
        put(PCI_SUBSYSTEM_ID, 2, SUBSYSTEM_ID);
        put(PCI_CAPABILITY_LIST, 1, CAP_COMMON);
        put(PCI_INTERRUPT_PIN, 1, 1);
        boolean deviceCfg = device.configSize() > 0;
        virtioCap(
                CAP_COMMON,
                CAP_NOTIFY,
                VirtioPciCap.SIZE,
                VIRTIO_PCI_CAP_COMMON_CFG,
                COMMON_OFFSET,
                VirtioPciCommonCfg.SIZE);
        virtioCap(
                CAP_NOTIFY,
                CAP_ISR,
                VirtioPciNotifyCap.SIZE,
                VIRTIO_PCI_CAP_NOTIFY_CFG,
                NOTIFY_OFFSET,
                Math.max(1, device.queueCount()) * NOTIFY_OFF_MULTIPLIER);
        put(CAP_NOTIFY + VIRTIO_PCI_NOTIFY_CAP_MULT, 4, NOTIFY_OFF_MULTIPLIER);
        virtioCap(
                CAP_ISR,
                deviceCfg ? CAP_DEVICE : CAP_PCI_CFG,
                VirtioPciCap.SIZE,
                VIRTIO_PCI_CAP_ISR_CFG,
                ISR_OFFSET,
                1);
        if (deviceCfg) {
            virtioCap(
                    CAP_DEVICE,
                    CAP_PCI_CFG,
                    VirtioPciCap.SIZE,
                    VIRTIO_PCI_CAP_DEVICE_CFG,
                    DEVICE_OFFSET,
                    device.configSize());
        }
        virtioCap(CAP_PCI_CFG, CAP_MSIX, VirtioPciCfgCap.SIZE, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
        put(CAP_MSIX + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSIX);
        put(CAP_MSIX + PCI_MSIX_FLAGS, 2, msix.count() - 1);
        put(CAP_MSIX + PCI_MSIX_TABLE, 4, MSIX_TABLE_OFFSET);
        put(CAP_MSIX + PCI_MSIX_PBA, 4, MSIX_PBA_OFFSET);

        writable(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
        writable(PCI_BASE_ADDRESS_0, 4, ~(BAR_SIZE - 1));
        writable(PCI_BASE_ADDRESS_1, 4, 0xffff_ffffL);
        writable(PCI_INTERRUPT_LINE, 1, 0xff);
        writable(CAP_PCI_CFG + VIRTIO_PCI_CAP_BAR, 1, 0xff);
        writable(CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 4, 0xffff_ffffL);
        writable(CAP_PCI_CFG + VIRTIO_PCI_CAP_LENGTH, 4, 0xffff_ffffL);
        writable(CFG_DATA, 4, 0xffff_ffffL);
        writable(CAP_MSIX + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    }

    /** Class code (class, subclass, prog-if) as QEMU gives virtio devices: network, storage, or "other". */
    private static int classCode(int deviceType) {
        return switch (deviceType) {
            case 1 -> 0x020000;
            case 2 -> 0x010000;
            default -> 0xff0000;
        };
    }

    private void virtioCap(int at, int next, int length, int type, int offset, int regionLength) {
        put(at + VIRTIO_PCI_CAP_VNDR, 1, PCI_CAP_ID_VNDR);
        put(at + VIRTIO_PCI_CAP_NEXT, 1, next);
        put(at + VIRTIO_PCI_CAP_LEN, 1, length);
        put(at + VIRTIO_PCI_CAP_CFG_TYPE, 1, type);
        put(at + VIRTIO_PCI_CAP_OFFSET, 4, offset);
        put(at + VIRTIO_PCI_CAP_LENGTH, 4, regionLength);
    }

    private void put(int offset, int length, long value) {
        Le.put(config, offset, length, value);
    }

    private void writable(int offset, int length, long mask) {
        Le.put(writable, offset, length, mask);
    }

    // ---- configuration space ----

    /** A configuration read of {@code data.length} (1, 2 or 4) bytes at {@code offset}. */
    public void readConfig(int offset, byte[] data) {
        try {
            synchronized (state) {
                if (!isConfigAccess(offset, data.length, "read")) {
                    Le.fill(data, 0);
                    return;
                }
                if (overlaps(offset, data.length, CFG_DATA, 4)) {
                    byte[] window = cfgWindow();
                    if (window != null) {
                        readBarLocked(Le.get(config, CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 4), window);
                        System.arraycopy(window, 0, config, CFG_DATA, window.length);
                    }
                }
                System.arraycopy(config, offset, data, 0, data.length);
            }
        } catch (RuntimeException e) {
            counters.internalError("config read 0x" + Integer.toHexString(offset) + ": " + e);
            Le.fill(data, 0);
        }
    }

    /**
     * A configuration write: only the bits a register defines as writable change (the command
     * bits, BAR0/1 above the BAR size, the interrupt line, the PCI_CFG window, MSI-X enable and
     * function mask); the rest is read-only, as in hardware.
     */
    public void writeConfig(int offset, byte[] data) {
        try {
            synchronized (state) {
                if (!isConfigAccess(offset, data.length, "write")) {
                    return;
                }
                for (int i = 0; i < data.length; i++) {
                    int mask = writable[offset + i] & 0xff;
                    config[offset + i] = (byte) ((config[offset + i] & ~mask) | (data[i] & mask));
                }
                if (overlaps(offset, data.length, PCI_COMMAND, 2)
                        || overlaps(offset, data.length, PCI_BASE_ADDRESS_0, 8)) {
                    remapBar();
                }
                if (overlaps(offset, data.length, CAP_MSIX + PCI_MSIX_FLAGS, 2)) {
                    int control = (int) Le.get(config, CAP_MSIX + PCI_MSIX_FLAGS, 2);
                    msix.setControl((control & PCI_MSIX_FLAGS_ENABLE) != 0, (control & PCI_MSIX_FLAGS_MASKALL) != 0);
                }
                if (overlaps(offset, data.length, CFG_DATA, 4)) {
                    byte[] window = cfgWindow();
                    if (window != null) {
                        System.arraycopy(config, CFG_DATA, window, 0, window.length);
                        writeBarLocked(Le.get(config, CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 4), window);
                    }
                }
            }
        } catch (RuntimeException e) {
            counters.internalError("config write 0x" + Integer.toHexString(offset) + ": " + e);
        }
    }

    private boolean isConfigAccess(int offset, int length, String what) {
        if ((length != 1 && length != 2 && length != 4)
                || offset < 0
                || offset + length > PCI_CFG_SPACE_SIZE
                || offset % length != 0) {
            counters.badAccess("config " + what + " of " + length + " bytes at 0x" + Integer.toHexString(offset));
            return false;
        }
        return true;
    }

    private static boolean overlaps(int offset, int length, int start, int size) {
        return offset < start + size && start < offset + length;
    }

    /** The VIRTIO_PCI_CAP_PCI_CFG access the driver set up (BAR0, 1/2/4 bytes, aligned), or null after counting it. */
    private byte[] cfgWindow() {
        int bar = config[CAP_PCI_CFG + VIRTIO_PCI_CAP_BAR] & 0xff;
        long length = Le.get(config, CAP_PCI_CFG + VIRTIO_PCI_CAP_LENGTH, 4);
        long offset = Le.get(config, CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 4);
        if (bar != 0 || (length != 1 && length != 2 && length != 4) || offset % length != 0) {
            counters.badAccess(
                    "PCI_CFG window bar " + bar + " offset 0x" + Long.toHexString(offset) + " length " + length);
            return null;
        }
        return new byte[(int) length];
    }

    // ---- BAR placement and doorbells ----

    /** Where the guest placed BAR0, while memory decoding is on. */
    public OptionalLong barAddress() {
        synchronized (state) {
            return mappedBar < 0 ? OptionalLong.empty() : OptionalLong.of(mappedBar);
        }
    }

    /** The doorbells at the BAR's current place (none while it is not decoded). */
    public List<Doorbell> doorbells() {
        synchronized (state) {
            List<Doorbell> out = new ArrayList<>();
            if (mappedBar >= 0) {
                for (int q = 0; q < state.queueCount(); q++) {
                    out.add(new Doorbell(
                            q,
                            IoAddress.mmio(mappedBar + NOTIFY_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * q, 2),
                            OptionalLong.of(q),
                            state.kick(q)));
                }
            }
            return out;
        }
    }

    private void remapBar() {
        boolean decode = (Le.get(config, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) != 0;
        long base = Le.get(config, PCI_BASE_ADDRESS_0, 8) & ~0xfL;
        long next = decode && base != 0 ? base : -1;
        if (next == mappedBar) {
            return;
        }
        for (VmWiring.Binding b : doorbellBindings) {
            try {
                b.close();
            } catch (SysException | RuntimeException e) {
                counters.wiringFailure("deassign doorbell: " + e.getMessage());
            }
        }
        doorbellBindings.clear();
        mappedBar = next;
        for (Doorbell d : doorbells()) {
            try {
                doorbellBindings.add(wiring.ioeventfd(d.kick(), d.at(), d.datamatch()));
            } catch (SysException | RuntimeException e) {
                counters.wiringFailure("doorbell of queue " + d.queue() + " at 0x" + Long.toHexString(d.at().address())
                        + ": " + e.getMessage());
            }
        }
    }

    // ---- BAR0 ----

    /** A guest read of {@code data.length} bytes at {@code offset} into BAR0. */
    public void readBar(long offset, byte[] data) {
        try {
            synchronized (state) {
                readBarLocked(offset, data);
            }
        } catch (RuntimeException e) {
            counters.internalError("BAR read 0x" + Long.toHexString(offset) + ": " + e);
            Le.fill(data, 0);
        }
    }

    /** A guest write of {@code data} at {@code offset} into BAR0. */
    public void writeBar(long offset, byte[] data) {
        try {
            synchronized (state) {
                writeBarLocked(offset, data);
            }
        } catch (RuntimeException e) {
            counters.internalError("BAR write 0x" + Long.toHexString(offset) + ": " + e);
        }
    }

    private void readBarLocked(long offset, byte[] data) {
        int n = data.length;
        if (inside(offset, n, COMMON_OFFSET, VirtioPciCommonCfg.SIZE)) {
            if (!readCommon((int) offset - COMMON_OFFSET, data)) {
                refuse("read", offset, n, data);
            }
        } else if (offset == ISR_OFFSET && n == 1) {
            data[0] = (byte) state.clearInterruptStatus(DeviceState.INT_QUEUE | DeviceState.INT_CONFIG);
        } else if (inside(offset, n, DEVICE_OFFSET, PAGE)) {
            state.readConfig(offset - DEVICE_OFFSET, data);
        } else if (isMsixAccess(offset, n, MSIX_TABLE_OFFSET, msix.count() * PCI_MSIX_ENTRY_SIZE)) {
            msix.readTable((int) offset - MSIX_TABLE_OFFSET, data);
        } else if (isMsixAccess(offset, n, MSIX_PBA_OFFSET, msix.pbaBytes())) {
            msix.readPba((int) offset - MSIX_PBA_OFFSET, data);
        } else {
            refuse("read", offset, n, data);
        }
    }

    private void writeBarLocked(long offset, byte[] data) {
        int n = data.length;
        if (inside(offset, n, COMMON_OFFSET, VirtioPciCommonCfg.SIZE)) {
            if (!writeCommon((int) offset - COMMON_OFFSET, data)) {
                refuse("write", offset, n, null);
            }
        } else if (inside(offset, n, DEVICE_OFFSET, PAGE)) {
            state.writeConfig(offset - DEVICE_OFFSET, data);
        } else if (inside(offset, n, NOTIFY_OFFSET, PAGE)
                && (n == 2 || n == 4)
                && offset % NOTIFY_OFF_MULTIPLIER == 0) {
            // An exit instead of the ioeventfd (BAR not yet decoded by KVM, or a 4-byte write): the address names the
            // queue.
            state.notifyQueue(
                    (int) (offset - NOTIFY_OFFSET) / NOTIFY_OFF_MULTIPLIER,
                    "notify write at 0x" + Long.toHexString(offset));
        } else if (isMsixAccess(offset, n, MSIX_TABLE_OFFSET, msix.count() * PCI_MSIX_ENTRY_SIZE)) {
            msix.writeTable((int) offset - MSIX_TABLE_OFFSET, data);
        } else {
            refuse("write", offset, n, null);
        }
    }

    private static boolean inside(long offset, int length, int start, int size) {
        return Le.isAccessSize(length) && offset >= start && offset + length <= start + size;
    }

    /** MSI-X table and PBA take aligned 4- and 8-byte accesses (PCI 3.0 §6.8.2). */
    private static boolean isMsixAccess(long offset, int length, int start, int size) {
        return (length == 4 || length == 8) && offset % length == 0 && inside(offset, length, start, size);
    }

    private void refuse(String what, long offset, int length, byte[] readData) {
        counters.badAccess("BAR " + what + " of " + length + " bytes at 0x" + Long.toHexString(offset));
        if (readData != null) {
            Le.fill(readData, 0);
        }
    }

    // ---- struct virtio_pci_common_cfg ----

    private boolean readCommon(int offset, byte[] data) {
        QueueRegisters q = state.selectedQueue();
        long v;
        switch (offset << 4 | data.length) {
            case VIRTIO_PCI_COMMON_DFSELECT << 4 | 4 -> v = state.deviceFeaturesSelect();
            case VIRTIO_PCI_COMMON_DF << 4 | 4 -> v = state.deviceFeaturesWord();
            case VIRTIO_PCI_COMMON_GFSELECT << 4 | 4 -> v = state.driverFeaturesSelect();
            case VIRTIO_PCI_COMMON_GF << 4 | 4 -> v = state.driverFeaturesWord();
            case VIRTIO_PCI_COMMON_MSIX << 4 | 2 -> v = msix.configVector();
            case VIRTIO_PCI_COMMON_NUMQ << 4 | 2 -> v = state.queueCount();
            case VIRTIO_PCI_COMMON_STATUS << 4 | 1 -> v = state.status();
            case VIRTIO_PCI_COMMON_CFGGENERATION << 4 | 1 -> v = state.configGeneration();
            case VIRTIO_PCI_COMMON_Q_SELECT << 4 | 2 -> v = state.queueSelect();
            case VIRTIO_PCI_COMMON_Q_SIZE << 4 | 2 -> v = q == null ? 0 : q.size;
            case VIRTIO_PCI_COMMON_Q_MSIX << 4 | 2 -> v = q == null ? VIRTIO_MSI_NO_VECTOR : q.vector;
            case VIRTIO_PCI_COMMON_Q_ENABLE << 4 | 2 -> v = q != null && q.enabled != null ? 1 : 0;
            case VIRTIO_PCI_COMMON_Q_NOFF << 4 | 2 -> v = q == null ? 0 : q.index;
            case VIRTIO_PCI_COMMON_Q_DESCLO << 4 | 4 -> v = q == null ? 0 : q.descTable;
            case VIRTIO_PCI_COMMON_Q_DESCHI << 4 | 4 -> v = q == null ? 0 : q.descTable >>> 32;
            case VIRTIO_PCI_COMMON_Q_AVAILLO << 4 | 4 -> v = q == null ? 0 : q.availRing;
            case VIRTIO_PCI_COMMON_Q_AVAILHI << 4 | 4 -> v = q == null ? 0 : q.availRing >>> 32;
            case VIRTIO_PCI_COMMON_Q_USEDLO << 4 | 4 -> v = q == null ? 0 : q.usedRing;
            case VIRTIO_PCI_COMMON_Q_USEDHI << 4 | 4 -> v = q == null ? 0 : q.usedRing >>> 32;
            default -> {
                return false;
            }
        }
        Le.fill(data, v);
        return true;
    }

    private boolean writeCommon(int offset, byte[] data) {
        int v = (int) Le.value(data);
        switch (offset << 4 | data.length) {
            case VIRTIO_PCI_COMMON_DFSELECT << 4 | 4 -> state.selectDeviceFeatures(v);
            case VIRTIO_PCI_COMMON_GFSELECT << 4 | 4 -> state.selectDriverFeatures(v);
            case VIRTIO_PCI_COMMON_GF << 4 | 4 -> state.writeDriverFeaturesWord(v);
            case VIRTIO_PCI_COMMON_MSIX << 4 | 2 -> msix.setConfigVector(v);
            case VIRTIO_PCI_COMMON_STATUS << 4 | 1 -> {
                state.writeStatus(v);
                if (state.status() == 0) {
                    msix.resetVectors();
                }
            }
            case VIRTIO_PCI_COMMON_Q_SELECT << 4 | 2 -> state.selectQueue(v);
            case VIRTIO_PCI_COMMON_Q_SIZE << 4 | 2 -> {
                QueueRegisters q = state.writableQueue("queue_size");
                if (q != null) {
                    q.size = v;
                }
            }
            case VIRTIO_PCI_COMMON_Q_MSIX << 4 | 2 -> {
                QueueRegisters q = state.selectedQueue();
                if (q == null) {
                    counters.refusedWrite("queue_msix_vector: queue " + state.queueSelect() + " does not exist");
                } else {
                    q.vector = msix.isValid(v) ? v : VIRTIO_MSI_NO_VECTOR;
                    msix.reconcile();
                }
            }
            case VIRTIO_PCI_COMMON_Q_ENABLE << 4 | 2 -> {
                if (v == 1) {
                    state.enableSelectedQueue();
                } else {
                    counters.refusedWrite("queue_enable " + v + ": only 1 may be written");
                }
            }
            case VIRTIO_PCI_COMMON_Q_DESCLO << 4 | 4,
                    VIRTIO_PCI_COMMON_Q_DESCHI << 4 | 4,
                    VIRTIO_PCI_COMMON_Q_AVAILLO << 4 | 4,
                    VIRTIO_PCI_COMMON_Q_AVAILHI << 4 | 4,
                    VIRTIO_PCI_COMMON_Q_USEDLO << 4 | 4,
                    VIRTIO_PCI_COMMON_Q_USEDHI << 4 | 4 -> writeQueueAddress(offset, v);
            default -> {
                return false;
            }
        }
        return true;
    }

    private void writeQueueAddress(int offset, int value) {
        QueueRegisters q = state.writableQueue("queue address at 0x" + Integer.toHexString(offset));
        if (q != null) {
            q.setAddressWord((offset - VIRTIO_PCI_COMMON_Q_DESCLO) / 8, (offset & 4) != 0, value & 0xffff_ffffL);
        }
    }

    // ---- the rest of the API ----

    /** How many MSI-X vectors the function has. */
    public int msixVectors() {
        return msix.count();
    }

    /** The GSI MSI-X vector {@code vector} is routed on. */
    public int gsi(int vector) {
        return msix.gsi(vector);
    }

    /** Whether the PBA bit of {@code vector} is set. */
    public boolean isPending(int vector) {
        synchronized (state) {
            return msix.isValid(vector) && msix.isPending(vector);
        }
    }

    /** Signalled when the device interrupts while MSI-X is off: bind it as an irqfd on the INTx GSI. */
    public EventFd intxNotifier() {
        return intx;
    }

    /** The notifiers the device was (or will be) activated with. */
    public Notifiers notifiers() {
        return state;
    }

    /** The device status register ({@code VIRTIO_CONFIG_S_*} bits). */
    public int status() {
        return state.status();
    }

    /** What the guest had refused. */
    public TransportCounters counters() {
        return counters;
    }

    /** Deassigns doorbells and irqfds, stops the masked-notifier watcher, resets an active device, closes the eventfds. */
    @Override
    public void close() {
        synchronized (state) {
            config[PCI_COMMAND] = 0;
            remapBar();
        }
        msix.close();
        synchronized (state) {
            state.close();
            intx.close();
        }
    }
}
