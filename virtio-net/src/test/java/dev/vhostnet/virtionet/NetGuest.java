package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_ACKNOWLEDGE;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_DRIVER;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_DRIVER_OK;
import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_FEATURES_OK;
import static dev.vhostnet.sys.VirtioUapi.bit;

import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.ctl.ring.Used;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.DriverQueue;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.sys.VirtioUapi;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A guest's virtio-net driver that reaches the device only through {@link Registers}, in the order
 * Linux's {@code virtnet_probe} does: reset, ACKNOWLEDGE, DRIVER, read the device features, write
 * its own, FEATURES_OK (and read it back), read {@code max_virtqueue_pairs}, set up and enable every
 * queue ({@code virtnet_find_vqs}: RX/TX of each pair, then the control queue), DRIVER_OK. The data
 * rings are driven by {@link VirtioNetDriver}; the control queue as {@code virtnet_send_command}
 * does (header and payload device-readable, the status byte device-writable, then wait for it).
 * Doorbells are the transport's kick eventfds — what a KVM ioeventfd signals on the guest's write.
 */
final class NetGuest {
    static final long RAM = 64L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 256;
    static final int BUFFER = 2048;

    final Registers regs;
    final MemoryTable memory;
    final long features;
    final int pairs;
    final int controlIndex;
    final List<VirtioNetDriver> drivers = new ArrayList<>();
    private final DriverQueue<Integer> control;
    private final long commandGpa;

    private NetGuest(Registers regs, MemoryTable memory, long features, int pairs, DriverMemory layout, long base) {
        this.regs = regs;
        this.memory = memory;
        this.features = features;
        this.pairs = pairs;
        for (int p = 0; p < pairs; p++) {
            drivers.add(new VirtioNetDriver(
                    memory,
                    layout.queuePair(p),
                    dev.vhostnet.ctl.FeatureSet.of(features),
                    regs.notifiers().kick(2 * p),
                    regs.notifiers().kick(2 * p + 1)));
        }
        boolean hasControl = (features & bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_VQ)) != 0;
        long ctrlBase = base + layout.bytes();
        this.controlIndex = hasControl ? 2 * pairs : -1;
        this.control = hasControl
                ? DriverQueue.<Integer>builder(
                                memory,
                                VringLayout.contiguous(ctrlBase, VirtioNetDevice.CONTROL_QUEUE_SIZE),
                                dev.vhostnet.ctl.FeatureSet.of(features))
                        .name("control")
                        .build()
                : null;
        this.commandGpa = ctrlBase + VringLayout.contiguousBytes(VirtioNetDevice.CONTROL_QUEUE_SIZE);
    }

    /** reset … FEATURES_OK; returns the features the device kept, or nothing if it left FEATURES_OK clear. */
    static OptionalLong negotiate(Registers r, long wanted) {
        r.writeStatus(0);
        if (r.status() != 0) {
            throw new AssertionError("reset did not clear the status");
        }
        r.writeStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        r.writeStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        long features = r.deviceFeatures() & wanted;
        r.writeDriverFeatures(features);
        r.writeStatus(r.status() | VIRTIO_CONFIG_S_FEATURES_OK);
        return (r.status() & VIRTIO_CONFIG_S_FEATURES_OK) != 0 ? OptionalLong.of(features) : OptionalLong.empty();
    }

    /** The whole probe, the driver taking {@code wanted} ∩ offered, its rings from {@code base}; then RX buffers posted. */
    static NetGuest probe(Registers r, MemoryTable memory, long wanted, long base) throws Exception {
        long features = negotiate(r, wanted)
                .orElseThrow(() -> new AssertionError("the device refused features: " + r.counters()));
        int pairs = (features & bit(VirtioUapi.VIRTIO_NET_F_MQ)) != 0
                ? (int) r.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS, 2)
                : 1;
        DriverMemory layout = DriverMemory.layout(base, RAM - base - (1 << 20), pairs, RING, BUFFER);
        NetGuest g = new NetGuest(r, memory, features, pairs, layout, base);
        for (int p = 0; p < pairs; p++) {
            setUp(r, 2 * p, layout.queuePair(p).rx());
            setUp(r, 2 * p + 1, layout.queuePair(p).tx());
        }
        if (g.control != null) {
            setUp(r, g.controlIndex, VringLayout.contiguous(base + layout.bytes(), VirtioNetDevice.CONTROL_QUEUE_SIZE));
        }
        r.writeStatus(r.status() | VIRTIO_CONFIG_S_DRIVER_OK);
        for (VirtioNetDriver d : g.drivers) {
            d.refillRx();
        }
        return g;
    }

    private static void setUp(Registers r, int q, VringLayout l) {
        int max = r.queueMax(q);
        if (max < l.size()) {
            throw new AssertionError("queue " + q + " allows " + max + ", the driver wants " + l.size());
        }
        if (!r.setUpQueue(q, l.size(), l.descGpa(), l.availGpa(), l.usedGpa())) {
            throw new AssertionError(
                    "queue " + q + " not enabled: " + r.counters().lastRefusal());
        }
    }

    VirtioNetDriver driver(int pair) {
        return drivers.get(pair);
    }

    /** Waits up to {@code millis} for a frame on {@code pair}'s RX queue (its call eventfd), re-posting buffers. */
    Optional<RxFrame> receive(int pair, int millis) throws Exception {
        return drivers.get(pair).receive(regs.notifiers().call(2 * pair), millis);
    }

    /** {@code virtnet_send_command}: the reply byte, or -1 if the device did not answer within 5 s. */
    int command(int cls, int cmd, byte[] payload) throws Exception {
        byte[] out = new byte[2 + payload.length];
        out[0] = (byte) cls;
        out[1] = (byte) cmd;
        System.arraycopy(payload, 0, out, 2, payload.length);
        long status = commandGpa + 8192;
        memory.write(commandGpa, out, 0, out.length);
        memory.putByte(status, (byte) 0xee);
        control.add(List.of(new Segment(commandGpa, out.length)), List.of(new Segment(status, 1)), 1);
        control.publish();
        regs.notifiers().kick(controlIndex).signal();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            List<Used<Integer>> used = control.poll();
            if (!used.isEmpty()) {
                return used.get(0).len() == 1 ? memory.getByte(status) & 0xff : -1;
            }
            Thread.sleep(1);
        }
        return -1;
    }

    /** {@code VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET}. */
    int setQueuePairs(int n) throws Exception {
        return command(VirtioNetUapi.VIRTIO_NET_CTRL_MQ, VirtioNetUapi.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, new byte[] {
            (byte) n, (byte) (n >>> 8)
        });
    }
}
