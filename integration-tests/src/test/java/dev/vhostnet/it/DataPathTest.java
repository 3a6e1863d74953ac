package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Frames through either backend, with this process as the guest's virtio-net driver. */
@Tag("vhost-net")
class DataPathTest {
    static final FeatureSet FEATURES = FeatureSet.of(
            VirtioFeature.VERSION_1,
            VirtioFeature.MRG_RXBUF,
            VirtioFeature.EVENT_IDX,
            VirtioFeature.INDIRECT_DESC,
            VirtioFeature.CSUM,
            VirtioFeature.GUEST_CSUM);
    private static final int HEADERS = EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN + EthernetFrames.UDP_HLEN;

    /** A payload of {@code length} bytes that starts with its sequence number, the rest random from it. */
    static byte[] payload(int seq, int length) {
        byte[] p = new byte[length];
        new Random(seq).nextBytes(p);
        ByteBuffer.wrap(p).putInt(seq);
        return p;
    }

    static byte[] frameTo(NetFixture k, int port, int srcPort, byte[] payload) {
        return EthernetFrames.udp(
                TapInNamespace.GUEST_MAC,
                k.net.tapMac,
                TapInNamespace.GUEST_IP_BYTES,
                TapInNamespace.HOST_IP_BYTES,
                srcPort,
                port,
                payload);
    }

