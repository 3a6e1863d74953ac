package dev.vhostnet.virtio;

import static dev.vhostnet.sys.PciUapi.*;
import static dev.vhostnet.sys.VirtioConfigUapi.*;
import static dev.vhostnet.sys.VirtioPciUapi.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;

/**
 * A test driver that speaks to a {@link VirtioPciTransport} only through configuration cycles and
 * BAR accesses, in the order firmware and Linux's {@code virtio_pci_modern_dev.c} /
 * {@code virtio_pci_modern.c} use them.
 */
final class PciDriver {
    final VirtioPciTransport t;
    final Map<Integer, Integer> capOffsets = new HashMap<>();
    long bar;
    int notifyMultiplier;
    int msixCap;
    long msixTable;
    long pba;

    PciDriver(VirtioPciTransport t) {
        this.t = t;
    }

    int cfg(int offset, int length) {
        byte[] b = new byte[length];
        t.readConfig(offset, b);
        return (int) Le.value(b);
    }

    void cfgWrite(int offset, int length, long value) {
        byte[] b = new byte[length];
        Le.fill(b, value);
        t.writeConfig(offset, b);
    }

    long bar(long offset, int length) {
        byte[] b = new byte[length];
        t.readBar(offset, b);
        return Le.value(b);
    }

    void barWrite(long offset, int length, long value) {
        byte[] b = new byte[length];
        Le.fill(b, value);
        t.writeBar(offset, b);
    }

    /** Firmware: size BAR0 (64-bit), place it at {@code address}, turn on memory decoding and bus mastering. */
    long assignBar(long address) {
        assertEquals(VirtioPciTransport.VENDOR_ID, cfg(PCI_VENDOR_ID, 2));
        assertEquals(VirtioPciTransport.DEVICE_ID_BASE + FakeDevice.TYPE, cfg(PCI_DEVICE_ID, 2));
        assertEquals(1, cfg(PCI_REVISION_ID, 1));
        int flags = cfg(PCI_BASE_ADDRESS_0, 4) & 0xf;
        assertEquals(PCI_BASE_ADDRESS_MEM_TYPE_64, flags);
        cfgWrite(PCI_BASE_ADDRESS_0, 4, 0xffff_ffffL);
        cfgWrite(PCI_BASE_ADDRESS_1, 4, 0xffff_ffffL);
        long mask = (cfg(PCI_BASE_ADDRESS_0, 4) & 0xffff_fff0L) | ((long) cfg(PCI_BASE_ADDRESS_1, 4) << 32);
        long size = ~mask + 1;
        assertEquals(VirtioPciTransport.BAR_SIZE, size);
        cfgWrite(PCI_BASE_ADDRESS_0, 4, address);
        cfgWrite(PCI_BASE_ADDRESS_1, 4, address >>> 32);
        cfgWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        bar = address;
        return size;
    }

