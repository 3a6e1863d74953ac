package dev.vhostnet.vhostuser;

import static dev.vhostnet.vhostuser.VhostUserFrontendTest.DRIVER;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.DRIVER_BASE;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.OFFER;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.PROTOCOL;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.PROTOCOL_OFFER;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.RAM;
import static dev.vhostnet.vhostuser.VhostUserFrontendTest.RING;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_PROTOCOL_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_QUEUE_NUM;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_MEM_TABLE;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_OWNER;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_PROTOCOL_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_ADDR;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_BASE;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_CALL;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_ENABLE;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_KICK;
import static dev.vhostnet.vhostuser.VhostUserRequest.SET_VRING_NUM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.VirtioUapi;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Server mode and reconnection against {@link FakeBackend}s: what a new back-end is sent, from which bases, and the failures. */
class VhostUserReconnectTest {
    /** The whole set-up a new back-end must see, for one queue pair: negotiation, owner, features, memory, vrings, enable. */
    static final List<VhostUserRequest> SET_UP = List.of(
            GET_FEATURES,
            GET_PROTOCOL_FEATURES,
            SET_PROTOCOL_FEATURES,
            GET_QUEUE_NUM,
            SET_OWNER,
            GET_FEATURES,
            SET_FEATURES,
            SET_MEM_TABLE,
            SET_VRING_NUM,
            SET_VRING_BASE,
            SET_VRING_ADDR,
            SET_VRING_KICK,
            SET_VRING_CALL,
            SET_VRING_NUM,
            SET_VRING_BASE,
            SET_VRING_ADDR,
            SET_VRING_KICK,
            SET_VRING_CALL,
            SET_VRING_ENABLE,
            SET_VRING_ENABLE);

    @TempDir
    Path dir;

    Path socket;
    MemoryTable memory;
    DriverMemory layout;
    List<QueuePair> pairs;
    final List<EventFd> fds = new ArrayList<>();
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void openWhatTheJdkOpensOnce() throws Exception {
        // The first FileChannel of a JVM opens a socket pair the JDK keeps for good (FileDispatcherImpl's
        // pre-close fd); FakeBackend reads the memfd through one. Open it before any fd count.
        try (FileChannel c = FileChannel.open(Path.of("/dev/null"))) {
            c.size();
        }
    }

    @BeforeEach
    void memoryAndRings() throws Exception {
        socket = dir.resolve("vhost-user.sock");
        memory = MemoryTable.builder().region(0, RAM).build();
        layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, 2048);
        DriverMemory.QueuePair p = layout.queuePair(0);
        pairs = List.of(
                new QueuePair(VhostUserFrontendTest.queue(p.rx(), fds), VhostUserFrontendTest.queue(p.tx(), fds)));
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        fds.forEach(EventFd::close);
        memory.close();
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    private FakeBackend listeningBackEnd(long features) throws Exception {
        return keep(new FakeBackend(socket, features, PROTOCOL_OFFER));
    }

    /** The used index of vring {@code v} as a device would publish it in guest memory. */
    private void publishUsedIndex(int v, int index) {
        memory.putShort(pairs.get(0).vring(v).layout().usedGpa() + VirtioUapi.VRING_USED_IDX, (short) index);
    }

    private static List<Integer> vringBases(FakeBackend backend) {
        synchronized (backend.received) {
            return backend.received.stream()
                    .filter(r -> r.kind() == SET_VRING_BASE)
                    .map(r -> r.body().getInt(4))
                    .toList();
        }
    }

