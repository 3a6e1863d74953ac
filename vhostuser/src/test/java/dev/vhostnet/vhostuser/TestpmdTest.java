package dev.vhostnet.vhostuser;

import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.Testpmd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against a peer nobody here wrote: DPDK's {@code dpdk-testpmd} with its vhost PMD as the
 * vhost-user back-end (server), forwarding in {@code macswap} mode. The project's
 * {@link VirtioNetDriver} sends frames through it and must get each one back, byte for byte, with
 * source and destination MAC swapped; testpmd's own counters and the rings' bases must agree.
 */
class TestpmdTest {
    static final long RAM = 64L << 20;
    static final long DRIVER_BASE = 1L << 20;
    static final int RING = 256;
    static final int BUFFER = 2048;
    static final int FRAMES = 2000;
    static final long FEATURES = bit(VirtioUapi.VIRTIO_F_VERSION_1)
            | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX)
            | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
            | bit(VirtioUapi.VIRTIO_NET_F_MAC);

    @TempDir
    Path dir;

    static void assumeTestpmd() {
        String cause = Testpmd.unavailabilityCause();
        assumeTrue(cause == null, cause);
    }

    @Test
    void framesComeBackMacSwappedThroughDpdkTestpmd() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = Testpmd.start(dir, 1, false);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 1, FRAMES, false);
            assertArrayEquals(
                    new int[] {FRAMES, FRAMES}, bases, "RX and TX vring bases: one buffer / one chain per frame");
        }
        assertEquals(FRAMES, testpmd.rxPackets(), "testpmd RX-packets");
        assertEquals(FRAMES, testpmd.txPackets(), "testpmd TX-packets");
        assertEquals(0, testpmd.dropped(), "testpmd dropped");
    }

    @Test
    void resumesFromTheBasesGetVringBaseReturned() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = Testpmd.start(dir, 1, false);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 1, FRAMES, true);
            assertArrayEquals(new int[] {2 * FRAMES, 2 * FRAMES}, bases, "bases after stop, restart and stop again");
        }
        assertEquals(2 * FRAMES, testpmd.rxPackets(), "testpmd RX-packets over both runs");
        assertEquals(2 * FRAMES, testpmd.txPackets(), "testpmd TX-packets over both runs");
        assertEquals(0, testpmd.dropped(), "testpmd dropped");
    }

    @Test
    void twoQueuePairsOnOneConnection() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = Testpmd.start(dir, 2, false);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 2, FRAMES, false);
            assertArrayEquals(new int[] {FRAMES, FRAMES, FRAMES, FRAMES}, bases, "every vring of both pairs");
        }
        assertEquals(2 * FRAMES, testpmd.rxPackets(), "testpmd RX-packets, both queues");
        assertEquals(2 * FRAMES, testpmd.txPackets(), "testpmd TX-packets, both queues");
        assertEquals(0, testpmd.dropped(), "testpmd dropped");
    }

    @Test
    void serverModeTestpmdDialsInAsAClientAndFramesComeBack() throws Exception {
        assumeTestpmd();
        try (VhostUserListener listener = VhostUserListener.bind(dir.resolve("vhost-user.sock"))) {
            Testpmd testpmd = Testpmd.start(dir, 1, true);
            try (testpmd) {
                VhostUserFrontend frontend = listener.accept(Duration.ofSeconds(30));
                System.out.printf("testpmd (client=1) connected to %s%n", listener.path());
                int[] bases = runTraffic(frontend, 1, FRAMES, false);
                assertArrayEquals(new int[] {FRAMES, FRAMES}, bases, "RX and TX vring bases");
            }
            assertEquals(FRAMES, testpmd.rxPackets(), "testpmd RX-packets");
            assertEquals(FRAMES, testpmd.txPackets(), "testpmd TX-packets");
            assertEquals(0, testpmd.dropped(), "testpmd dropped");
        }
        assertFalse(Files.exists(dir.resolve("vhost-user.sock")), "the listener removed its socket");
    }

    /**
     * testpmd killed (SIGKILL) mid-run with frames in flight, a new one started on the same socket: the
     * device sees the hang-up, dials the new one and resumes every vring from its used index. Frames the
     * dead testpmd had taken and not returned may be lost; none comes back twice or altered, and every
     * frame sent after the reconnection comes back.
     */
    @Test
    void testpmdKilledMidRunIsReplacedAndTheDeviceResumesFromTheUsedIndex() throws Exception {
        assumeTestpmd();
        int burst = 64;
        int[] resumedTx = new int[1];
        Testpmd first = Testpmd.start(dir, 1, false);
        try (Rig rig = new Rig(1)) {
            VhostUserDialer dialer = VhostUserDialer.of(first.socket);
            try (VhostUserNetDevice device = rig.start(dialer.open(Duration.ofSeconds(30), () -> false))) {
                device.reconnectOnHangUp(dialer, Duration.ofSeconds(60));
                VirtioNetDriver driver = rig.driver(0, device);
                Flow flow = new Flow(0);
                exchange(driver, rig.queuePairs.get(0), flow, FRAMES);
                for (int k = 0; k < burst; k++) {
                    assertTrue(flow.send(driver), "room in the TX ring for the burst");
                }
                first.kill();
                long t0 = System.nanoTime();
                Testpmd second = Testpmd.start(dir, 1, false);
                try (second) {
                    assertTrue(device.awaitRunning(2, Duration.ofSeconds(60)), "reconnected to the new testpmd");
                    long reconnectMillis = (System.nanoTime() - t0) / 1_000_000;
                    VringBases resumed = device.bases();
                    System.out.printf(
                            "SIGKILLed testpmd after %d frames + %d in flight; a new testpmd started and the device "
                                    + "ran again on it %d ms later, resuming from the used indexes RX %d TX %d%n",
                            FRAMES, burst, reconnectMillis, resumed.get(0, QueuePair.RX), resumed.get(0, QueuePair.TX));
                    long lostBefore = flow.lost;
                    exchange(driver, rig.queuePairs.get(0), flow, FRAMES);
                    VringBases bases = device.stop();
                    System.out.printf(
                            "after the reconnection: %d frames back (of %d sent), %d lost at the crash, "
                                    + "none repeated or altered; GET_VRING_BASE %s%n",
                            flow.received, flow.next, flow.lost, bases);
                    assertEquals(lostBefore, flow.lost, "no frame sent after the reconnection is lost");
                    assertEquals(
                            2 * FRAMES + burst,
                            bases.get(0, QueuePair.TX),
                            "every TX chain taken, by one testpmd or the other");
                    assertEquals(flow.received, bases.get(0, QueuePair.RX), "one RX buffer per frame that came back");
                    assertEquals(
                            resumed.get(0, QueuePair.TX) - resumed.get(0, QueuePair.RX),
                            flow.lost,
                            "lost: what the dead testpmd took and never returned");
                    resumedTx[0] = resumed.get(0, QueuePair.TX);
                }
                assertEquals(
                        2 * FRAMES + burst - resumedTx[0],
                        second.rxPackets(),
                        "the new testpmd took the rest of the TX ring");
                assertEquals(second.rxPackets(), second.txPackets(), "and forwarded all of it");
                assertEquals(0, second.dropped(), "testpmd dropped");
            }
        }
    }

    /** Guest memory, the driver's layout and the queue pairs with their eventfds, for a device of {@code pairs} pairs. */
    static final class Rig implements AutoCloseable {
        final MemoryTable memory;
        final DriverMemory layout;
        final List<QueuePair> queuePairs = new ArrayList<>();
        private final List<EventFd> fds = new ArrayList<>();

        Rig(int pairs) throws Exception {
            memory = MemoryTable.builder().region(0, RAM).build();
            try {
                layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, pairs, RING, BUFFER);
                for (DriverMemory.QueuePair p : layout.queuePairs()) {
                    queuePairs.add(new QueuePair(
                            new Virtqueue(p.rx(), add(EventFd.create()), add(EventFd.create())),
                            new Virtqueue(p.tx(), add(EventFd.create()), add(EventFd.create()))));
                }
            } catch (Exception | Error e) {
                close();
                throw e;
            }
        }

        private EventFd add(EventFd fd) {
            fds.add(fd);
            return fd;
        }

        VhostUserNetDevice start(VhostUserFrontend frontend) throws Exception {
            System.out.printf(
                    "testpmd offers features 0x%x, protocol features 0x%x; negotiated protocol 0x%x, %d queues%n",
                    frontend.offeredFeatures().toLong(),
                    frontend.offeredProtocolFeatures(),
                    VhostUserProtocolFeature.mask(frontend.protocolFeatures()),
                    frontend.queueNum());
            VhostUserNetDevice device = VhostUserNetDevice.start(frontend, memory, queuePairs, FeatureSet.of(FEATURES));
            System.out.printf(
                    "negotiated 0x%x (%s), header %d bytes%n",
                    device.features().virtio().toLong(),
                    device.features().virtio(),
                    device.features().vnetHeaderSize());
            return device;
        }

        /** The driver of pair {@code p}, its RX ring filled. */
        VirtioNetDriver driver(int p, VhostUserNetDevice device) throws Exception {
            VirtioNetDriver driver = new VirtioNetDriver(
                    memory,
                    layout.queuePair(p),
                    device.features().virtio(),
                    queuePairs.get(p).rx().kick(),
                    queuePairs.get(p).tx().kick());
            driver.refillRx();
            return driver;
        }

        @Override
        public void close() {
            fds.forEach(EventFd::close);
            memory.close();
        }
    }

    /**
     * Brings a device of {@code pairs} queue pairs up on {@code frontend}, sends {@code frames} frames on
     * each pair and checks each comes back on the same pair MAC-swapped; with {@code restart}, stops,
     * restarts from the saved bases and does it again. Returns the bases at the last stop.
     */
    private int[] runTraffic(VhostUserFrontend frontend, int pairs, int frames, boolean restart) throws Exception {
        try (Rig rig = new Rig(pairs);
                VhostUserNetDevice device = rig.start(frontend)) {
            List<VirtioNetDriver> drivers = new ArrayList<>();
            List<Flow> flows = new ArrayList<>();
            for (int p = 0; p < pairs; p++) {
                drivers.add(rig.driver(p, device));
                flows.add(new Flow(p));
            }
            for (int round = 0; round < (restart ? 2 : 1); round++) {
                if (round == 1) {
                    device.restart();
                }
                for (int p = 0; p < pairs; p++) {
                    exchange(drivers.get(p), rig.queuePairs.get(p), flows.get(p), frames);
                    assertEquals(0, flows.get(p).lost, "pair " + p + ": frames lost");
                }
                System.out.printf("GET_VRING_BASE%s: %s%n", round == 1 ? " after the restart" : "", device.stop());
            }
            return device.bases().toArray();
        }
    }

    /**
     * The frames of one queue pair: numbered, sent in order, at most {@link #WINDOW} in flight. A frame
     * that comes back must be the MAC-swapped copy of one in flight, byte for byte, and later than any
     * before it; the in-flight frames it overtakes are counted lost (only a crashed back-end may lose any).
     */
    static final class Flow {
        static final int WINDOW = 64;
        final int pair;
        final ArrayDeque<byte[]> inFlight = new ArrayDeque<>();
        int next;
        long received;
        long lost;
        long bytes;

        Flow(int pair) {
            this.pair = pair;
        }

        boolean send(VirtioNetDriver driver) throws Exception {
            byte[] frame = EthernetFrames.numbered(pair * 1_000_000 + next);
            if (!driver.transmit(VirtioNetHeader.NONE, frame)) {
                return false;
            }
            inFlight.add(frame);
            next++;
            return true;
        }

        void back(byte[] got) {
            int n = EthernetFrames.number(got);
            while (!inFlight.isEmpty() && EthernetFrames.number(inFlight.peek()) != n) {
                inFlight.remove();
                lost++;
            }
            assertFalse(
                    inFlight.isEmpty(),
                    "pair " + pair + ": frame " + n + " came back but was not in flight (repeated?)");
            assertArrayEquals(
                    EthernetFrames.macSwapped(inFlight.remove()),
                    got,
                    "pair " + pair + ": frame " + n + " came back altered");
            received++;
            bytes += got.length;
        }
    }

    /** Sends {@code frames} more frames of {@code flow} and waits until the last one is back, each checked. */
    private static void exchange(VirtioNetDriver driver, QueuePair queues, Flow flow, int frames) throws Exception {
        int end = flow.next + frames;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (flow.next < end || !flow.inFlight.isEmpty()) {
            assertTrue(
                    System.nanoTime() < deadline,
                    "pair " + flow.pair + ": " + flow.inFlight.size() + " frames did not come back");
            driver.reclaimTx();
            while (flow.next < end && flow.inFlight.size() < Flow.WINDOW && flow.send(driver)) {
                // sent
            }
            Optional<RxFrame> got = driver.receive();
            if (got.isEmpty()) {
                driver.awaitRx(queues.rx().call(), 100);
                continue;
            }
            driver.refillRx();
            flow.back(got.get().frame());
        }
        driver.reclaimTx();
        System.out.printf(
                "pair %d: %d frames (%d bytes) sent through testpmd and received back MAC-swapped, byte-exact "
                        + "(%d lost); %s%n",
                flow.pair, flow.received, flow.bytes, flow.lost, driver.counters());
    }
}
