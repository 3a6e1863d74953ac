package dev.vhostnet.virtio;

import static dev.vhostnet.sys.VirtioConfigUapi.*;
import static dev.vhostnet.sys.VirtioMmioUapi.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.OpenFds;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A driver that speaks only through the registers, in the order Linux's {@code virtio_mmio.c} probes. */
class MmioDriverTest {
    private static final long BASE = 0xd000_0000L;

    private static int read(VirtioMmioTransport t, int offset) {
        byte[] b = new byte[4];
        t.read(offset, b);
        return (int) Le.value(b);
    }

    private static void write(VirtioMmioTransport t, int offset, int value) {
        byte[] b = new byte[4];
        Le.fill(b, value & 0xffff_ffffL);
        t.write(offset, b);
    }

    private static void addStatus(VirtioMmioTransport t, int bit) {
        write(t, VIRTIO_MMIO_STATUS, read(t, VIRTIO_MMIO_STATUS) | bit);
    }

    /** register_virtio_device + virtio_dev_probe up to FEATURES_OK; returns whether the device kept it. */
    private static boolean negotiate(VirtioMmioTransport t, long driverWants) {
        assertEquals(MAGIC, read(t, VIRTIO_MMIO_MAGIC_VALUE));
        assertEquals(2, read(t, VIRTIO_MMIO_VERSION));
        assertEquals(FakeDevice.TYPE, read(t, VIRTIO_MMIO_DEVICE_ID));
        read(t, VIRTIO_MMIO_VENDOR_ID);
        write(t, VIRTIO_MMIO_STATUS, 0);
        assertEquals(0, read(t, VIRTIO_MMIO_STATUS));
        addStatus(t, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        addStatus(t, VIRTIO_CONFIG_S_DRIVER);
        write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        long offered = (long) read(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
        write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        offered |= read(t, VIRTIO_MMIO_DEVICE_FEATURES) & 0xffff_ffffL;
        assertEquals(DeviceState.VERSION_1 | FakeDevice.F_BASE | FakeDevice.F_NEEDS_BASE, offered);
        long features = offered & driverWants;
        write(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        write(t, VIRTIO_MMIO_DRIVER_FEATURES, (int) (features >>> 32));
        write(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        write(t, VIRTIO_MMIO_DRIVER_FEATURES, (int) features);
        addStatus(t, VIRTIO_CONFIG_S_FEATURES_OK);
        return (read(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
    }

    /** vm_setup_vq for each queue, then DRIVER_OK. */
    private static void setUpQueues(VirtioMmioTransport t, long ringBase) {
        for (int q = 0; q < 2; q++) {
            write(t, VIRTIO_MMIO_QUEUE_SEL, q);
            assertEquals(0, read(t, VIRTIO_MMIO_QUEUE_READY));
            int num = read(t, VIRTIO_MMIO_QUEUE_NUM_MAX);
            long desc = ringBase + q * 0x10000L;
            write(t, VIRTIO_MMIO_QUEUE_NUM, num);
            write(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (int) desc);
            write(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (int) (desc >>> 32));
            write(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (int) (desc + 0x4000));
            write(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
            write(t, VIRTIO_MMIO_QUEUE_USED_LOW, (int) (desc + 0x8000));
            write(t, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
            write(t, VIRTIO_MMIO_QUEUE_READY, 1);
            assertEquals(1, read(t, VIRTIO_MMIO_QUEUE_READY), "queue " + q + " enabled");
        }
        addStatus(t, VIRTIO_CONFIG_S_DRIVER_OK);
    }

    @Test
    void probesNegotiatesSetsUpQueuesResetsAndInitialisesAgain() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        FakeDevice device = new FakeDevice();
        try (MemoryTable memory = MemoryTable.builder().region(0, 0x100000).build();
                VirtioMmioTransport t = new VirtioMmioTransport(device, BASE, 5, 0, memory)) {
            assertTrue(negotiate(t, -1L));
            setUpQueues(t, 0x10000);
            assertTrue(t.isActive());
            assertEquals(List.of(DeviceState.VERSION_1 | FakeDevice.F_BASE | FakeDevice.F_NEEDS_BASE), device.acked);
            assertEquals(
                    List.of(List.of(
                            new QueueConfig(0, 256, 0x10000, 0x14000, 0x18000, QueueConfig.NO_VECTOR),
                            new QueueConfig(1, 64, 0x20000, 0x24000, 0x28000, QueueConfig.NO_VECTOR))),
                    device.activations);

            byte[] mac = new byte[6];
            for (int i = 0; i < 6; i++) {
                byte[] one = new byte[1];
                t.read(VIRTIO_MMIO_CONFIG + i, one);
                mac[i] = one[0];
            }
            assertArrayEquals(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}, mac);

            int generation = read(t, VIRTIO_MMIO_CONFIG_GENERATION);
            device.notifiers.signalConfigChange();
            assertEquals(generation + 1, read(t, VIRTIO_MMIO_CONFIG_GENERATION));
            assertEquals(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG, read(t, VIRTIO_MMIO_INTERRUPT_STATUS));
            write(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
            assertEquals(VIRTIO_MMIO_INT_VRING, read(t, VIRTIO_MMIO_INTERRUPT_STATUS));
            assertEquals(
                    1,
                    device.notifiers.call(0).read() + device.notifiers.call(1).read() + 1,
                    "the config change went to the config notifier, not a queue's call fd");

            write(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
            assertEquals(1, device.notifiers.kick(1).read(), "a notify that exits still kicks the queue");

            write(t, VIRTIO_MMIO_STATUS, 0);
            assertEquals(1, device.resets);
            assertFalse(t.isActive());
            write(t, VIRTIO_MMIO_QUEUE_SEL, 0);
            assertEquals(0, read(t, VIRTIO_MMIO_QUEUE_READY), "reset disabled the queues");

            assertTrue(negotiate(t, DeviceState.VERSION_1 | FakeDevice.F_BASE));
            setUpQueues(t, 0x40000);
            assertEquals(2, device.activations.size());
            assertEquals(DeviceState.VERSION_1 | FakeDevice.F_BASE, device.acked.get(1));
            assertEquals(0, t.counters().refusals(), t.counters().lastRefusal());
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void refusesASubsetTheDeviceCannotServeAndFeaturesWithoutVersion1() throws Exception {
        FakeDevice device = new FakeDevice();
        try (VirtioMmioTransport t = new VirtioMmioTransport(device, BASE, 5, 0, null)) {
            assertFalse(negotiate(t, DeviceState.VERSION_1 | FakeDevice.F_NEEDS_BASE), "NEEDS_BASE without BASE");
            assertFalse(negotiate(t, FakeDevice.F_BASE), "no VERSION_1");
            assertEquals(2, t.counters().refusedFeatures());
            assertEquals(List.of(), device.acked);
            addStatus(t, VIRTIO_CONFIG_S_DRIVER_OK);
            assertEquals(0, read(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK needs FEATURES_OK");
            assertTrue(negotiate(t, -1L), "a driver that resets and asks again is served");
        }
    }

    @Test
    void refusesRingsOutsideGuestMemoryAndMarksAFailedActivationNeedsReset() throws Exception {
        FakeDevice device = new FakeDevice();
        try (MemoryTable memory = MemoryTable.builder().region(0, 0x100000).build();
                VirtioMmioTransport t = new VirtioMmioTransport(device, BASE, 5, 0, memory)) {
            assertTrue(negotiate(t, -1L));
            write(t, VIRTIO_MMIO_QUEUE_SEL, 0);
            write(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xff800);
            write(t, VIRTIO_MMIO_QUEUE_READY, 1);
            assertEquals(0, read(t, VIRTIO_MMIO_QUEUE_READY));
            assertEquals(1, t.counters().refusedQueues());
            assertTrue(
                    t.counters().lastRefusal().contains("queue 0"), t.counters().lastRefusal());

            device.failActivation = true;
            addStatus(t, VIRTIO_CONFIG_S_DRIVER_OK);
            assertEquals(VIRTIO_CONFIG_S_NEEDS_RESET, read(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
            assertEquals(VIRTIO_MMIO_INT_CONFIG, read(t, VIRTIO_MMIO_INTERRUPT_STATUS));
            assertEquals(1, t.counters().activationFailures());
            write(t, VIRTIO_MMIO_STATUS, read(t, VIRTIO_MMIO_STATUS) & ~VIRTIO_CONFIG_S_NEEDS_RESET);
            assertEquals(
                    VIRTIO_CONFIG_S_NEEDS_RESET,
                    read(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
                    "the driver cannot clear NEEDS_RESET but by a reset");
            write(t, VIRTIO_MMIO_STATUS, 0);
            assertEquals(0, read(t, VIRTIO_MMIO_STATUS));
        }
    }

    @Test
    void attachRegistersOneDoorbellPerQueueWithItsIndexAndEveryNotifierOnTheGsi() throws Exception {
        RecordingWiring wiring = new RecordingWiring();
        try (VirtioMmioTransport t = new VirtioMmioTransport(new FakeDevice(), BASE, 7, 0, null)) {
            t.attach(wiring);
            assertEquals(
                    List.of(
                            "ioeventfd 0xd0000050 len 4 match 0",
                            "ioeventfd 0xd0000050 len 4 match 1",
                            "irqfd gsi 7",
                            "irqfd gsi 7",
                            "irqfd gsi 7"),
                    wiring.log);
        }
        assertEquals(List.of(), List.copyOf(wiring.irqfds.keySet()), "close deassigned every irqfd");
    }
}
