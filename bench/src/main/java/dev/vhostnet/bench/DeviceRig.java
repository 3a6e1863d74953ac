package dev.vhostnet.bench;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;

/**
 * A virtio-net device on one backend with this process as its guest driver ({@link VirtioNetDriver},
 * one per queue pair, rings and buffers laid out by {@link DriverMemory} in 64 MiB of guest memory),
 * its tap in the bench namespace.
 */
final class DeviceRig extends Rig {
    static final long RAM = 64L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 256;
    static final int BUFFER = 2048;
    /** What the driver asks for: the features of the data path tests, plus UFO for 64 KiB TX. */
    static final FeatureSet FEATURES = FeatureSet.of(
            VirtioFeature.VERSION_1,
            VirtioFeature.MRG_RXBUF,
            VirtioFeature.EVENT_IDX,
            VirtioFeature.INDIRECT_DESC,
            VirtioFeature.CSUM,
            VirtioFeature.GUEST_CSUM,
            VirtioFeature.HOST_UFO);

    private final BackendChoice.Kind kind;
    private final MemoryTable memory;
    private final List<EventFd> fds;
    private final NetDevice device;
    private final List<DriverPort> ports = new ArrayList<>();
    private final List<Path> deviceThreads = new ArrayList<>();
    private final List<Path> outsideThreads = new ArrayList<>();
    private long[] loopIds = new long[0];

    private DeviceRig(
            BackendChoice.Kind kind,
            BenchNet net,
            Peer peer,
            int pairs,
            MemoryTable memory,
            List<EventFd> fds,
            NetDevice device) {
        super(net, peer, pairs);
        this.kind = kind;
        this.memory = memory;
        this.fds = fds;
        this.device = device;
    }

    static DeviceRig start(BackendChoice.Kind kind, int pairs, TxCopy txCopy) throws Exception {
        MemoryTable memory = MemoryTable.builder().region(0, RAM).build();
        List<EventFd> fds = new ArrayList<>();
        BenchNet net = null;
        Peer peer = null;
        NetDevice device = null;
        try {
            net = BenchNet.open(pairs);
            peer = Peer.start(net, pairs);
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, pairs, RING, BUFFER);
            NetDeviceConfig.Builder config = NetDeviceConfig.builder()
                    .memory(memory)
                    .tap(net.tap)
                    .driverFeatures(FEATURES)
                    .txCopy(txCopy);
            List<Virtqueue> queues = new ArrayList<>();
            for (DriverMemory.QueuePair p : layout.queuePairs()) {
                Virtqueue rx = new Virtqueue(p.rx(), add(fds, EventFd.create()), add(fds, EventFd.create()));
                Virtqueue tx = new Virtqueue(p.tx(), add(fds, EventFd.create()), add(fds, EventFd.create()));
                queues.add(rx);
                queues.add(tx);
                config.queuePair(new QueuePair(rx, tx));
            }
            device = NetDevices.start(config.build(), kind, VringBases.zero(pairs));
            DeviceRig rig = new DeviceRig(kind, net, peer, pairs, memory, fds, device);
            for (int p = 0; p < pairs; p++) {
                VirtioNetDriver driver = new VirtioNetDriver(
                        memory,
                        layout.queuePair(p),
                        device.features().virtio(),
                        queues.get(2 * p).kick(),
                        queues.get(2 * p + 1).kick());
                driver.refillRx();
                rig.ports.add(new DriverPort(driver, queues.get(2 * p).call()));
            }
            if (device instanceof EmulatedNetDevice emulated) {
                List<Long> ids = new ArrayList<>();
                for (IoEventLoop loop : new LinkedHashSet<>(emulated.loops())) {
                    rig.deviceThreads.add(loop.submit(ThreadCpu::currentThread).get());
                    ids.add(loop.submit(() -> Thread.currentThread().getId()).get());
                }
                rig.loopIds = ids.stream().mapToLong(Long::longValue).toArray();
            } else {
                List<List<Path>> workers = ThreadCpu.vhostWorkers();
                rig.outsideThreads.addAll(workers.get(0));
                rig.deviceThreads.addAll(workers.get(0));
                rig.deviceThreads.addAll(workers.get(1));
            }
            return rig;
        } catch (Exception | Error e) {
            if (device != null) {
                device.close();
            }
            if (peer != null) {
                peer.close();
            }
            fds.forEach(EventFd::close);
            if (net != null) {
                net.close();
            }
            memory.close();
            throw e;
        }
    }

    private static EventFd add(List<EventFd> fds, EventFd fd) {
        fds.add(fd);
        return fd;
    }

    @Override
    BenchPath path() {
        return kind == BackendChoice.Kind.KERNEL ? BenchPath.KERNEL : BenchPath.EMULATED;
    }

    @Override
    Optional<String> unsupported(Direction direction, int size) {
        if (direction == Direction.TX && size > LARGEST_RX && !device.has(VirtioFeature.HOST_UFO)) {
            return Optional.of("VIRTIO_NET_F_HOST_UFO not negotiated: a " + size + "-byte frame cannot be sent");
        }
        return super.unsupported(direction, size);
    }

    @Override
    GuestPort port(int pair) {
        return ports.get(pair);
    }

    @Override
    List<Path> deviceThreads() {
        return deviceThreads;
    }

    @Override
    long[] deviceJavaThreads() {
        return loopIds;
    }

    @Override
    List<Path> outsideThreads() {
        return outsideThreads;
    }

    /** How many vhost worker threads were found (kernel backend), for the report's notes. */
    int workerThreads() {
        return deviceThreads.size();
    }

    boolean workersOutsideProcess() {
        return !outsideThreads.isEmpty();
    }

    @Override
    public void close() throws IOException {
        try {
            device.close();
            peer.close();
            fds.forEach(EventFd::close);
        } finally {
            try {
                net.close();
            } finally {
                memory.close();
            }
        }
    }

    /**
     * The driver of one queue pair as a {@link GuestPort}: frames are received a batch at a time
     * in place ({@link VirtioNetDriver#receive(int, VirtioNetDriver.RxHandler)}), which re-posts
     * buffers itself once half the ring is free.
     */
    private static final class DriverPort implements GuestPort {
        private static final int BATCH = 32;
        private final VirtioNetDriver driver;
        private final EventFd rxCall;
        private final int[] lengths = new int[BATCH];
        private int received;
        private int next;
        private final VirtioNetDriver.RxHandler take = (buffer, offset, length) -> lengths[received++] = length;
        private byte[] frame;
        private VirtioNetHeader hdr;

        DriverPort(VirtioNetDriver driver, EventFd rxCall) {
            this.driver = driver;
            this.rxCall = rxCall;
        }

        @Override
        public void prepare(byte[] frame, VirtioNetHeader hdr) {
            this.frame = frame;
            this.hdr = hdr;
        }

        @Override
        public int send(int n) {
            int k = 0;
            while (k < n && driver.enqueue(hdr, frame, 0, frame.length)) {
                k++;
            }
            if (k == 0) {
                driver.reclaimTx();
            }
            return k;
        }

        @Override
        public void flush() throws Exception {
            driver.flush();
        }

        @Override
        public int receive() throws Exception {
            if (next == received) {
                next = 0;
                received = 0;
                if (driver.receive(BATCH, take) == 0) {
                    return -1;
                }
            }
            return lengths[next++];
        }

        @Override
        public void awaitReceive(int frames) throws Exception {
            driver.refillRx();
            driver.reclaimTx();
            driver.awaitRx(rxCall, 1, frames);
        }
    }
}