    @Test
    void listensAcceptsABackEndThatDialsInAndRemovesTheSocketOnClose() throws Exception {
        Files.writeString(dir.resolve("not-a-socket"), "x");
        VhostUserException e =
                assertThrows(VhostUserException.class, () -> VhostUserListener.bind(dir.resolve("not-a-socket")));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        try (AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance()) {
            dead.setDeleteOnClose(false);
            dead.bind(AFUNIXSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket), "a stale socket file, as a process that died leaves");
        try (VhostUserListener listener = VhostUserListener.bind(socket)) {
            FakeBackend backend = keep(FakeBackend.dialing(socket, OFFER | PROTOCOL, PROTOCOL_OFFER));
            try (VhostUserFrontend f = listener.accept(Duration.ofSeconds(5))) {
                assertEquals(0b10_0000_1001L, VhostUserProtocolFeature.mask(f.protocolFeatures()));
                assertEquals(socket.toString(), f.peer());
            }
            backend.awaitRequests(4);
            assertEquals(SET_UP.subList(0, 4), backend.kinds());
        }
        assertFalse(Files.exists(socket), "the listener removes its socket file");
    }

    @ParameterizedTest(name = "{0} mode")
    @ValueSource(strings = {"client", "server"})
    void aBackEndThatDiesIsReplacedAndEveryVringResumesFromItsUsedIndex(String mode) throws Exception {
        boolean server = mode.equals("server");
        VhostUserListener listener = server ? keep(VhostUserListener.bind(socket)) : null;
        VhostUserEndpoint endpoint = server ? listener : VhostUserDialer.of(socket);
        FakeBackend first = server
                ? keep(FakeBackend.dialing(socket, OFFER | PROTOCOL, PROTOCOL_OFFER))
                : listeningBackEnd(OFFER | PROTOCOL);
        VhostUserNetDevice device = keep(VhostUserNetDevice.start(
                endpoint.open(Duration.ofSeconds(5), () -> false), memory, pairs, FeatureSet.of(DRIVER)));
        device.reconnectOnHangUp(endpoint, Duration.ofSeconds(10));
        publishUsedIndex(QueuePair.RX, 300);
        publishUsedIndex(QueuePair.TX, 65535);
        first.close();
        FakeBackend second = server
                ? keep(FakeBackend.dialing(socket, OFFER | PROTOCOL, PROTOCOL_OFFER))
                : listeningBackEnd(OFFER | PROTOCOL);
        assertTrue(device.awaitRunning(2, Duration.ofSeconds(10)), "running on a second connection");
        second.awaitRequests(SET_UP.size());
        assertEquals(SET_UP, second.kinds(), "the whole set-up again");
        assertEquals(List.of(300, 65535), vringBases(second), "each vring from the used index in guest memory");
        assertEquals(VhostUserNetDevice.State.RUNNING, device.state());
    }

    @Test
    void afterACleanStopTheNewBackEndGetsTheBasesGetVringBaseReturned() throws Exception {
        FakeBackend first = listeningBackEnd(OFFER | PROTOCOL);
        VhostUserNetDevice device =
                keep(VhostUserNetDevice.start(VhostUserFrontend.connect(socket), memory, pairs, FeatureSet.of(DRIVER)));
        publishUsedIndex(QueuePair.RX, 300);
        assertEquals(VringBases.of(7, 8), device.stop(), "the fake's GET_VRING_BASE: 7 + vring");
        first.close();
        FakeBackend second = listeningBackEnd(OFFER | PROTOCOL);
        device.reconnect(VhostUserDialer.of(socket), Duration.ofSeconds(5));
        assertEquals(2, device.connections());
        second.awaitRequests(SET_UP.size());
        assertEquals(SET_UP, second.kinds());
        assertEquals(List.of(7, 8), vringBases(second), "the saved bases, not the used index");
    }

