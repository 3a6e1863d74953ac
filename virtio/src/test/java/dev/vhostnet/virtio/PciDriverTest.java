package dev.vhostnet.virtio;

import static dev.vhostnet.sys.VirtioPciUapi.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.PciUapi;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PciDriverTest {
    private static final long BAR = 0xe000_0000L;
    private static final int GSI_BASE = 40;

    @Test
    void firmwareAndLinuxBringTheDeviceUpResetAndBringItUpAgain() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        FakeDevice device = new FakeDevice();
        RecordingWiring wiring = new RecordingWiring();
        try (MemoryTable memory = MemoryTable.builder().region(0, 0x100000).build();
                VirtioPciTransport t = new VirtioPciTransport(device, GSI_BASE, wiring, memory)) {
            PciDriver d = new PciDriver(t);
            assertEquals(OptionalLong.empty(), t.barAddress());
            d.assignBar(BAR);
            assertEquals(OptionalLong.of(BAR), t.barAddress());
            d.findCapabilities();
            assertEquals(3, d.msixTableSize(), "a vector per queue and one for configuration");
            assertEquals(
                    List.of("ioeventfd 0xe0003000 len 2 match 0", "ioeventfd 0xe0003004 len 2 match 1"), wiring.log);

            d.enableMsix(0xfee0_0000L, 0x40);
            assertTrue(d.negotiate(-1L));
            assertFalse(
                    d.negotiate(DeviceState.VERSION_1 | FakeDevice.F_NEEDS_BASE), "a subset the device cannot serve");
            assertTrue(d.negotiate(-1L));
            d.setUpQueues(0x10000);
            assertEquals(
                    List.of(
                            new QueueConfig(0, 256, 0x10000, 0x14000, 0x18000, 1),
                            new QueueConfig(1, 64, 0x20000, 0x24000, 0x28000, 2)),
                    device.activations.get(0));
            assertEquals(GSI_BASE + 1, wiring.irqfdGsi(device.notifiers.call(0)));
            assertEquals(GSI_BASE + 2, wiring.irqfdGsi(device.notifiers.call(1)));
            assertEquals(0xfee0_0000L, wiring.routes.get(GSI_BASE + 1)[0]);
            assertEquals(0x41, wiring.routes.get(GSI_BASE + 1)[1]);

            // Device configuration through its capability and through the PCI_CFG window.
            assertEquals(0x12, d.bar(d.region(VIRTIO_PCI_CAP_DEVICE_CFG) + 3, 1));
            int window = d.capOffsets.get(VIRTIO_PCI_CAP_PCI_CFG);
            d.cfgWrite(window + VIRTIO_PCI_CAP_BAR, 1, 0);
            d.cfgWrite(window + VIRTIO_PCI_CAP_OFFSET, 4, d.region(VIRTIO_PCI_CAP_DEVICE_CFG) + 4);
            d.cfgWrite(window + VIRTIO_PCI_CAP_LENGTH, 4, 2);
            assertEquals(0x5634, d.cfg(window + VIRTIO_PCI_CFG_CAP_DATA, 2));

            device.notifiers.signalConfigChange();
            assertEquals(VIRTIO_PCI_ISR_CONFIG, d.bar(d.region(VIRTIO_PCI_CAP_ISR_CFG), 1));
            assertEquals(0, d.bar(d.region(VIRTIO_PCI_CAP_ISR_CFG), 1), "reading the ISR cleared it");

            d.barWrite(d.notifyOffset(1), 2, 1);
            assertEquals(1, device.notifiers.kick(1).read(), "a notify that exits still kicks the queue");

            assertTrue(d.negotiate(DeviceState.VERSION_1 | FakeDevice.F_BASE), "reset, then a second initialisation");
            assertEquals(1, device.resets);
            assertNull(wiring.irqfdGsi(device.notifiers.call(0)), "reset put the vectors back to NO_VECTOR");
            d.setUpQueues(0x40000);
            assertEquals(2, device.activations.size());
            assertEquals(GSI_BASE + 1, wiring.irqfdGsi(device.notifiers.call(0)));
            assertEquals(1, t.counters().refusedFeatures());
            assertEquals(1, t.counters().refusals(), t.counters().lastRefusal());
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void aMaskedVectorsSignalsSetThePendingBitAndUnmaskDeliversOne() throws Exception {
        FakeDevice device = new FakeDevice();
        RecordingWiring wiring = new RecordingWiring();
        try (VirtioPciTransport t = new VirtioPciTransport(device, GSI_BASE, wiring, null)) {
            PciDriver d = new PciDriver(t);
            d.assignBar(BAR);
            d.findCapabilities();
            d.enableMsix(0xfee0_0000L, 0x40);
            assertTrue(d.negotiate(-1L));
            d.setUpQueues(0x10000);

            d.maskVector(1, true);
            assertNull(wiring.irqfdGsi(device.notifiers.call(0)), "a masked vector's notifier is no irqfd");
            for (int i = 0; i < 5; i++) {
                device.notifiers.call(0).signal();
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!d.pending(1) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(d.pending(1), "PBA bit set by the watcher");
            assertTrue(t.isPending(1));
            assertFalse(d.pending(2));

            d.barWrite(d.msixTable + 16 + PciUapi.PCI_MSIX_ENTRY_DATA, 4, 0x51);
            d.maskVector(1, false);
            assertEquals(GSI_BASE + 1, wiring.irqfdGsi(device.notifiers.call(0)));
            assertEquals(0x51, wiring.routes.get(GSI_BASE + 1)[1], "the rewritten message is routed on unmask");
            assertFalse(d.pending(1));
            assertEquals(
                    1, device.notifiers.call(0).read(), "one interrupt delivered through the irqfd for five signals");

            d.cfgWrite(
                    d.msixCap + PciUapi.PCI_MSIX_FLAGS,
                    2,
                    PciUapi.PCI_MSIX_FLAGS_ENABLE | PciUapi.PCI_MSIX_FLAGS_MASKALL);
            assertNull(wiring.irqfdGsi(device.notifiers.call(1)), "the function mask masks every vector");
            d.cfgWrite(d.msixCap + PciUapi.PCI_MSIX_FLAGS, 2, PciUapi.PCI_MSIX_FLAGS_ENABLE);
            assertEquals(GSI_BASE + 2, wiring.irqfdGsi(device.notifiers.call(1)));
            assertEquals(0, device.notifiers.call(1).read(), "nothing was pending: nothing delivered");
        }
    }
}
