package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.transmit;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.device.RawRing;
import dev.vhostnet.ctl.device.Violation;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The emulated backend's TX in both {@link TxCopy} modes: frames arrive byte-exact whatever the
 * chain's shape, and a hostile chain is refused and counted the same way.
 */
class EmulatedTxCopyTest {
    static final int HEADERS = EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN + EthernetFrames.UDP_HLEN;
    /** Guest memory below the driver's rings and buffers, for chains laid out by hand. */
    static final long HAND = 0x10000;

    static NetFixture start(TxCopy mode) throws Exception {
        return NetFixture.start(Kind.EMULATED, 1, FEATURES, NetFixture.BUFFER, c -> c.txCopy(mode));
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void framesOf64And1500BytesArriveByteExact(TxCopy mode) throws Exception {
        try (NetFixture k = start(mode);
                DatagramSocket socket = k.net.socket()) {
            for (int size : new int[] {64, 1500}) {
                byte[] payload = payload(size, size - HEADERS);
                transmit(k.driver(0), frameTo(k, socket.getLocalPort(), 40000, payload));
                assertArrayEquals(payload, TapInNamespace.receive(socket), size + "-byte frame, " + mode);
            }
            NetDeviceCounters.Traffic tx = awaitSent(k, 2).tx().orElseThrow();
            assertEquals(64 + 1500, tx.bytes());
        }
    }

    /** Pair 0's counters once they count {@code packets} sent (the loop counts a frame after the tap took it). */
    static NetDeviceCounters.Pair awaitSent(NetFixture k, long packets) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        NetDeviceCounters.Pair pair = k.device.counters().pairs().get(0);
        while (pair.tx().orElseThrow().packets() < packets && System.nanoTime() < deadline) {
            Thread.sleep(1);
            pair = k.device.counters().pairs().get(0);
        }
        assertEquals(packets, pair.tx().orElseThrow().packets(), pair.toString());
        return pair;
    }

    /**
     * Lays the guest's header and {@code frame} out by hand over descriptors of the lengths given
     * (the header's bytes first, then the frame's), each buffer apart from the others, posts the
     * chain at descriptor {@code first}, and kicks.
     */
    static void postByHand(NetFixture k, RawRing ring, int first, byte[] frame, int... lengths) throws Exception {
        byte[] bytes = new byte[VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE + frame.length];
        VirtioNetHeader.NONE.writeTo(ByteBuffer.wrap(bytes), 0, VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE);
        System.arraycopy(frame, 0, bytes, VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE, frame.length);
        assertEquals(bytes.length, Arrays.stream(lengths).sum());
        int from = 0;
        for (int d = 0; d < lengths.length; d++) {
            long gpa = HAND + 0x1000L * (first + d) * 2 + 3 * d;
            k.memory.write(gpa, bytes, from, lengths[d]);
            from += lengths[d];
            boolean more = d + 1 < lengths.length;
            ring.desc(first + d, gpa, lengths[d], more ? VRING_DESC_F_NEXT : 0, more ? first + d + 1 : 0);
        }
        ring.post(first);
        k.queues.get(1).kick().signal();
    }

