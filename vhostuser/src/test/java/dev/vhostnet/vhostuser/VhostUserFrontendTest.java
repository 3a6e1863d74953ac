package dev.vhostnet.vhostuser;

import static dev.vhostnet.sys.VirtioUapi.bit;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_PROTOCOL_FEATURES;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_QUEUE_NUM;
import static dev.vhostnet.vhostuser.VhostUserRequest.GET_VRING_BASE;
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
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.kernel.VhostKernelBackend;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.VirtioUapi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The front-end and the device against {@link FakeBackend}: request order, payloads, fds, and wrong replies. */
class VhostUserFrontendTest {
    static final long RAM = 16L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 64;
    static final long PROTOCOL = VirtioFeature.PROTOCOL_FEATURES.mask();
    static final long OFFER = bit(VirtioUapi.VIRTIO_F_VERSION_1)
            | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX)
            | bit(VirtioUapi.VIRTIO_NET_F_MQ)
            | bit(26) /* LOG_ALL */
            | bit(VirtioUapi.VIRTIO_NET_F_CSUM);
    static final long DRIVER = bit(VirtioUapi.VIRTIO_F_VERSION_1)
            | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_NET_F_MAC)
            | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC);
    /** MQ, LOG_SHMFD, REPLY_ACK, CONFIG: the front-end must take MQ, REPLY_ACK and CONFIG only. */
    static final long PROTOCOL_OFFER = 0b10_0000_1011L;

    @TempDir
    Path dir;

    final List<EventFd> fds = new ArrayList<>();
    FakeBackend backend;

    @AfterEach
    void closeAll() throws Exception {
        fds.forEach(EventFd::close);
        if (backend != null) {
            backend.close();
        }
    }

    private FakeBackend backend(long features, long protocol) throws Exception {
        backend = new FakeBackend(dir.resolve("backend.sock"), features, protocol);
        return backend;
    }

    private VhostUserFrontend connect() throws Exception {
        return VhostUserFrontend.connect(dir.resolve("backend.sock"));
    }

    private Virtqueue queue(dev.vhostnet.ctl.ring.VringLayout layout) throws Exception {
        return queue(layout, fds);
    }

    /** A virtqueue on {@code layout} with new kick and call eventfds, added to {@code fds} for closing. */
    static Virtqueue queue(dev.vhostnet.ctl.ring.VringLayout layout, List<EventFd> fds) throws Exception {
        EventFd kick = EventFd.create();
        EventFd call = EventFd.create();
        fds.add(kick);
        fds.add(call);
        return new Virtqueue(layout, kick, call);
    }

    @Test
    void negotiatesProtocolFeaturesAtConnect() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (VhostUserFrontend f = connect()) {
            assertTrue(f.protocolFeaturesNegotiated());
            assertEquals(
                    0b10_0000_1001L,
                    VhostUserProtocolFeature.mask(f.protocolFeatures()),
                    "MQ | REPLY_ACK | CONFIG, not LOG_SHMFD");
            assertEquals(4, f.queueNum());
            backend.awaitRequests(4);
            assertEquals(
                    List.of(GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM),
                    backend.kinds());
            assertEquals(0b10_0000_1001L, backend.received.get(2).body().getLong());
            assertFalse(
                    backend.received.get(2).needReply(),
                    "REPLY_ACK is not on before SET_PROTOCOL_FEATURES is received");
        }
    }

    @Test
    void closingGuestMemoryUnderARunningDeviceFailsNamingTheDevice() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build()) {
            DriverMemory.QueuePair p = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, 2048)
                    .queuePair(0);
            VhostUserFrontend f = connect();
            try (VhostUserNetDevice device = VhostUserNetDevice.start(
                    f, memory, List.of(new QueuePair(queue(p.rx()), queue(p.tx()))), FeatureSet.of(DRIVER))) {
                IllegalStateException e = assertThrows(IllegalStateException.class, memory::close);
                assertTrue(
                        e.getMessage().startsWith("guest memory is still used by vhost-user device on " + f.peer()),
                        e.getMessage());
                assertTrue(memory.isOpen(), "nothing was unmapped under the device");
            }
        }
    }

    @Test
    void bringsTwoQueuePairsUpOnOneConnectionInQemusOrder() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build()) {
            memory.write(0, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 0, 16);
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 2, RING, 2048);
            List<QueuePair> pairs = new ArrayList<>();
            for (DriverMemory.QueuePair p : layout.queuePairs()) {
                pairs.add(new QueuePair(queue(p.rx()), queue(p.tx())));
            }
            VhostUserNetDevice device = VhostUserNetDevice.start(connect(), memory, pairs, FeatureSet.of(DRIVER));
            assertEquals(
                    bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF),
                    device.features().vhost().toLong(),
                    "offered ∩ asked: no INDIRECT_DESC (not offered), no CSUM (not asked)");
            assertEquals(
                    device.features().vhost().with(VirtioFeature.MAC),
                    device.features().virtio());
            assertEquals(12, device.features().vnetHeaderSize());
            VringBases bases = device.stop();
            assertEquals(VringBases.of(7, 8, 9, 10), bases, "GET_VRING_BASE of vrings 0..3");
            device.close();

            List<VhostUserRequest> expected = new ArrayList<>(List.of(
                    GET_FEATURES,
                    GET_PROTOCOL_FEATURES,
                    SET_PROTOCOL_FEATURES,
                    GET_QUEUE_NUM,
                    SET_OWNER,
                    GET_FEATURES,
                    SET_FEATURES,
                    SET_FEATURES,
                    SET_MEM_TABLE));
            // Per pair, as VhostNetDevice does (VringSetup): both rings set up, then both enabled.
            for (int p = 0; p < 2; p++) {
                for (int v = 0; v < 2; v++) {
                    expected.addAll(
                            List.of(SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL));
                }
                expected.addAll(List.of(SET_VRING_ENABLE, SET_VRING_ENABLE));
            }
            for (int p = 0; p < 2; p++) {
                expected.addAll(List.of(SET_VRING_ENABLE, SET_VRING_ENABLE, GET_VRING_BASE, GET_VRING_BASE));
            }
            backend.awaitRequests(expected.size());
            assertEquals(expected, backend.kinds());

            List<FakeBackend.Received> r = backend.received;
            // SET_FEATURES carries bit 30 with protocol features on; every request without its own reply asks for an
            // ack.
            assertEquals(
                    device.features().vhost().toLong() | PROTOCOL,
                    r.get(6).body().getLong());
            for (FakeBackend.Received m : r.subList(4, r.size())) {
                assertEquals(!m.kind().hasReply(), m.needReply(), m.kind() + " NEED_REPLY");
            }
            // fds go only with the requests that carry them (junixsocket sends them with one write, then forgets them).
            for (FakeBackend.Received m : r) {
                boolean carries = m.kind() == SET_MEM_TABLE || m.kind() == SET_VRING_KICK || m.kind() == SET_VRING_CALL;
                assertEquals(carries ? 1 : 0, m.fds(), m.kind() + " fds");
            }
            // One memfd with the table, mapping the same pages.
            FakeBackend.Received mem = r.get(8);
            assertEquals(1, mem.fds());
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, mem.memfdHead());
            ByteBuffer table = mem.body();
            assertEquals(1, table.getInt());
            assertEquals(0, table.getInt());
            assertEquals(0, table.getLong(), "guest address");
            assertEquals(RAM, table.getLong(), "size");
            assertEquals(memory.translate(0, 1), table.getLong(), "user address: this process's mapping");
            assertEquals(0, table.getLong(), "mmap offset");
            assertEquals(40 - 32 + 32, mem.payload().length);
            // Pair p's vrings are 2p and 2p+1, with the right ring addresses.
            for (int v = 0; v < 4; v++) {
                int at = 9 + 5 * v + 2 * (v / 2); // pair 1's rings come after pair 0's two enables
                FakeBackend.Received num = r.get(at);
                assertEquals(v, num.body().getInt());
                assertEquals(RING, num.body().getInt(4));
                FakeBackend.Received addr = r.get(at + 2);
                ByteBuffer a = addr.body();
                assertEquals(v, a.getInt());
                assertEquals(0, a.getInt(), "flags: no log");
                dev.vhostnet.ctl.ring.VringLayout ring =
                        pairs.get(v / 2).vring(v % 2).layout();
                assertEquals(memory.translate(ring.descGpa(), 1), a.getLong());
                assertEquals(memory.translate(ring.usedGpa(), 1), a.getLong());
                assertEquals(memory.translate(ring.availGpa(), 1), a.getLong());
                FakeBackend.Received kick = r.get(at + 3);
                assertEquals(v, kick.body().getLong(), "index, no NOFD");
                assertEquals(1, kick.fds());
                assertEquals(1, r.get(at + 4).fds());
            }
            for (int v = 0; v < 4; v++) {
                ByteBuffer on = r.get(19 + v + 10 * (v / 2)).body(); // after each pair's rings
                assertEquals(v, on.getInt());
                assertEquals(1, on.getInt(), "enabled after set-up");
                ByteBuffer off = r.get(33 + v + 2 * (v / 2)).body(); // each pair: disable both, then GET_VRING_BASE
                assertEquals(v, off.getInt());
                assertEquals(0, off.getInt(), "disabled at stop");
            }
        }
    }

    @Test
    void withoutProtocolFeaturesRingsNeedNoEnableAndNothingAsksForReplies() throws Exception {
        backend(OFFER, 0);
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build()) {
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, 2048);
            DriverMemory.QueuePair p = layout.queuePair(0);
            VhostUserFrontend f = connect();
            assertFalse(f.protocolFeaturesNegotiated());
            assertEquals(1, f.queueNum(), "one queue pair without MQ");
            assertThrows(IllegalStateException.class, () -> f.queuePair(1), "a second pair needs MQ");
            f.datapath().attach(0); // no SET_VRING_ENABLE without protocol features
            VhostUserNetDevice device = VhostUserNetDevice.start(
                    f, memory, List.of(new QueuePair(queue(p.rx()), queue(p.tx()))), FeatureSet.of(DRIVER));
            device.stop();
            device.close();
            backend.awaitRequests(16);
            assertFalse(backend.kinds().contains(SET_VRING_ENABLE));
            assertFalse(backend.kinds().contains(GET_PROTOCOL_FEATURES));
            assertTrue(backend.received.stream().noneMatch(FakeBackend.Received::needReply));
            FakeBackend.Received features = backend.received.stream()
                    .filter(m -> m.kind() == SET_FEATURES)
                    .findFirst()
                    .orElseThrow();
            assertEquals(0, features.body().getLong() & PROTOCOL, "no bit 30 when the back-end did not offer it");
        }
    }

    @Test
    void theDatapathStepIsSetVringEnable() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (VhostUserFrontend f = connect()) {
            VhostUserFrontend pair1 = f.queuePair(1);
            pair1.datapath().attach(1);
            pair1.datapath().detach(0);
            backend.awaitRequests(6);
            ByteBuffer on = backend.received.get(4).body();
            assertEquals(SET_VRING_ENABLE, backend.received.get(4).kind());
            assertEquals(3, on.getInt());
            assertEquals(1, on.getInt());
            ByteBuffer off = backend.received.get(5).body();
            assertEquals(2, off.getInt());
            assertEquals(0, off.getInt());
        }
    }

    @Test
    void detachingAKickSendsNoFd() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (VhostUserFrontend f = connect()) {
            f.setVringKick(1, null);
            backend.awaitRequests(5);
            FakeBackend.Received kick = backend.received.get(4);
            assertEquals(1 | VhostUserMessage.VRING_NOFD, kick.body().getLong());
            assertEquals(0, kick.fds());
        }
    }

    @Test
    void getConfigWithTheConfigProtocolFeature() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (VhostUserFrontend f = connect()) {
            assertArrayEquals(new byte[] {6, 7, 8}, f.getConfig(6, 3));
        }
    }

    @Test
    void getConfigRefusedByTheBackEndOrNotOfferedFailsCleanly() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> m.kind() == VhostUserRequest.GET_CONFIG
                ? FakeBackend.reply(VhostUserRequest.GET_CONFIG.id(), new byte[0])
                : null;
        try (VhostUserFrontend f = connect()) {
            VhostUserException e = assertThrows(VhostUserException.class, () -> f.getConfig(0, 6));
            assertEquals(Errno.EIO.number(), e.errno());
            assertEquals(VhostUserException.Kind.REFUSED, e.kind());
            assertTrue(
                    e.getMessage().contains("VHOST_USER_GET_CONFIG")
                            && e.getMessage().contains("refused"),
                    e.getMessage());
            assertTrue(f.isOpen(), "a refusal is a whole reply: the stream stays in step");
            f.setVringNum(0, 256);
        }
        backend.close();
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER & ~VhostUserProtocolFeature.CONFIG.mask());
        try (VhostUserFrontend f = connect()) {
            VhostUserException e = assertThrows(VhostUserException.class, () -> f.getConfig(0, 6));
            assertEquals(Errno.EOPNOTSUPP.number(), e.errno());
            assertEquals(VhostUserException.Kind.UNSUPPORTED, e.kind());
            assertTrue(e.getMessage().contains("CONFIG protocol feature"), e.getMessage());
            backend.awaitRequests(4);
            assertFalse(backend.kinds().contains(VhostUserRequest.GET_CONFIG), "nothing sent");
        }
    }

    @Test
    void aRefusedRequestFailsTheCallThatCausedIt() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override =
                m -> m.kind() == SET_VRING_NUM ? FakeBackend.reply(SET_VRING_NUM.id(), VhostUserMessage.u64(1)) : null;
        try (VhostUserFrontend f = connect()) {
            VhostUserException e = assertThrows(VhostUserException.class, () -> f.setVringNum(0, 256));
            assertTrue(e.getMessage().contains("VHOST_USER_SET_VRING_NUM"), e.getMessage());
            assertTrue(e.getMessage().contains("REPLY_ACK status 1"), e.getMessage());
            assertTrue(f.isOpen(), "a refusal leaves the stream in step");
            f.setVringBase(0, 0);
        }
    }

    @Test
    void aMalformedReplyIsAnErrorNamingTheRequestAndClosesTheConnection() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> m.kind() == GET_VRING_BASE
                ? FakeBackend.raw(
                        GET_VRING_BASE.id(), VhostUserMessage.VERSION | VhostUserMessage.FLAG_REPLY, 4, new byte[4])
                : null;
        VhostUserFrontend f = connect();
        VhostUserException e = assertThrows(VhostUserException.class, () -> f.getVringBase(0));
        assertTrue(e.getMessage().startsWith("VHOST_USER_GET_VRING_BASE"), e.getMessage());
        assertTrue(e.getMessage().contains("4 payload bytes, not the 8"), e.getMessage());
        assertFalse(f.isOpen());
        assertThrows(VhostUserException.class, () -> f.setVringNum(0, 1));
    }

    @Test
    void aReplyWithoutTheReplyFlagIsRejected() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> m.kind() == GET_FEATURES && backend.received.size() > 4
                ? FakeBackend.raw(GET_FEATURES.id(), VhostUserMessage.VERSION, 8, new byte[8])
                : null;
        try (VhostUserFrontend f = connect()) {
            VhostUserException e = assertThrows(VhostUserException.class, f::getFeatures);
            assertTrue(e.getMessage().contains("no REPLY bit"), e.getMessage());
            assertEquals(VhostUserException.Kind.PROTOCOL, e.kind());
            assertEquals(Errno.EPROTO.number(), e.errno());
            assertFalse(e.shouldReconnect(), "a back-end that breaks the protocol would break it again");
        }
    }

    @Test
    void aBackEndThatHangsUpIsAnErrorNotAHang() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> {
            if (m.kind() == SET_OWNER) {
                try {
                    backend.close();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
                return new byte[0];
            }
            return null;
        };
        try (VhostUserFrontend f = connect()) {
            VhostUserException e = assertThrows(VhostUserException.class, f::setOwner);
            assertTrue(e.getMessage().contains("closed the connection"), e.getMessage());
            assertEquals(VhostUserException.Kind.DISCONNECTED, e.kind());
            assertTrue(e.shouldReconnect(), "a back-end that went away may be back");
        }
    }

    @Test
    void aBackEndThatNeverRepliesIsAnErrorAfterTheTimeout() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> m.kind() == GET_VRING_BASE ? new byte[0] : null;
        VhostUserFrontend f = VhostUserFrontend.connect(dir.resolve("backend.sock"), java.time.Duration.ofMillis(200));
        long t0 = System.nanoTime();
        VhostUserException e = assertThrows(VhostUserException.class, () -> f.getVringBase(1));
        assertTrue(
                e.getMessage().contains("VHOST_USER_GET_VRING_BASE")
                        && e.getMessage().contains("no reply within 200 ms"),
                e.getMessage());
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
        assertEquals(VhostUserException.Kind.TIMEOUT, e.kind());
        assertFalse(f.isOpen(), "a late reply would put the stream out of step: closed");
    }

    @Test
    void aMalformedAnswerAtConnectFailsTheConnect() throws Exception {
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        backend.override = m -> m.kind() == GET_QUEUE_NUM ? FakeBackend.reply(GET_QUEUE_NUM.id(), new byte[2]) : null;
        VhostUserException e = assertThrows(VhostUserException.class, this::connect);
        assertTrue(e.getMessage().startsWith("VHOST_USER_GET_QUEUE_NUM"), e.getMessage());
    }

    @Test
    void refusesAFeatureTheBackEndDidNotOfferAndHasNoKernelOnlyRequests() throws Exception {
        assertFalse(
                VhostKernelBackend.class.isAssignableFrom(VhostUserFrontend.class),
                "the log base as an address, busy polling, IOTLB versions and NET_SET_BACKEND are the kernel's");
        backend(OFFER | PROTOCOL, PROTOCOL_OFFER);
        try (VhostUserFrontend f = connect()) {
            assertThrows(
                    VhostUserException.class,
                    () -> f.setFeatures(bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)),
                    "a bit the back-end did not offer");
        }
    }

    @Test
    void connectingToNothingNamesThePath() {
        VhostUserException e =
                assertThrows(VhostUserException.class, () -> VhostUserFrontend.connect(dir.resolve("none.sock")));
        assertTrue(e.getMessage().contains("none.sock"), e.getMessage());
    }

    @Test
    void negotiatesADpdkOffer() {
        // dpdk-testpmd 22.11's vhost PMD as seen here offers 0xd7c66e7cb: CSUM, GUEST_CSUM, MTU, GSO,
        // GUEST_TSO4/6/ECN/UFO, HOST_ECN, HOST_UFO (no HOST_TSO4/6 without its tso=1), MRG_RXBUF, CTRL_VQ,
        // CTRL_RX, GUEST_ANNOUNCE, MQ, LOG_ALL, ANY_LAYOUT, INDIRECT_DESC, EVENT_IDX, bit 30, VERSION_1,
        // RING_PACKED, IN_ORDER.
        long dpdk = 0xd7c66e7cbL;
        long driver = TestpmdTest.FEATURES
                | bit(VirtioUapi.VIRTIO_NET_F_CSUM)
                | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4)
                | bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN)
                | bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)
                | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4)
                | bit(VirtioUapi.VIRTIO_F_RING_PACKED)
                | bit(VirtioUapi.VIRTIO_NET_F_MQ);
        var n = VhostUserNetDevice.negotiate(FeatureSet.of(dpdk), FeatureSet.of(driver));
        assertEquals(
                bit(VirtioUapi.VIRTIO_F_VERSION_1)
                        | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
                        | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX)
                        | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
                        | bit(VirtioUapi.VIRTIO_NET_F_CSUM)
                        | bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)
                        | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4),
                n.vhost().toLong(),
                "HOST_TSO4 not offered, so HOST_ECN (needs TSO) dropped; no RING_PACKED (split rings only), no MQ bit "
                        + "(no control queue here); bit 30 is the front-end's to add; MAC is the device model's");
        assertEquals(n.vhost().with(VirtioFeature.MAC), n.virtio());
        assertTrue(n.tapOffloads().isEmpty(), "no tap");
        assertEquals(12, n.vnetHeaderSize());
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
    }
}
