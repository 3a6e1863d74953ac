package dev.vhostnet.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.TapInNamespace;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A virtio-net device on either backend with this process as its guest driver: guest
 * memory, rings and buffers laid out by {@link DriverMemory}, a tap with a vnet header in a network
 * namespace of its own ({@link TapInNamespace}), one {@link VirtioNetDriver} per queue pair.
 */
final class NetFixture implements AutoCloseable {
    static final long RAM = 64L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 256;
    static final int BUFFER = 2048;

    final MemoryTable memory;
    final TapInNamespace net;
    final DriverMemory layout;
    final List<Virtqueue> queues = new ArrayList<>();
    final NetDeviceConfig config;
    NetDevice device;
    final List<VirtioNetDriver> drivers = new ArrayList<>();

    private NetFixture(
            MemoryTable memory, TapInNamespace net, DriverMemory layout, NetDeviceConfig config, NetDevice device) {
        this.memory = memory;
        this.config = config;
        this.net = net;
        this.layout = layout;
        this.device = device;
    }

    /** Skips a kernel-backend case where this host has no vhost-net (the test VM runs it). */
    static void assumeBackend(BackendChoice.Kind kind) {
        if (kind == BackendChoice.Kind.KERNEL) {
            assumeVhostNet();
        }
    }

    static void assumeVhostNet() {
        assumeTrue(
                Files.exists(VhostNet.DEVICE),
                "no /dev/vhost-net on this host (kernel without CONFIG_VHOST_NET, or module not loaded: "
                        + "modprobe vhost_net); these tests run in the test VM: KernelTestsInVmTest");
    }

    /** Starts a device of {@code pairs} queue pairs on {@code kind} for a driver asking for {@code features}. */
    static NetFixture start(BackendChoice.Kind kind, int pairs, FeatureSet features) throws Exception {
        return start(kind, pairs, features, BUFFER, c -> c);
    }

    static NetFixture start(
            BackendChoice.Kind kind,
            int pairs,
            FeatureSet features,
            int bufferSize,
            UnaryOperator<NetDeviceConfig.Builder> more)
            throws Exception {
        return start(kind, pairs, features, bufferSize, RING, more);
    }

    /** As above, with rings of {@code ring} entries. */
    static NetFixture start(
            BackendChoice.Kind kind,
            int pairs,
            FeatureSet features,
            int bufferSize,
            int ring,
            UnaryOperator<NetDeviceConfig.Builder> more)
            throws Exception {
        return start(
                kind,
                features,
                bufferSize,
                ring,
                TapConfig.builder().queues(pairs).vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF),
                more);
    }

    /** As above, on a tap opened as {@code tap} says, with a queue pair per tap queue. */
    static NetFixture start(
            BackendChoice.Kind kind,
            FeatureSet features,
            int bufferSize,
            TapConfig.Builder tap,
            UnaryOperator<NetDeviceConfig.Builder> more)
            throws Exception {
        return start(kind, features, bufferSize, RING, tap, more);
    }

    private static NetFixture start(
            BackendChoice.Kind kind,
            FeatureSet features,
            int bufferSize,
            int ring,
            TapConfig.Builder tap,
            UnaryOperator<NetDeviceConfig.Builder> more)
            throws Exception {
        MemoryTable memory = MemoryTable.builder().region(0, RAM).build();
        TapInNamespace net = null;
        NetDevice device = null;
        List<EventFd> fds = new ArrayList<>();
        try {
            net = TapInNamespace.open(tap);
            int pairs = net.tap.queues().size();
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, pairs, ring, bufferSize);
            NetDeviceConfig.Builder config =
                    NetDeviceConfig.builder().memory(memory).tap(net.tap).driverFeatures(features);
            List<Virtqueue> queues = new ArrayList<>();
            for (DriverMemory.QueuePair p : layout.queuePairs()) {
                Virtqueue rx = queue(p.rx(), fds);
                Virtqueue tx = queue(p.tx(), fds);
                queues.add(rx);
                queues.add(tx);
                config.queuePair(new QueuePair(rx, tx));
            }
            NetDeviceConfig built = more.apply(config).build();
            device = NetDevices.start(built, kind, VringBases.zero(pairs));
            NetFixture kernelNet = new NetFixture(memory, net, layout, built, device);
            kernelNet.queues.addAll(queues);
            for (int p = 0; p < pairs; p++) {
                VirtioNetDriver driver = new VirtioNetDriver(
                        memory,
                        layout.queuePair(p),
                        device.features().virtio(),
                        queues.get(2 * p).kick(),
                        queues.get(2 * p + 1).kick());
                driver.refillRx();
                kernelNet.drivers.add(driver);
            }
            return kernelNet;
        } catch (Exception | AssertionError e) {
            if (device != null) {
                device.close();
            }
            fds.forEach(EventFd::close);
            if (net != null) {
                net.close();
            }
            memory.close();
            throw e;
        }
    }

    private static Virtqueue queue(dev.vhostnet.ctl.ring.VringLayout layout, List<EventFd> fds) throws Exception {
        EventFd kick = EventFd.create();
        fds.add(kick);
        EventFd call = EventFd.create();
        fds.add(call);
        return new Virtqueue(layout, kick, call);
    }

    /**
     * Moves the running device to the {@code kind} backend: stops it, takes each vring's next
     * available index, closes it, and starts the other backend from those indices — under traffic.
     */
    void switchTo(BackendChoice.Kind kind) throws Exception {
        Features.Negotiated before = device.features();
        VringBases bases = device.stop();
        device.close();
        device = NetDevices.start(config, kind, bases);
        if (!device.features().virtio().equals(before.virtio())) {
            throw new AssertionError("the " + kind + " backend negotiated other features than the driver runs with");
        }
    }

    VirtioNetDriver driver(int pair) {
        return drivers.get(pair);
    }

    /** Waits up to {@code millis} for a frame on {@code pair}'s RX queue, re-posting buffers. */
    Optional<RxFrame> receive(int pair, int millis) throws Exception {
        return drivers.get(pair).receive(queues.get(2 * pair).call(), millis);
    }

    @Override
    public void close() throws Exception {
        try {
            device.close();
            queues.forEach(q -> {
                q.kick().close();
                q.call().close();
            });
        } finally {
            try {
                net.close();
            } finally {
                memory.close();
            }
        }
    }
}