    /** The TX ring of pair 0 taken over from the driver, which has sent nothing on it. */
    static RawRing txRing(NetFixture k) {
        return new RawRing(k.memory, k.layout.queuePair(0).tx()).clear();
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void aFrameWithItsHeaderInADescriptorOfItsOwnAndItsDataOverSeveralArrivesByteExact(TxCopy mode) throws Exception {
        try (NetFixture k = start(mode);
                DatagramSocket socket = k.net.socket()) {
            RawRing ring = txRing(k);
            byte[] payload = payload(7, 1500 - HEADERS);
            postByHand(k, ring, 0, frameTo(k, socket.getLocalPort(), 40000, payload), 12, 7, 1000, 493);
            assertArrayEquals(payload, TapInNamespace.receive(socket));
            payload = payload(8, 64 - HEADERS);
            postByHand(k, ring, 4, frameTo(k, socket.getLocalPort(), 40000, payload), 5, 7 + 30, 34);
            assertArrayEquals(payload, TapInNamespace.receive(socket), "a header split over two descriptors");
        }
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void aTapWithoutAVnetHeaderGetsTheFrameAloneAlsoWhenTheHeaderEndsInsideADescriptor(TxCopy mode) throws Exception {
        try (NetFixture k = NetFixture.start(
                        Kind.EMULATED, FEATURES, NetFixture.BUFFER, TapConfig.builder(), c -> c.txCopy(mode));
                DatagramSocket socket = k.net.socket()) {
            RawRing ring = txRing(k);
            byte[] payload = payload(9, 1500 - HEADERS);
            postByHand(k, ring, 0, frameTo(k, socket.getLocalPort(), 40000, payload), 5, 7, 1000, 500);
            assertArrayEquals(payload, TapInNamespace.receive(socket), "header in two descriptors of its own");
            postByHand(k, ring, 4, frameTo(k, socket.getLocalPort(), 40000, payload), 9, 1503);
            assertArrayEquals(payload, TapInNamespace.receive(socket), "header ending inside the data's descriptor");
        }
    }

    /** Chains a hostile driver posts at descriptor 0, and the rule each breaks. */
    enum Hostile {
        OUTSIDE_MEMORY(Violation.OUTSIDE_MEMORY) {
            @Override
            void post(RawRing ring) {
                ring.desc(0, HAND, 12, VRING_DESC_F_NEXT, 1).desc(1, NetFixture.RAM + 0x1000, 100, 0, 0);
            }
        },
        A_LOOP(Violation.CHAIN_TOO_LONG) {
            @Override
            void post(RawRing ring) {
                ring.desc(0, HAND, 12, VRING_DESC_F_NEXT, 1).desc(1, HAND, 100, VRING_DESC_F_NEXT, 0);
            }
        },
        MORE_THAN_4_GIB(Violation.TOTAL_LENGTH_OVERFLOW) {
            @Override
            void post(RawRing ring) {
                for (int d = 0; d < 64; d++) {
                    ring.desc(d, 0, NetFixture.RAM, VRING_DESC_F_NEXT, d + 1);
                }
                ring.desc(64, 0, 100, 0, 0);
            }
        };

        final Violation violation;

        Hostile(Violation violation) {
            this.violation = violation;
        }

        abstract void post(RawRing ring);
    }

    static Stream<Arguments> hostileChains() {
        return Stream.of(TxCopy.values())
                .flatMap(mode -> Stream.of(Hostile.values()).map(h -> Arguments.of(mode, h)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("hostileChains")
    void aHostileChainBreaksTheQueueIsReturnedEmptyAndCountedOnce(TxCopy mode, Hostile hostile) throws Exception {
        try (NetFixture k = start(mode)) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            RawRing ring = txRing(k);
            hostile.post(ring);
            ring.post(0);
            k.queues.get(1).kick().signal();

            NetDeviceCounters.Pair pair = EmulatedDeviceTest.awaitTxBroken(device, hostile.violation);
            assertEquals(0, pair.tx().orElseThrow().packets(), "nothing was sent");
            assertEquals(1, ring.usedIdx(), "the chain was returned");
            assertEquals(0, ring.usedLen(0), "with used length 0");
        }
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void aChainLongerThanAGsoFrameIsRefusedCountedAndTheNextSent(TxCopy mode) throws Exception {
        try (NetFixture k = start(mode);
                DatagramSocket socket = k.net.socket()) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            RawRing ring = txRing(k);
            ring.desc(0, 0, 40_000, VRING_DESC_F_NEXT, 1)
                    .desc(1, 0, 40_000, 0, 0)
                    .post(0);
            byte[] payload = payload(10, 100);
            postByHand(k, ring, 2, frameTo(k, socket.getLocalPort(), 40000, payload), 12, 100 + HEADERS);

            assertArrayEquals(payload, TapInNamespace.receive(socket), "the next chain is sent");
            NetDeviceCounters.Pair pair = awaitSent(k, 1);
            assertEquals(1, pair.refusals(), pair.toString());
            assertEquals(1, pair.tx().orElseThrow().dropped(), pair.toString());
            assertEquals(0, pair.guestViolations(), "a well-formed chain the device cannot send breaks nothing");
            assertFalse(device.isBroken(0));
            assertEquals(0, ring.usedLen(0));
        }
    }

    @Test
    void theSingleCopyLeavesNothingOpen() throws Exception {
        Set<Integer> before = EmulatedFaultsTest.settledFds();
        try (NetFixture k = start(TxCopy.SINGLE);
                DatagramSocket socket = k.net.socket()) {
            byte[] payload = payload(11, 200);
            transmit(k.driver(0), frameTo(k, socket.getLocalPort(), 40000, payload));
            assertArrayEquals(payload, TapInNamespace.receive(socket));
        }
        EmulatedFaultsTest.assertNothingLeftOpenSince(before);
    }
}
