package dev.vhostnet.vhostuser;

import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.io.FileDescriptor;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The back-end served to this library's own front-end ({@link VhostUserNetDevice} and the userspace
 * driver) with a tap in a network namespace behind it: UDP both ways, byte-exact, across a stop and
 * restart from {@code GET_VRING_BASE}; and front-ends that break the protocol, each dropped with its
 * reason while the back-end goes on serving the next. Needs root (taps, namespaces).
 */
class VhostUserNetBackendTest {
    static final long RAM = 64L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 256;
    static final int BUFFER = 2048;
    static final int DATAGRAMS = 500;
    static final int GUEST_PORT = 7000;
    static final long FEATURES = bit(VirtioUapi.VIRTIO_F_VERSION_1)
            | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX)
            | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
            | bit(VirtioUapi.VIRTIO_NET_F_MAC);

    @TempDir
    Path dir;

    /** A test's body, given the namespace peer and a back-end on its tap. */
    @FunctionalInterface
    private interface Scenario {
        void run(TapInNamespace net, VhostUserNetBackend backend) throws Exception;
    }

    /** Runs {@code scenario} on a fresh back-end and checks that closing it left no descriptor open. */
    private void onBackend(Scenario scenario) throws Exception {
        onBackend(VhostUserNetBackend.DEFAULT_PATIENCE, scenario);
    }

    private void onBackend(Duration patience, Scenario scenario) throws Exception {
        onBackend(patience, TxCopy.DEFAULT, scenario);
    }

    private void onBackend(Duration patience, TxCopy txCopy, Scenario scenario) throws Exception {
        try (TapInNamespace net =
                TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vub")) {
            Set<Integer> before = fdsWith(net);
            try (VhostUserNetBackend backend = VhostUserNetBackend.on(net.tap)
                    .patience(patience)
                    .txCopy(txCopy)
                    .listen(dir.resolve("backend.sock"))) {
                scenario.run(net, backend);
            }
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        }
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void carriesUdpBothWaysBetweenTheFrontendsDriverAndANamespace(TxCopy txCopy) throws Exception {
        onBackend(VhostUserNetBackend.DEFAULT_PATIENCE, txCopy, VhostUserNetBackendTest::carryUdp);
    }

    private static void carryUdp(TapInNamespace net, VhostUserNetBackend backend) throws Exception {
        assertTrue(backend.offeredFeatures().has(VirtioFeature.PROTOCOL_FEATURES), "protocol features offered");
        try (Driver driver = new Driver(backend.socket())) {
            assertTrue(backend.awaitRunning(Duration.ofSeconds(10)), "the device runs once the vrings are enabled");
            assertEquals(
                    dev.vhostnet.ctl.BackendChoice.Kind.VHOST_USER,
                    driver.device.kind(),
                    "a NetDevice like the others");
            net.addGuestNeighbour();
            exchange(net, driver, 0);
            VringBases bases = driver.device.stop();
            assertFalse(backend.isRunning(), "GET_VRING_BASE stops the device");
            assertEquals(DATAGRAMS, bases.get(0, QueuePair.TX), "TX base: one chain per datagram sent");
            driver.device.restart();
            assertTrue(backend.awaitRunning(Duration.ofSeconds(10)), "the device runs again after the restart");
            exchange(net, driver, DATAGRAMS);
            NetDeviceCounters counted = backend.counters();
            NetDeviceCounters.Traffic tx = counted.totals().tx().orElseThrow();
            assertEquals(
                    new NetDeviceCounters.Traffic(2 * DATAGRAMS, framesBytes(2 * DATAGRAMS), 0),
                    tx,
                    "every frame the driver sent, over both devices the back-end ran, counted once");
            assertTrue(
                    counted.totals().rx().orElseThrow().packets() >= 2 * DATAGRAMS,
                    "every datagram to the driver counted: " + counted);
            assertEquals(0, counted.totals().guestViolations());
            assertEquals(
                    List.of(NetDeviceCounters.Pair.NONE),
                    driver.device.counters().pairs(),
                    "the front-end counts nothing: the back-end moves the frames");
        }
        assertTrue(backend.drops().isEmpty(), () -> "no connection dropped: " + backend.drops());
    }

    /**
     * The descriptors open with {@code net} up, after one back-end served one front-end that hung up
     * and one datagram socket: the JDK and junixsocket each keep a socket of their own once used.
     */
    private Set<Integer> fdsWith(TapInNamespace net) throws Exception {
        net.socket().close();
        try (VhostUserNetBackend warmUp = VhostUserNetBackend.listen(dir.resolve("warm-up.sock"), net.tap)) {
            AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(warmUp.socket())).close();
        }
        EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
        return OpenFds.snapshot();
    }

    @Test
    void dropsEachFrontendThatBreaksTheProtocolAndServesTheNext() throws Exception {
        onBackend(VhostUserNetBackendTest::dropEach);
    }

    private static void dropEach(TapInNamespace net, VhostUserNetBackend backend) throws Exception {
        List<String> expected = new ArrayList<>();
        expectDrop(
                backend,
                expected,
                "vhost-user request 99: EPROTO (Protocol error) — this back-end does not know the request",
                raw(99, 1, new byte[0]));
        expectDrop(
                backend,
                expected,
                "VHOST_USER_SET_FEATURES: EPROTO (Protocol error) — the payload has 4 bytes; a u64 is 8",
                raw(VhostUserRequest.SET_FEATURES.id(), 1, new byte[4]));
        expectDrop(
                backend,
                expected,
                "0 fds came with it; it carries 1",
                VhostUserMessage.request(VhostUserRequest.SET_VRING_KICK, false, VhostUserMessage.vringFile(0, false)));
        try (Fd surplus = Syscalls.eventfd(0, 0)) {
            expectDrop(
                    backend,
                    expected,
                    "VHOST_USER_GET_FEATURES: EPROTO (Protocol error) — 1 fds came with it; it carries none",
                    VhostUserMessage.request(VhostUserRequest.GET_FEATURES, false, new byte[0]),
                    surplus);
        }
        try (Fd small = Syscalls.memfdCreate("too-small", 0)) {
            small.truncate(1 << 20);
            byte[] table =
                    VhostUserMessage.memTable(List.of(new VhostUserMessage.MemRegion(0, 2 << 20, 0x7f0000000000L, 0)));
            expectDrop(
                    backend,
                    expected,
                    "the regions do not map: region [gpa 0x0, +0x200000) at offset 0x0",
                    VhostUserMessage.request(VhostUserRequest.SET_MEM_TABLE, false, table),
                    small);
        }
        expectDrop(
                backend,
                expected,
                "the header announces 100000 payload bytes",
                raw(VhostUserRequest.SET_FEATURES.id(), 1, new byte[0], 100_000));
        expectDrop(
                backend,
                expected,
                "flags 0x5: a request has version 1 and no REPLY bit",
                raw(VhostUserRequest.GET_FEATURES.id(), 1 | VhostUserMessage.FLAG_REPLY, new byte[0]));
        expectDrop(
                backend,
                expected,
                "vring 7: this back-end has 1 queue pair, vrings 0 to 1",
                VhostUserMessage.request(VhostUserRequest.SET_VRING_NUM, false, VhostUserMessage.vringState(7, 256)));
        expectDrop(
                backend,
                expected,
                "vring 0 of size 100: a split ring's size is a power of two",
                VhostUserMessage.request(VhostUserRequest.SET_VRING_NUM, false, VhostUserMessage.vringState(0, 100)));
        expectDrop(
                backend,
                expected,
                "acknowledges features 0x1000000000000000 that were not offered",
                VhostUserMessage.request(VhostUserRequest.SET_FEATURES, false, VhostUserMessage.u64(1L << 60)));
        assertEquals(expected.size(), backend.drops().size(), () -> "drops: " + backend.drops());

        try (Driver driver = new Driver(backend.socket())) {
            assertTrue(backend.awaitRunning(Duration.ofSeconds(10)), "a well-behaved front-end is served after them");
            net.addGuestNeighbour();
            exchange(net, driver, 0);
        }
        assertEquals(expected.size() + 1, backend.connections(), "every front-end was accepted in turn");
    }

    @Test
    void refusesASecondFrontendWhileOneIsServedAndDropsSilentOnes() throws Exception {
        onBackend(Duration.ofMillis(300), (net, backend) -> {
            try (Driver driver = new Driver(backend.socket())) {
                assertTrue(backend.awaitRunning(Duration.ofSeconds(10)));
                try (AFUNIXSocket second = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(backend.socket()))) {
                    assertTrue(backend.awaitDrops(1, Duration.ofSeconds(5)), "the second front-end is refused");
                    assertEquals(
                            "front-end #2 refused: #1 is being served (one at a time)",
                            backend.drops().get(0));
                    second.setSoTimeout(5000);
                    assertEquals(-1, second.getInputStream().read(), "its connection is closed, not left waiting");
                }
                Thread.sleep(600); // longer than the patience: a served front-end may be silent between requests
                net.addGuestNeighbour();
                exchange(net, driver, 0);
                assertTrue(backend.isRunning(), "the first is served on");
            }
            try (AFUNIXSocket silent = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(backend.socket()))) {
                assertTrue(backend.awaitDrops(2, Duration.ofSeconds(5)), "a front-end that says nothing is dropped");
                assertTrue(
                        backend.drops().get(1).contains("sent no request within 300 ms of connecting"),
                        backend.drops().get(1));
            }
            try (AFUNIXSocket stalled = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(backend.socket()))) {
                byte[] half = java.util.Arrays.copyOf(
                        VhostUserMessage.request(VhostUserRequest.SET_FEATURES, false, VhostUserMessage.u64(0)), 16);
                stalled.getOutputStream().write(half);
                assertTrue(
                        backend.awaitDrops(3, Duration.ofSeconds(5)),
                        "a front-end that stops within a request is dropped");
                assertTrue(
                        backend.drops().get(2).contains("stopped within a request for more than 300 ms"),
                        backend.drops().get(2));
            }
        });
    }

    @Test
    void servesEachQueuePairTheFrontendEnablesAndFollowsItsEnables() throws Exception {
        try (TapInNamespace net = TapInNamespace.open(
                TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF).queues(2), "vum")) {
            Set<Integer> before = fdsWith(net);
            try (VhostUserNetBackend backend = VhostUserNetBackend.listen(dir.resolve("mq.sock"), net.tap)) {
                assertEquals(2, backend.queuePairs());
                assertTrue(backend.offeredFeatures().has(VirtioFeature.MQ), "VIRTIO_NET_F_MQ offered");
                try (Driver d = new Driver(backend.socket(), 2);
                        DatagramSocket socket = net.socket()) {
                    assertEquals(2, d.device.frontend().queueNum(), "GET_QUEUE_NUM: the tap's queues");
                    awaitServedPairs(backend, 2);
                    net.addGuestNeighbour();
                    for (int p = 0; p < 2; p++) {
                        echoOn(net, socket, d, GUEST_PORT + p, p, p, 0);
                    }
                    for (int p = 0; p < 2; p++) {
                        assertEquals(ECHOES, packets(backend, p, QueuePair.TX), "frames sent on pair " + p);
                        assertTrue(
                                packets(backend, p, QueuePair.RX) >= ECHOES,
                                "frames received on pair " + p + ": " + backend.counters());
                    }

                    d.device.enablePairs(1); // SET_VRING_ENABLE 0 on vrings 2 and 3
                    awaitServedPairs(backend, 1);
                    assertFalse(net.tap.queue(1).isAttached(), "the tap steers nothing to the pair not served");
                    echoOn(net, socket, d, GUEST_PORT + 1, 0, 0, ECHOES); // pair 1's flow, on pair 0 now

                    d.device.enablePairs(2);
                    awaitServedPairs(backend, 2);
                    assertTrue(net.tap.queue(1).isAttached());
                    echoOn(net, socket, d, GUEST_PORT + 1, 1, 1, 2 * ECHOES); // pair 1 resumes where its rings stopped
                    assertEquals(
                            2 * ECHOES, packets(backend, 0, QueuePair.TX), "frames sent on pair 0, over three devices");
                    assertEquals(
                            2 * ECHOES, packets(backend, 1, QueuePair.TX), "frames sent on pair 1, over two devices");
                    NetDeviceCounters counted = backend.counters();
                    assertEquals(2, counted.pairs().size(), "one entry per pair offered: " + counted);
                    assertEquals(0, counted.totals().guestViolations());
                }
                assertEquals(List.of(), backend.drops(), "connections dropped");
            }
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        }
    }

    static final int ECHOES = 100;

    @Test
    void inClientModeBacksOffFromAFrontendThatHangsUpAtOnce() throws Exception {
        try (TapInNamespace net =
                TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vuh")) {
            Path socket = dir.resolve("hangs-up.sock");
            try (org.newsclub.net.unix.AFUNIXServerSocket rude =
                    org.newsclub.net.unix.AFUNIXServerSocket.newInstance()) {
                rude.bind(AFUNIXSocketAddress.of(socket));
                rude.setSoTimeout(100);
                int accepted = 0;
                try (VhostUserNetBackend backend =
                        VhostUserNetBackend.on(net.tap).dial(socket)) {
                    long end = System.nanoTime() + Duration.ofMillis(2500).toNanos();
                    while (System.nanoTime() < end) {
                        try {
                            rude.accept().close();
                            accepted++;
                        } catch (java.net.SocketTimeoutException e) {
                            // none this slice
                        }
                    }
                    // pauses of 50, 100, 200, 400, 800, 1000 ms: 6 or 7 connections in 2.5 s, not one per accept
                    assertTrue(accepted >= 3 && accepted <= 8, "connections in 2.5 s: " + accepted);
                    assertEquals(List.of(), backend.drops(), "a front-end that hangs up is not a protocol breach");
                }
            }
        }
    }

    @Test
    void inClientModeDialsTheFrontendUntilItListensAndAgainWhenItGoes() throws Exception {
        try (TapInNamespace net =
                TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vuc")) {
            Set<Integer> before = fdsWith(net);
            Path socket = dir.resolve("qemu-server.sock");
            try (VhostUserNetBackend backend = VhostUserNetBackend.on(net.tap).dial(socket)) {
                Thread.sleep(300); // nothing listens yet: the back-end dials again and again
                assertEquals(0, backend.connections());
                try (VhostUserListener frontendSide = VhostUserListener.bind(socket)) {
                    try (Driver d = new Driver(frontendSide.accept(Duration.ofSeconds(10)), 1)) {
                        assertTrue(backend.awaitRunning(Duration.ofSeconds(10)), "the device runs");
                        net.addGuestNeighbour();
                        exchange(net, d, 0);
                    }
                    // the front-end closed its connection (QEMU restarting its device): the back-end dials again
                    try (Driver d = new Driver(frontendSide.accept(Duration.ofSeconds(10)), 1)) {
                        frontendSide.close(); // no third connection waits in the backlog when this one ends
                        assertTrue(backend.awaitRunning(Duration.ofSeconds(10)), "the device runs again");
                        exchange(net, d, DATAGRAMS);
                    }
                }
                assertEquals(2, backend.connections(), "one connection per front-end");
                assertEquals(List.of(), backend.drops(), "connections dropped");
                assertEquals(2 * DATAGRAMS, packets(backend, 0, QueuePair.TX), "frames sent, both front-ends");
            }
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        }
    }

    /**
     * Frames the back-end moved on {@code vring} ({@link QueuePair#RX}: delivered to the driver,
     * {@link QueuePair#TX}: written to the tap) of {@code pair}, every front-end counted.
     */
    private static long packets(VhostUserNetBackend backend, int pair, int vring) {
        NetDeviceCounters.Pair p = backend.counters().pairs().get(pair);
        return (vring == QueuePair.RX ? p.rx() : p.tx()).orElseThrow().packets();
    }

    private static void awaitServedPairs(VhostUserNetBackend backend, int pairs) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (backend.servedPairs() != pairs && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(pairs, backend.servedPairs(), "queue pairs the device serves");
    }

    /**
     * {@value #ECHOES} datagrams from guest port {@code port}, sent on pair {@code txPair}, to the
     * namespace, each answered there and expected back on pair {@code rxPair}'s RX queue: the tap
     * sends a flow's frames to the queue it last came from while that queue is attached.
     */
    private static void echoOn(
            TapInNamespace net, DatagramSocket socket, Driver d, int port, int txPair, int rxPair, int first)
            throws Exception {
        VirtioNetDriver tx = d.drivers.get(txPair);
        VirtioNetDriver rx = d.drivers.get(rxPair);
        for (int i = first; i < first + ECHOES; i++) {
            byte[] payload = payload(i);
            sendUdp(net, socket, tx, port, payload);
            assertArrayEquals(payload, TapInNamespace.receive(socket), "datagram " + i + " from pair " + txPair);
            tx.reclaimTx();
            TapInNamespace.sendToGuest(socket, port, payload);
            assertArrayEquals(
                    payload,
                    receiveUdp(rx, d.rxCalls.get(rxPair), port, "the answer to datagram " + i + " on pair " + rxPair),
                    "answer " + i + " on pair " + rxPair);
        }
    }

    @Test
    void refusesATapItCannotServe() throws Exception {
        try (TapInNamespace net = TapInNamespace.open(TapConfig.builder().vnetHeader(0), "vub")) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> VhostUserNetBackend.listen(dir.resolve("backend.sock"), net.tap));
            assertTrue(e.getMessage().contains("has no vnet header; open it with vnetHeader(12)"), e.getMessage());
        }
    }

    /** Connects a front-end sending {@code message} (with {@code fds}), and checks its connection is dropped with {@code reason}. */
    private static void expectDrop(
            VhostUserNetBackend backend, List<String> expected, String reason, byte[] message, Fd... fds)
            throws Exception {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(backend.socket()))) {
            if (fds.length > 0) {
                FileDescriptor[] out = new FileDescriptor[fds.length];
                for (int i = 0; i < fds.length; i++) {
                    out[i] = FileDescriptorCast.unsafeUsing(fds[i].get()).getFileDescriptor();
                }
                s.setOutboundFileDescriptors(out);
            }
            OutputStream o = s.getOutputStream();
            o.write(message);
            o.flush();
            expected.add(reason);
            assertTrue(backend.awaitDrops(expected.size(), Duration.ofSeconds(10)), "dropped: " + reason);
            String why = backend.drops().get(expected.size() - 1);
            assertTrue(why.contains(reason), () -> "drop reason '" + why + "' does not say '" + reason + "'");
            InputStream in = s.getInputStream();
            s.setSoTimeout(5000);
            assertEquals(-1, in.read(), "the back-end closed the connection");
        }
    }

    private static byte[] raw(int id, int flags, byte[] payload) {
        return raw(id, flags, payload, payload.length);
    }

    private static byte[] raw(int id, int flags, byte[] payload, int announced) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(VhostUserMessage.HEADER_SIZE + payload.length)
                .order(java.nio.ByteOrder.nativeOrder());
        return b.putInt(id).putInt(flags).putInt(announced).put(payload).array();
    }

    /** {@value #DATAGRAMS} datagrams from the driver to the namespace and as many back, each checked byte for byte. */
    private static void exchange(TapInNamespace net, Driver d, int first) throws Exception {
        try (DatagramSocket socket = net.socket()) {
            for (int i = first; i < first + DATAGRAMS; i++) {
                byte[] payload = payload(i);
                sendUdp(net, socket, d.driver, GUEST_PORT, payload);
                assertArrayEquals(payload, TapInNamespace.receive(socket), "datagram " + i + " to the namespace");
                d.driver.reclaimTx();
            }
            for (int i = first; i < first + DATAGRAMS; i++) {
                byte[] payload = payload(i);
                TapInNamespace.sendToGuest(socket, GUEST_PORT, payload);
                assertArrayEquals(
                        payload,
                        receiveUdp(d.driver, d.rxCall, GUEST_PORT, "datagram " + i + " to the driver"),
                        "datagram " + i + " to the driver");
            }
        }
    }

    /** A UDP datagram from the guest's {@code port} to {@code socket}, sent on {@code driver}'s TX queue. */
    private static void sendUdp(
            TapInNamespace net, DatagramSocket socket, VirtioNetDriver driver, int port, byte[] payload)
            throws Exception {
        byte[] frame = EthernetFrames.udp(
                TapInNamespace.GUEST_MAC,
                net.tapMac,
                TapInNamespace.GUEST_IP_BYTES,
                TapInNamespace.HOST_IP_BYTES,
                port,
                socket.getLocalPort(),
                payload);
        while (!driver.transmit(VirtioNetHeader.NONE, frame)) {
            driver.reclaimTx();
            Thread.sleep(1);
        }
    }

    /** The payload of the next UDP datagram to the guest's {@code port} on {@code driver}'s RX queue; other frames skipped. */
    private static byte[] receiveUdp(VirtioNetDriver driver, EventFd call, int port, String what) throws Exception {
        while (true) {
            Optional<RxFrame> frame = driver.receive(call, 5000);
            assertTrue(frame.isPresent(), what + " did not arrive");
            driver.refillRx();
            if (EthernetFrames.isUdpTo(frame.get().frame(), 0, port)) {
                return EthernetFrames.udpPayload(frame.get().frame(), 0);
            }
        }
    }

    /** The bytes of the Ethernet frames {@link #exchange} sends for datagrams {@code [0, count)}. */
    private static long framesBytes(int count) {
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            bytes += EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN + EthernetFrames.UDP_HLEN + payload(i).length;
        }
        return bytes;
    }

    private static byte[] payload(int n) {
        byte[] p = new byte[64 + (n * 53) % 1400];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) (n * 7 + i);
        }
        return p;
    }

    /** This library's front-end and a userspace driver per queue pair on the back-end's socket: the guest's side. */
    private static final class Driver implements AutoCloseable {
        final MemoryTable memory;
        final List<EventFd> fds = new ArrayList<>();
        final VhostUserNetDevice device;
        final List<VirtioNetDriver> drivers = new ArrayList<>();
        final List<EventFd> rxCalls = new ArrayList<>();
        /** Pair 0's driver and RX call. */
        final VirtioNetDriver driver;

        final EventFd rxCall;

        Driver(Path socket) throws Exception {
            this(socket, 1);
        }

        Driver(Path socket, int pairs) throws Exception {
            this(VhostUserFrontend.connect(socket), pairs);
        }

        Driver(VhostUserFrontend frontend, int pairs) throws Exception {
            memory = MemoryTable.builder().region(0, RAM).build();
            try {
                DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, pairs, RING, BUFFER);
                List<QueuePair> queuePairs = new ArrayList<>();
                for (int p = 0; p < pairs; p++) {
                    DriverMemory.QueuePair rings = layout.queuePair(p);
                    rxCalls.add(add(EventFd.create()));
                    queuePairs.add(new QueuePair(
                            new Virtqueue(rings.rx(), add(EventFd.create()), rxCalls.get(p)),
                            new Virtqueue(rings.tx(), add(EventFd.create()), add(EventFd.create()))));
                }
                device = VhostUserNetDevice.start(frontend, memory, queuePairs, FeatureSet.of(FEATURES));
                for (int p = 0; p < pairs; p++) {
                    QueuePair pair = queuePairs.get(p);
                    VirtioNetDriver d = new VirtioNetDriver(
                            memory,
                            layout.queuePair(p),
                            device.features().virtio(),
                            pair.rx().kick(),
                            pair.tx().kick());
                    d.refillRx();
                    drivers.add(d);
                }
                driver = drivers.get(0);
                rxCall = rxCalls.get(0);
            } catch (Exception e) {
                close();
                throw e;
            }
        }

        private EventFd add(EventFd fd) {
            fds.add(fd);
            return fd;
        }

        @Override
        public void close() {
            if (device != null) {
                device.close();
            }
            fds.forEach(EventFd::close);
            memory.close();
        }
    }
}