    /** vp_modern_probe: walk the capability list, keep the first vendor capability of each type in BAR0. */
    void findCapabilities() {
        assertTrue((cfg(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) != 0);
        int pos = cfg(PCI_CAPABILITY_LIST, 1);
        for (int guard = 0; pos != 0 && guard < 48; guard++) {
            int id = cfg(pos + PCI_CAP_LIST_ID, 1);
            int type = cfg(pos + VIRTIO_PCI_CAP_CFG_TYPE, 1);
            // The PCI_CFG window's bar field is the driver's to write; the others must point into BAR0.
            if (id == PCI_CAP_ID_VNDR && (type == VIRTIO_PCI_CAP_PCI_CFG || cfg(pos + VIRTIO_PCI_CAP_BAR, 1) == 0)) {
                capOffsets.putIfAbsent(type, pos);
            } else if (id == PCI_CAP_ID_MSIX) {
                msixCap = pos;
            }
            pos = cfg(pos + PCI_CAP_LIST_NEXT, 1);
        }
        assertTrue(
                capOffsets
                        .keySet()
                        .containsAll(java.util.List.of(
                                VIRTIO_PCI_CAP_COMMON_CFG,
                                VIRTIO_PCI_CAP_NOTIFY_CFG,
                                VIRTIO_PCI_CAP_ISR_CFG,
                                VIRTIO_PCI_CAP_DEVICE_CFG,
                                VIRTIO_PCI_CAP_PCI_CFG)),
                capOffsets.toString());
        notifyMultiplier = cfg(capOffsets.get(VIRTIO_PCI_CAP_NOTIFY_CFG) + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
        assertTrue(msixCap != 0);
        msixTable = cfg(msixCap + PCI_MSIX_TABLE, 4) & ~PCI_MSIX_TABLE_BIR;
        pba = cfg(msixCap + PCI_MSIX_PBA, 4) & ~PCI_MSIX_TABLE_BIR;
    }

    long region(int type) {
        return cfg(capOffsets.get(type) + VIRTIO_PCI_CAP_OFFSET, 4) & 0xffff_ffffL;
    }

    int msixTableSize() {
        return (cfg(msixCap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
    }

    /** pci_msix_enable: enable with the function masked, program every entry, unmask the function. */
    void enableMsix(long address, int firstVector) {
        cfgWrite(msixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        for (int v = 0; v < msixTableSize(); v++) {
            long entry = msixTable + (long) v * PCI_MSIX_ENTRY_SIZE;
            barWrite(entry + PCI_MSIX_ENTRY_LOWER_ADDR, 4, address);
            barWrite(entry + PCI_MSIX_ENTRY_UPPER_ADDR, 4, address >>> 32);
            barWrite(entry + PCI_MSIX_ENTRY_DATA, 4, firstVector + v);
            barWrite(entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
        }
        cfgWrite(msixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    }

    void maskVector(int v, boolean mask) {
        barWrite(
                msixTable + (long) v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
                4,
                mask ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
    }

    boolean pending(int v) {
        return (bar(pba + 8L * (v / 64), 8) & (1L << (v % 64))) != 0;
    }

    private long common() {
        return region(VIRTIO_PCI_CAP_COMMON_CFG);
    }

    int status() {
        return (int) bar(common() + VIRTIO_PCI_COMMON_STATUS, 1);
    }

    void addStatus(int bit) {
        barWrite(common() + VIRTIO_PCI_COMMON_STATUS, 1, status() | bit);
    }

    /** vp_reset + virtio_dev_probe up to FEATURES_OK: whether the device kept FEATURES_OK. */
    boolean negotiate(long driverWants) {
        long c = common();
        barWrite(c + VIRTIO_PCI_COMMON_STATUS, 1, 0);
        assertEquals(0, status());
        addStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        addStatus(VIRTIO_CONFIG_S_DRIVER);
        barWrite(c + VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
        long offered = bar(c + VIRTIO_PCI_COMMON_DF, 4);
        barWrite(c + VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
        offered |= bar(c + VIRTIO_PCI_COMMON_DF, 4) << 32;
        long features = offered & driverWants;
        barWrite(c + VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        barWrite(c + VIRTIO_PCI_COMMON_GF, 4, features & 0xffff_ffffL);
        barWrite(c + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        barWrite(c + VIRTIO_PCI_COMMON_GF, 4, features >>> 32);
        addStatus(VIRTIO_CONFIG_S_FEATURES_OK);
        return (status() & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
    }

    /** vp_modern_find_vqs with one vector per queue: config on vector 0, queue q on q + 1; then DRIVER_OK. */
    void setUpQueues(long ringBase) {
        long c = common();
        barWrite(c + VIRTIO_PCI_COMMON_MSIX, 2, 0);
        assertEquals(0, bar(c + VIRTIO_PCI_COMMON_MSIX, 2));
        int n = (int) bar(c + VIRTIO_PCI_COMMON_NUMQ, 2);
        for (int q = 0; q < n; q++) {
            barWrite(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
            int size = (int) bar(c + VIRTIO_PCI_COMMON_Q_SIZE, 2);
            assertEquals(0, bar(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2));
            long desc = ringBase + q * 0x10000L;
            barWrite(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
            barWrite(c + VIRTIO_PCI_COMMON_Q_DESCLO, 4, desc);
            barWrite(c + VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
            barWrite(c + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, desc + 0x4000);
            barWrite(c + VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
            barWrite(c + VIRTIO_PCI_COMMON_Q_USEDLO, 4, desc + 0x8000);
            barWrite(c + VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
            assertEquals(q, bar(c + VIRTIO_PCI_COMMON_Q_NOFF, 2));
            barWrite(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1);
            assertEquals(q + 1, bar(c + VIRTIO_PCI_COMMON_Q_MSIX, 2), "vector accepted");
            barWrite(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
            assertEquals(1, bar(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2));
        }
        addStatus(VIRTIO_CONFIG_S_DRIVER_OK);
    }

    /** The guest's doorbell for queue {@code q}, as an offset in BAR0. */
    long notifyOffset(int q) {
        return region(VIRTIO_PCI_CAP_NOTIFY_CFG) + (long) notifyMultiplier * q;
    }
}