    @Test
    void aNewBackEndThatGrantsOtherFeaturesIsRefusedAndClosed() throws Exception {
        FakeBackend first = listeningBackEnd(OFFER | PROTOCOL);
        VhostUserNetDevice device =
                keep(VhostUserNetDevice.start(VhostUserFrontend.connect(socket), memory, pairs, FeatureSet.of(DRIVER)));
        first.close();
        FakeBackend second = listeningBackEnd((OFFER | PROTOCOL) & ~(1L << VirtioUapi.VIRTIO_NET_F_MRG_RXBUF));
        VhostUserException e = assertThrows(
                VhostUserException.class, () -> device.reconnect(VhostUserDialer.of(socket), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("the driver runs with"), e.getMessage());
        assertEquals(VhostUserNetDevice.State.DISCONNECTED, device.state());
        assertFalse(device.frontend().isOpen(), "the refused connection is closed");
        second.awaitRequests(6);
        assertFalse(second.kinds().contains(SET_MEM_TABLE));
    }

    @ParameterizedTest(name = "{0} mode")
    @ValueSource(strings = {"client", "server"})
    void aReconnectionThatNeverSucceedsFailsNamingTheSocketAndTheFixAndLeaksNoFds(String mode) throws Exception {
        boolean server = mode.equals("server");
        EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
        Set<Integer> before = OpenFds.snapshot();
        VhostUserListener listener = server ? VhostUserListener.bind(socket) : null;
        VhostUserEndpoint endpoint = server ? listener : VhostUserDialer.of(socket);
        FakeBackend backend = server
                ? FakeBackend.dialing(socket, OFFER | PROTOCOL, PROTOCOL_OFFER)
                : new FakeBackend(socket, OFFER | PROTOCOL, PROTOCOL_OFFER);
        VhostUserNetDevice device = VhostUserNetDevice.start(
                endpoint.open(Duration.ofSeconds(5), () -> false), memory, pairs, FeatureSet.of(DRIVER));
        device.reconnectOnHangUp(endpoint, Duration.ofMillis(600));
        backend.close();
        long t0 = System.nanoTime();
        VhostUserException e =
                assertThrows(VhostUserException.class, () -> device.awaitRunning(2, Duration.ofSeconds(10)));
        long waited = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("%s mode: gave up after %d ms: %s%n", mode, waited, e.getMessage());
        assertEquals(Errno.ETIMEDOUT.number(), e.errno());
        assertEquals(VhostUserException.Kind.TIMEOUT, e.kind());
        assertFalse(e.shouldReconnect(), "the time given is used up");
        assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
        assertTrue(
                e.getMessage().contains(server ? "client=1" : "iface=" + socket),
                "says what to start: " + e.getMessage());
        assertTrue(waited < 5000, "bounded by the 600 ms given, not " + waited + " ms");
        assertEquals(VhostUserNetDevice.State.DISCONNECTED, device.state());
        device.close();
        if (listener != null) {
            listener.close();
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void aClosedDeviceStopsReconnecting() throws Exception {
        EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
        Set<Integer> before = OpenFds.snapshot();
        FakeBackend first = new FakeBackend(socket, OFFER | PROTOCOL, PROTOCOL_OFFER);
        VhostUserNetDevice device =
                VhostUserNetDevice.start(VhostUserFrontend.connect(socket), memory, pairs, FeatureSet.of(DRIVER));
        device.reconnectOnHangUp(VhostUserDialer.of(socket), Duration.ofMinutes(5));
        first.close();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (device.state() != VhostUserNetDevice.State.DISCONNECTED && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(VhostUserNetDevice.State.DISCONNECTED, device.state(), "the hang-up was seen");
        long t0 = System.nanoTime();
        device.close();
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(took < 2000, "close stops the dialling at once, not after the 5 minutes: " + took + " ms");
        assertEquals("", OpenFds.leakedSince(before));
        try (FakeBackend late = new FakeBackend(socket, OFFER | PROTOCOL, PROTOCOL_OFFER)) {
            Thread.sleep(3 * VhostUserDialer.MAX_RETRY_MILLIS);
            assertTrue(late.received.isEmpty(), "nothing dials a back-end that comes after the close");
        }
        assertFalse(device.awaitRunning(2, Duration.ofMillis(10)), "closed: not running, and no failure to report");
    }
}
