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
        try (TapInNamespace net =
                TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vub")) {
            Set<Integer> before = fdsWith(net);
            try (VhostUserNetBackend backend =
                    VhostUserNetBackend.listen(dir.resolve("backend.sock"), net.tap, patience)) {
                scenario.run(net, backend);
            }
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        }
    }

    @Test
    void carriesUdpBothWaysBetweenTheFrontendsDriverAndANamespace() throws Exception {
        onBackend(VhostUserNetBackendTest::carryUdp);
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
                "vring 7: this back-end has one queue pair",
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
                byte[] frame = EthernetFrames.udp(
                        TapInNamespace.GUEST_MAC,
                        net.tapMac,
                        TapInNamespace.GUEST_IP_BYTES,
                        TapInNamespace.HOST_IP_BYTES,
                        GUEST_PORT,
                        socket.getLocalPort(),
                        payload);
                while (!d.driver.transmit(VirtioNetHeader.NONE, frame)) {
                    d.driver.reclaimTx();
                    Thread.sleep(1);
                }
                assertArrayEquals(payload, TapInNamespace.receive(socket), "datagram " + i + " to the namespace");
                d.driver.reclaimTx();
            }
            for (int i = first; i < first + DATAGRAMS; i++) {
                byte[] payload = payload(i);
                TapInNamespace.sendToGuest(socket, GUEST_PORT, payload);
                byte[] got = null;
                while (got == null) {
                    Optional<RxFrame> frame = d.driver.receive(d.rxCall, 5000);
                    assertTrue(frame.isPresent(), "datagram " + i + " did not reach the driver");
                    d.driver.refillRx();
                    if (EthernetFrames.isUdpTo(frame.get().frame(), 0, GUEST_PORT)) {
                        got = EthernetFrames.udpPayload(frame.get().frame(), 0);
                    }
                }
                assertArrayEquals(payload, got, "datagram " + i + " to the driver");
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

    /** This library's front-end and userspace driver on the back-end's socket: the guest's side. */
    private static final class Driver implements AutoCloseable {
        final MemoryTable memory;
        final List<EventFd> fds = new ArrayList<>();
        final VhostUserNetDevice device;
        final VirtioNetDriver driver;
        final EventFd rxCall;

        Driver(Path socket) throws Exception {
            memory = MemoryTable.builder().region(0, RAM).build();
            try {
                DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, BUFFER);
                DriverMemory.QueuePair p = layout.queuePair(0);
                rxCall = add(EventFd.create());
                QueuePair pair = new QueuePair(
                        new Virtqueue(p.rx(), add(EventFd.create()), rxCall),
                        new Virtqueue(p.tx(), add(EventFd.create()), add(EventFd.create())));
                device = VhostUserNetDevice.start(
                        VhostUserFrontend.connect(socket), memory, List.of(pair), FeatureSet.of(FEATURES));
                driver = new VirtioNetDriver(
                        memory,
                        p,
                        device.features().virtio(),
                        pair.rx().kick(),
                        pair.tx().kick());
                driver.refillRx();
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
