package dev.vhostnet.tools;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A virtio-net device with this process as its guest driver, looped to a network namespace peer:
 * the tap moved into a namespace of its own at {@value TapInNamespace#HOST_IP}/24, the driver at
 * {@value TapInNamespace#GUEST_IP}. {@link #run} sends UDP both ways and measures a request/response
 * ping-pong against a UDP echo in the namespace. Closing (also from a shutdown hook) stops the
 * device and removes the namespace and tap; it is idempotent.
 */
public final class Loopback implements AutoCloseable {
    /** The features the demo driver asks for. */
    public static final FeatureSet DRIVER_FEATURES = FeatureSet.of(
            VirtioFeature.VERSION_1, VirtioFeature.MRG_RXBUF, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC);

    private static final long RAM = 64L << 20;
    private static final long DRIVER_BASE = 1L << 20;
    private static final int RING = 256;
    private static final int BUFFER = 2048;
    private static final int GUEST_PORT = 7000;
    private static final int ECHO_TIMEOUT_MILLIS = 1000;

    /**
     * How much traffic: each direction runs until {@code packets} are sent (0: no limit) or
     * {@code duration} passes; the ping-pong until {@code pings} round trips or {@code duration}.
     */
    public record Options(long packets, Duration duration, int payloadBytes, int pings) {
        public Options {
            Preconditions.checkArgument(packets >= 0, "packets must be 0 (no limit) or more, not %s", packets);
            Preconditions.checkArgument(
                    !duration.isNegative() && !duration.isZero(), "duration must be positive, not %s", duration);
            Preconditions.checkArgument(
                    payloadBytes >= 1 && payloadBytes <= 1472,
                    "payload must be 1 to 1472 bytes (one 1500-byte MTU datagram), not %s",
                    payloadBytes);
            Preconditions.checkArgument(pings >= 1, "at least one ping, not %s", pings);
        }
    }

    /** One direction's traffic: datagrams sent and received, payload bytes received, over {@code seconds}. */
    public record Flow(long sent, long received, long bytes, double seconds) {
        public double packetsPerSecond() {
            return received / seconds;
        }

        /** Payload throughput in Mbit/s. */
        public double megabitsPerSecond() {
            return bytes * 8 / seconds / 1e6;
        }
    }

    /** Round trips driver → echo → driver: how many, how many lost, and the percentiles in microseconds. */
    public record Latency(int roundTrips, int lost, double p50Micros, double p99Micros) {}

    /** What {@link #run} measured, and on what. */
    public record Report(
            BackendChoice backend,
            List<String> features,
            String tap,
            String namespace,
            Flow toNamespace,
            Flow fromNamespace,
            Latency latency) {}

    private final BackendChoice backend;
    private final MemoryTable memory;
    private final TapInNamespace peer;
    private final List<EventFd> eventFds;
    private final NetDevice device;
    private final VirtioNetDriver driver;
    private final EventFd rxCall;
    private boolean closed;
    private volatile boolean running;

    private Loopback(
            BackendChoice backend,
            MemoryTable memory,
            TapInNamespace peer,
            List<EventFd> eventFds,
            NetDevice device,
            VirtioNetDriver driver) {
        this.backend = backend;
        this.memory = memory;
        this.peer = peer;
        this.eventFds = eventFds;
        this.device = device;
        this.driver = driver;
        this.rxCall = eventFds.get(1);
    }

    /**
     * Makes the namespace and the tap in it (named {@code vhd-…}), guest memory, and starts the device
     * on the backend {@code policy} picks; undoes what it made if a step fails.
     */
    public static Loopback open(BackendChoice.Policy policy) throws Exception {
        BackendChoice backend = BackendChoice.choose(policy, HostReport::vhostNetProblem);
        MemoryTable memory = MemoryTable.builder().region(0, RAM).build();
        TapInNamespace peer = null;
        List<EventFd> fds = new ArrayList<>();
        NetDevice device = null;
        try {
            peer = TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vhd");
            DriverMemory.QueuePair rings = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, BUFFER)
                    .queuePair(0);
            for (int i = 0; i < 4; i++) {
                fds.add(EventFd.create());
            }
            NetDeviceConfig config = NetDeviceConfig.builder()
                    .memory(memory)
                    .tap(peer.tap)
                    .driverFeatures(DRIVER_FEATURES)
                    .queuePair(new QueuePair(
                            new Virtqueue(rings.rx(), fds.get(0), fds.get(1)),
                            new Virtqueue(rings.tx(), fds.get(2), fds.get(3))))
                    .build();
            device = NetDevices.start(config, backend.kind(), VringBases.zero(1));
            VirtioNetDriver driver =
                    new VirtioNetDriver(memory, rings, device.features().virtio(), fds.get(0), fds.get(2));
            driver.refillRx();
            peer.addGuestNeighbour();
            return new Loopback(backend, memory, peer, fds, device, driver);
        } catch (Exception | Error e) {
            if (device != null) {
                device.close();
            }
            fds.forEach(EventFd::close);
            if (peer != null) {
                peer.close();
            }
            memory.close();
            throw e;
        }
    }

    /** The tap, in the namespace. */
    public String tapName() {
        return peer.tap.name();
    }

    public String namespaceName() {
        return peer.ns.name();
    }

    /** Sends both ways, then ping-pongs; returns what it measured. */
    public Report run(Options options) throws Exception {
        running = true;
        try {
            Flow out = toNamespace(options);
            Flow in = fromNamespace(options);
            Latency latency = pingPong(options);
            return new Report(
                    backend, device.features().virtio().names(), tapName(), namespaceName(), out, in, latency);
        } finally {
            running = false;
        }
    }

    private byte[] frame(int dstPort, byte[] payload) {
        return EthernetFrames.udp(
                TapInNamespace.GUEST_MAC,
                peer.tapMac,
                TapInNamespace.GUEST_IP_BYTES,
                TapInNamespace.HOST_IP_BYTES,
                GUEST_PORT,
                dstPort,
                payload);
    }

    private Flow toNamespace(Options options) throws Exception {
        DatagramSocket socket = peer.socket();
        try {
            socket.setReceiveBufferSize(4 << 20);
            AtomicLong received = new AtomicLong();
            AtomicLong bytes = new AtomicLong();
            Thread receiver = new Thread(
                    () -> {
                        DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
                        try {
                            while (true) {
                                socket.receive(p);
                                received.incrementAndGet();
                                bytes.addAndGet(p.getLength());
                            }
                        } catch (IOException e) {
                            // closed, or quiet for the receive timeout: done
                        }
                    },
                    "loopback-receiver");
            receiver.setDaemon(true);
            receiver.start();
            byte[] frame = frame(socket.getLocalPort(), new byte[options.payloadBytes()]);
            long start = System.nanoTime();
            long deadline = start + options.duration().toNanos();
            long sent = 0;
            while ((options.packets() == 0 || sent < options.packets()) && System.nanoTime() < deadline) {
                if (driver.enqueue(VirtioNetHeader.NONE, frame, 0, frame.length)) {
                    sent++;
                    if (sent % 32 == 0) {
                        driver.flush();
                    }
                } else {
                    driver.flush();
                    Thread.onSpinWait();
                }
            }
            driver.flush();
            awaitQuiet(received, sent);
            double seconds = (System.nanoTime() - start) / 1e9;
            socket.close(); // ends the receiver
            receiver.join(1000);
            driver.reclaimTx();
            return new Flow(sent, received.get(), bytes.get(), seconds);
        } finally {
            socket.close();
        }
    }

    /** Waits until {@code count} reaches {@code target} or stops growing for 200 ms. */
    private static void awaitQuiet(AtomicLong count, long target) throws InterruptedException {
        long last = -1;
        while (count.get() < target && count.get() != last) {
            last = count.get();
            Thread.sleep(200);
        }
    }

    private Flow fromNamespace(Options options) throws Exception {
        try (DatagramSocket socket = peer.socket()) {
            AtomicLong sent = new AtomicLong();
            byte[] payload = new byte[options.payloadBytes()];
            long start = System.nanoTime();
            long deadline = start + options.duration().toNanos();
            Thread sender = new Thread(
                    () -> {
                        try {
                            while ((options.packets() == 0 || sent.get() < options.packets())
                                    && System.nanoTime() < deadline) {
                                TapInNamespace.sendToGuest(socket, GUEST_PORT, payload);
                                sent.incrementAndGet();
                            }
                        } catch (Exception e) {
                            // the socket was closed: done
                        }
                    },
                    "loopback-sender");
            sender.setDaemon(true);
            sender.start();
            long received = 0;
            long bytes = 0;
            long quietSince = System.nanoTime();
            while (sender.isAlive() || System.nanoTime() - quietSince < 200_000_000L) {
                Optional<RxFrame> rx = driver.receive(rxCall, 50);
                if (rx.isPresent()) {
                    quietSince = System.nanoTime();
                    if (EthernetFrames.isUdpTo(rx.get().frame(), 0, GUEST_PORT)) {
                        received++;
                        bytes += rx.get().frame().length
                                - EthernetFrames.ETH_HLEN
                                - EthernetFrames.IP_HLEN
                                - EthernetFrames.UDP_HLEN;
                    }
                } else if (!sender.isAlive() && received >= sent.get()) {
                    break;
                }
            }
            return new Flow(sent.get(), received, bytes, (System.nanoTime() - start) / 1e9);
        }
    }

    private Latency pingPong(Options options) throws Exception {
        DatagramSocket echo = peer.socket();
        Thread echoer = new Thread(
                () -> {
                    DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
                    try {
                        while (true) {
                            echo.receive(p);
                            echo.send(p);
                        }
                    } catch (IOException e) {
                        // closed: done
                    }
                },
                "loopback-echo");
        echoer.setDaemon(true);
        echoer.start();
        try {
            long[] rtts = new long[options.pings()];
            int done = 0;
            int lost = 0;
            long deadline = System.nanoTime() + options.duration().toNanos();
            byte[] payload = new byte[Math.max(8, Math.min(options.payloadBytes(), 64))];
            for (int seq = 0; seq < options.pings() && System.nanoTime() < deadline; seq++) {
                ByteBuffer.wrap(payload).putInt(seq);
                byte[] request = frame(echo.getLocalPort(), payload);
                long start = System.nanoTime();
                while (!driver.transmit(VirtioNetHeader.NONE, request)) {
                    driver.reclaimTx();
                    Thread.onSpinWait();
                }
                if (awaitReply(seq, start + ECHO_TIMEOUT_MILLIS * 1_000_000L)) {
                    rtts[done++] = System.nanoTime() - start;
                } else {
                    lost++;
                }
                driver.reclaimTx();
            }
            long[] sorted = Arrays.copyOf(rtts, done);
            Arrays.sort(sorted);
            return new Latency(done, lost, percentile(sorted, 50), percentile(sorted, 99));
        } finally {
            echo.close();
            echoer.join(1000);
        }
    }

    private boolean awaitReply(int seq, long deadline) throws Exception {
        while (System.nanoTime() < deadline) {
            Optional<RxFrame> rx =
                    driver.receive(rxCall, (int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
            if (rx.isPresent() && EthernetFrames.isUdpTo(rx.get().frame(), 0, GUEST_PORT)) {
                byte[] reply = EthernetFrames.udpPayload(rx.get().frame(), 0);
                if (reply.length >= 4 && ByteBuffer.wrap(reply).getInt() == seq) {
                    return true;
                }
            }
        }
        return false;
    }

    private static double percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, index)] / 1e3;
    }

    /**
     * Stops the device, closes its eventfds, removes the tap and namespace and unmaps guest memory —
     * except while {@link #run} is driving it from another thread (a shutdown hook on Ctrl-C): then the
     * memory stays mapped for the process's last moments, so the driver never touches unmapped pages.
     * Idempotent.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            device.close();
            eventFds.forEach(EventFd::close);
        } finally {
            try {
                peer.close();
            } finally {
                if (!running) {
                    memory.close();
                }
            }
        }
    }
}