    static void transmit(VirtioNetDriver driver, byte[] frame) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!driver.transmit(VirtioNetHeader.NONE, frame)) {
            driver.reclaimTx();
            assertTrue(System.nanoTime() < deadline, "the TX ring stayed full for 5 s: vhost-net is not consuming it");
            Thread.sleep(1);
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void tenThousandFramesOf60To1514BytesArriveByteExactAndInOrder(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            int port = socket.getLocalPort();
            VirtioNetDriver driver = k.driver(0);
            int sent = 0;
            int received = 0;
            while (received < 10_000) {
                for (int batch = 0; batch < 64 && sent < 10_000; batch++, sent++) {
                    int size = 60 + (int) ((sent * 7919L) % (1514 - 60 + 1));
                    transmit(driver, frameTo(k, port, 40000, payload(sent, size - HEADERS)));
                }
                for (; received < sent; received++) {
                    byte[] got = TapInNamespace.receive(socket);
                    int size = 60 + (int) ((received * 7919L) % (1514 - 60 + 1));
                    assertArrayEquals(payload(received, size - HEADERS), got, "datagram " + received + ", in order");
                }
            }
            assertEquals(10_000, driver.counters().txFrames());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void datagramsFromTheNamespaceArriveInRxBuffersWithTheirHeadersMergedAcrossBuffers(BackendChoice.Kind kind)
            throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            k.net.ns.ip("link", "set", "dev", k.net.tap.name(), "mtu", "9000");
            k.net.addGuestNeighbour();
            for (int length : new int[] {1, 100, 1472, 2000, 5000, 8000}) {
                byte[] sent = payload(length, Math.max(length, 4));
                TapInNamespace.sendToGuest(socket, 5555, sent);
                RxFrame rx = receiveUdpTo(k, 0, 5555);
                assertArrayEquals(sent, EthernetFrames.udpPayload(rx.frame(), 0), "payload of " + sent.length);
                int frameBytes = HEADERS + sent.length + 12;
                assertEquals(
                        (frameBytes + NetFixture.BUFFER - 1) / NetFixture.BUFFER,
                        rx.hdr().numBuffers(),
                        "buffers merged for a " + rx.frame().length + "-byte frame");
                assertTrue(
                        rx.hdr().flags() == 0
                                || rx.hdr().flags() == VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM
                                || rx.hdr().flags() == VirtioUapi.VIRTIO_NET_HDR_F_DATA_VALID,
                        "flags " + rx.hdr());
                if ((rx.hdr().flags() & VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
                    assertEquals(
                            EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN,
                            rx.hdr().csumStart());
                    assertEquals(6, rx.hdr().csumOffset());
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void aSixtyFourKibGsoDatagramLeavesAsOneFrameAndArrivesWhole(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        FeatureSet features = FEATURES.with(VirtioFeature.HOST_UFO);
        try (NetFixture k = NetFixture.start(kind, 1, features);
                DatagramSocket socket = k.net.socket()) {
            assertTrue(k.device.has(VirtioFeature.HOST_UFO), "the tap has a vnet header, so the guest may send UFO");
            socket.setReceiveBufferSize(1 << 20);
            byte[] sent = payload(64, 65000);
            byte[] frame = frameTo(k, socket.getLocalPort(), 40000, sent);
            ByteBuffer.wrap(frame).putShort(EthernetFrames.UDP_CHECK, (short)
                    EthernetFrames.fold(EthernetFrames.pseudoHeader(frame)));
            VirtioNetHeader gso = new VirtioNetHeader(
                    VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM,
                    VirtioUapi.VIRTIO_NET_HDR_GSO_UDP,
                    HEADERS,
                    1472,
                    EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN,
                    6,
                    0);
            assertTrue(k.driver(0).transmit(gso, frame), "one 65042-byte frame, gathered from TX buffers");
            DatagramPacket p = new DatagramPacket(new byte[70000], 70000);
            socket.receive(p);
            assertArrayEquals(sent, Arrays.copyOf(p.getData(), p.getLength()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void withNoRxBufferPostedFramesWaitInTheTapAndArriveOnceBuffersAre(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            k.net.addGuestNeighbour();
            VirtioNetDriver driver = k.driver(0);
            int total = NetFixture.RING + 50;
            for (int i = 0; i < total; i++) {
                TapInNamespace.sendToGuest(socket, 7300, payload(i, 64));
            }
            int got = 0;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (got < NetFixture.RING && System.nanoTime() < deadline) {
                Optional<RxFrame> rx = driver.receive();
                if (rx.isPresent()) {
                    assertArrayEquals(
                            payload(got, 64), EthernetFrames.udpPayload(rx.get().frame(), 0), "datagram " + got);
                    got++;
                } else {
                    Thread.sleep(1);
                }
            }
            assertEquals(NetFixture.RING, got, "the posted buffers filled");
            Thread.sleep(200);
            assertTrue(driver.receive().isEmpty(), "with every buffer used, the rest waits in the tap");
            while (got < total && System.nanoTime() < deadline) {
                driver.refillRx();
                Optional<RxFrame> rx = driver.receive();
                if (rx.isPresent()) {
                    assertArrayEquals(
                            payload(got, 64), EthernetFrames.udpPayload(rx.get().frame(), 0), "datagram " + got);
                    got++;
                } else {
                    Thread.sleep(1);
                }
            }
            assertEquals(total, got, () -> "every datagram arrived once the driver posted buffers again; " + diag(k));
            assertTrue(k.receive(0, 300).isEmpty(), "no datagram twice");
        }
    }

    static String diag(NetFixture k) {
        if (k.device instanceof dev.vhostnet.ctl.emulated.EmulatedNetDevice e) {
            return "broken " + e.isBroken(0) + " rx " + e.counters(0, 0).snapshot() + " dropped " + e.dropped()
                    + " driver " + k.driver(0).counters() + " free "
                    + k.driver(0).freeRxBuffers();
        }
        return "";
    }

    static RxFrame receiveUdpTo(NetFixture k, int pair, int port) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<RxFrame> rx = k.receive(pair, 500);
            if (rx.isPresent() && EthernetFrames.isUdpTo(rx.get().frame(), 0, port)) {
                return rx.get();
            }
        }
        throw new AssertionError("no UDP frame to port " + port + " reached the RX queue of pair " + pair);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void twoQueuePairsCarryTrafficAtOnce(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 2, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            int port = socket.getLocalPort();
            Set<Integer> expected = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                transmit(k.driver(i % 2), frameTo(k, port, 41000 + i % 2, payload(i, 200)));
                expected.add(i);
            }
            Set<Integer> got = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                got.add(ByteBuffer.wrap(TapInNamespace.receive(socket)).getInt());
            }
            assertEquals(expected, got, "both TX queues delivered every frame");
            assertEquals(100, k.driver(0).counters().txFrames());
            assertEquals(100, k.driver(1).counters().txFrames());

            k.net.addGuestNeighbour();
            int[] perQueue = new int[2];
            for (int flow = 0; flow < 32; flow++) {
                try (DatagramSocket from = k.net.socket()) {
                    TapInNamespace.sendToGuest(from, 6000, payload(flow, 64));
                }
            }
            int total = 0;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (total < 32 && System.nanoTime() < deadline) {
                for (int q = 0; q < 2; q++) {
                    Optional<RxFrame> rx = k.receive(q, 50);
                    if (rx.isPresent() && EthernetFrames.isUdpTo(rx.get().frame(), 0, 6000)) {
                        perQueue[q]++;
                        total++;
                    }
                }
            }
            assertEquals(32, total, "every flow's datagram arrived on one of the RX queues");
            assertTrue(
                    perQueue[0] > 0 && perQueue[1] > 0,
                    "flows spread over both queues: " + perQueue[0] + "/" + perQueue[1]);
        }
    }
}
