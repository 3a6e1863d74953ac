package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static dev.vhostnet.it.DataPathTest.transmit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vhostnet.bench.Json;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code NetDevice.counters()} against real traffic: what the device counts equals the frames the
 * driver sent and received, and the tap's own counters (read in its namespace, as {@code ip -s link}
 * shows them) agree.
 */
@Tag("vhost-net")
class DeviceCountersTest {
    private static final int TO_NAMESPACE = 200;
    private static final int TO_GUEST = 50;

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void everyFrameEachWayIsCountedOnceByTheDeviceAndTheTapAgrees(BackendChoice.Kind kind) throws Exception {
        NetFixture.assumeBackend(kind);
        try (NetFixture k = NetFixture.start(kind, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            quiet(k);
            NetDeviceCounters.Pair before = k.device.counters().totals();
            JsonNode tapBefore = tapInNamespace(k);

            long sentBytes = 0;
            for (int i = 0; i < TO_NAMESPACE; i++) {
                byte[] frame = frameTo(k, socket.getLocalPort(), 40000, payload(i, 100 + i * 7));
                transmit(k.driver(0), frame);
                assertArrayEquals(payload(i, 100 + i * 7), TapInNamespace.receive(socket), "datagram " + i);
                sentBytes += frame.length;
            }
            long receivedBytes = 0;
            for (int i = 0; i < TO_GUEST; i++) {
                byte[] sent = payload(i, 200 + i * 11);
                TapInNamespace.sendToGuest(socket, 7600, sent);
                byte[] frame = receiveUdpTo(k, 0, 7600).frame();
                assertArrayEquals(sent, EthernetFrames.udpPayload(frame, 0), "datagram " + i + " to the guest");
                receivedBytes += frame.length;
            }

            NetDeviceCounters counters = k.device.counters();
            JsonNode tapAfter = tapInNamespace(k);
            assertEquals(kind, counters.backend());
            assertEquals(1, counters.pairs().size());
            assertEquals(TO_NAMESPACE, delta(tapBefore, tapAfter, "rx", "packets"), "the tap took every guest frame");
            assertEquals(sentBytes, delta(tapBefore, tapAfter, "rx", "bytes"));
            assertEquals(
                    TO_GUEST, delta(tapBefore, tapAfter, "tx", "packets"), "the tap gave every frame to the guest");
            assertEquals(receivedBytes, delta(tapBefore, tapAfter, "tx", "bytes"));
            assertEquals(Optional.empty(), counters.tap(), "the tap is in another namespace: no statistics here");
            NetDeviceCounters.Pair now = counters.totals();
            assertEquals(0, now.guestViolations());
            assertEquals(0, now.vringErrors());
            if (kind == BackendChoice.Kind.EMULATED) {
                assertEquals(
                        new NetDeviceCounters.Traffic(TO_NAMESPACE, sentBytes, 0),
                        now.tx().orElseThrow().minus(before.tx().orElseThrow()),
                        "TX: the frames the driver sent, their bytes, none dropped");
                assertEquals(
                        new NetDeviceCounters.Traffic(TO_GUEST, receivedBytes, 0),
                        now.rx().orElseThrow().minus(before.rx().orElseThrow()),
                        "RX: the frames the driver received, their bytes, none dropped");
                assertEquals(0, now.refusals());
            } else {
                assertFalse(now.rx().isPresent() || now.tx().isPresent(), "vhost-net's worker counts nothing it shows");
            }
        }
    }

    @Test
    void aTxChainTooShortForItsHeaderIsRefusedCountedAndDroppedWithoutBreakingTheQueue() throws Exception {
        try (NetFixture k = NetFixture.start(BackendChoice.Kind.EMULATED, 1, FEATURES)) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            var tx = k.layout.queuePair(0).tx();
            int slot = k.memory.getShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_IDX) & 0xffff;
            k.memory.putLong(tx.descGpa() + VirtioUapi.VRING_DESC_ADDR, 0x1000);
            k.memory.putInt(tx.descGpa() + VirtioUapi.VRING_DESC_LEN, 4); // the header alone is 12 bytes
            k.memory.putShort(tx.descGpa() + VirtioUapi.VRING_DESC_FLAGS, (short) 0);
            k.memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_RING + 2L * (slot % tx.size()), (short) 0);
            k.memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_IDX, (short) (slot + 1));
            k.queues.get(1).kick().signal();

            long deadline = System.nanoTime() + 5_000_000_000L;
            while (device.counters().totals().refusals() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            NetDeviceCounters.Pair pair = device.counters().pairs().get(0);
            assertEquals(1, pair.refusals(), pair.toString());
            assertEquals(new NetDeviceCounters.Traffic(0, 0, 1), pair.tx().orElseThrow(), "dropped, not sent");
            assertEquals(0, pair.guestViolations(), "a well-formed chain the device cannot use breaks no ring rule");
            assertFalse(device.isBroken(0), "the queue still works");
            assertEquals(
                    slot + 1,
                    k.memory.getShort(tx.usedGpa() + VirtioUapi.VRING_USED_IDX) & 0xffff,
                    "the chain was returned");
        }
    }

    /** Turns IPv6 off on the tap in its namespace (no router or neighbour solicitations), then drains what came before. */
    private static void quiet(NetFixture k) throws Exception {
        String tap = k.net.tap.name();
        k.net.ns.call(() -> Files.writeString(Path.of("/proc/sys/net/ipv6/conf", tap, "disable_ipv6"), "1"));
        k.net.addGuestNeighbour();
        while (k.receive(0, 300).isPresent()) {
            assertTrue(k.driver(0).counters().rxFrames() < 1000, "the namespace went on sending");
        }
    }

    /** The tap's {@code stats64} as {@code ip -s -j link} shows them in its namespace. */
    private static JsonNode tapInNamespace(NetFixture k) throws Exception {
        JsonNode link = Json.parse(k.net.ns.ip("-s", "-j", "link", "show", "dev", k.net.tap.name()));
        return link.get(0).get("stats64");
    }

    private static long delta(JsonNode before, JsonNode after, String direction, String counter) {
        return after.get(direction).get(counter).asLong()
                - before.get(direction).get(counter).asLong();
    }
}
