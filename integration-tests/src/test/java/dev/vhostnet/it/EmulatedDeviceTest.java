package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static dev.vhostnet.it.DataPathTest.transmit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.device.Violation;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.lang.management.ManagementFactory;
import java.net.DatagramSocket;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The emulated backend against a hostile guest, and what its steady state costs in allocation. */
class EmulatedDeviceTest {
    @Test
    void aDescriptorOutsideGuestMemoryBreaksOnlyItsQueueWhichReturnsTheChainEmpty() throws Exception {
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            VringLayout tx = k.layout.queuePair(0).tx();
            int slot = k.memory.getShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_IDX) & 0xffff;
            k.memory.putLong(tx.descGpa() + VirtioUapi.VRING_DESC_ADDR, NetFixture.RAM + 0x1000);
            k.memory.putInt(tx.descGpa() + VirtioUapi.VRING_DESC_LEN, 100);
            k.memory.putShort(tx.descGpa() + VirtioUapi.VRING_DESC_FLAGS, (short) 0);
            k.memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_RING + 2L * (slot % tx.size()), (short) 0);
            k.memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_IDX, (short) (slot + 1));
            k.queues.get(1).kick().signal();

            awaitTxBroken(device, Violation.OUTSIDE_MEMORY);
            long usedGpa = tx.usedGpa();
            assertEquals(
                    slot + 1,
                    k.memory.getShort(usedGpa + VirtioUapi.VRING_USED_IDX) & 0xffff,
                    "the bad chain was returned");
            assertEquals(
                    0,
                    k.memory.getInt(usedGpa
                            + VirtioUapi.VRING_USED_RING
                            + 8L * (slot % tx.size())
                            + VirtioUapi.VRING_USED_ELEM_LEN),
                    "with used length 0");

            k.net.addGuestNeighbour();
            TapInNamespace.sendToGuest(socket, 7400, payload(1, 50));
            assertArrayEquals(
                    payload(1, 50),
                    EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7400).frame(), 0),
                    "the RX queue of the same pair still works");
        }
    }

    /**
     * Waits for pair 0's TX queue to break, and checks the device counted it once: the rule broken,
     * a guest violation and the vring error reported; returns the pair's counters.
     */
    static NetDeviceCounters.Pair awaitTxBroken(EmulatedNetDevice device, Violation violation) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!device.isBroken(0) && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(device.isBroken(0), "the TX queue is marked broken (virtio NEEDS_RESET)");
        assertEquals(
                1,
                device.counters(0, 1).get(violation),
                device.counters(0, 1).snapshot().toString());
        NetDeviceCounters.Pair pair = device.counters().pairs().get(0);
        assertEquals(1, pair.guestViolations(), "the device's counters show the violation: " + pair);
        assertEquals(1, pair.vringErrors(), "and the vring error it reported");
        return pair;
    }

    /**
     * A long TX pass must not hold the event loop it shares with another pair: after 256 chains it
     * yields, as QEMU's {@code tx_burst} does, and finishes in a task. Pair 0 makes 2048 chains
     * available at once; pair 1's frame goes out while pair 0's pass is under way.
     */
    @Test
    void aLongTxPassDoesNotHoldTheLoopItShares() throws Exception {
        int ring = 2048;
        try (EmulatedLoops oneLoop = EmulatedLoops.create(1);
                NetFixture k =
                        NetFixture.start(Kind.EMULATED, 2, FEATURES, NetFixture.BUFFER, ring, c -> c.loops(oneLoop));
                DatagramSocket socket = k.net.socket()) {
            VirtioNetDriver flooder = k.driver(0);
            byte[] nowhere = EthernetFrames.udp(
                    TapInNamespace.GUEST_MAC,
                    MacAddress.parse("02:00:00:00:99:99"),
                    TapInNamespace.GUEST_IP_BYTES,
                    TapInNamespace.HOST_IP_BYTES,
                    40000,
                    9,
                    payload(5, 64));
            for (int i = 0; i < ring; i++) {
                assertTrue(flooder.enqueue(VirtioNetHeader.NONE, nowhere, 0, nowhere.length));
            }
            VringLayout tx = k.layout.queuePair(0).tx();
            flooder.flush();
            while (usedIdx(k, tx) == 0) {
                Thread.onSpinWait();
            }
            transmit(k.driver(1), frameTo(k, socket.getLocalPort(), 40001, payload(6, 80)));
            assertArrayEquals(payload(6, 80), TapInNamespace.receive(socket), "pair 1's frame went out");
            int pair0Used = usedIdx(k, tx);
            assertTrue(pair0Used < ring, "before pair 0's pass ended: it had used " + pair0Used + " of " + ring);
            while (usedIdx(k, tx) < ring) {
                Thread.sleep(1);
            }
            assertEquals(
                    ring, k.device.counters().pairs().get(0).tx().orElseThrow().packets(), "and pair 0 sent all");
        }
    }

    private static int usedIdx(NetFixture k, VringLayout ring) {
        return k.memory.getShort(ring.usedGpa() + VirtioUapi.VRING_USED_IDX) & 0xffff;
    }

    @Test
    void preferringTheKernelTakesVhostNetWhereItWorksAndTheEmulatedBackendElsewhere() throws Exception {
        Kind expected = Files.exists(VhostNet.DEVICE) ? Kind.KERNEL : Kind.EMULATED;
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES)) {
            k.device.close();
            k.device = NetDevices.start(k.config, BackendChoice.Policy.PREFER_KERNEL);
            assertEquals(expected, k.device.kind());
            try (DatagramSocket socket = k.net.socket()) {
                transmit(k.driver(0), frameTo(k, socket.getLocalPort(), 40000, payload(3, 80)));
                assertArrayEquals(payload(3, 80), TapInNamespace.receive(socket), "the chosen backend moves frames");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TxCopy.class)
    void steadyStateAllocatesNothingPerPacket(TxCopy mode) throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES, NetFixture.BUFFER, c -> c.txCopy(mode));
                DatagramSocket socket = k.net.socket();
                DatagramSocket toGuest = k.net.socket()) {
            k.net.addGuestNeighbour();
            EmulatedNetDevice device = (EmulatedNetDevice) k.device;
            long loopThread = device.loops()
                    .get(0)
                    .submit(() -> Thread.currentThread().getId())
                    .get();
            VirtioNetDriver driver = k.driver(0);
            byte[] frame = frameTo(k, socket.getLocalPort(), 40000, payload(0, 64));
            byte[] toGuestPayload = payload(1, 64);
            long before = 0;
            int measured = 100_000;
            for (int round = 0; round < 2; round++) {
                int packets = round == 0 ? 20_000 : measured;
                if (round == 1) {
                    before = threads.getThreadAllocatedBytes(loopThread);
                }
                for (int i = 0; i < packets; i++) {
                    transmit(driver, frame);
                    if (i % 10 == 0) {
                        TapInNamespace.sendToGuest(toGuest, 7500, toGuestPayload);
                        while (driver.receive().isPresent()) {
                            driver.refillRx();
                        }
                    }
                }
                while (driver.freeTxBuffers() < NetFixture.RING) {
                    driver.reclaimTx();
                    Thread.sleep(1);
                }
            }
            long allocated = threads.getThreadAllocatedBytes(loopThread) - before;
            assertEquals(120_000L, device.counters(0, 1).snapshot().get("chainsPopped"), "the loop sent every frame");
            double perPacket = (double) allocated / (measured + measured / 10);
            assertTrue(
                    perPacket < 1.0,
                    String.format(
                            "the event loop allocated %d bytes for %d packets (%.2f per packet)",
                            allocated, measured + measured / 10, perPacket));
        }
    }
}
