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
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against a peer nobody here wrote: DPDK's {@code dpdk-testpmd} with its vhost PMD as the
 * vhost-user back-end (server), forwarding in {@code macswap} mode. The project's
 * {@link VirtioNetDriver} sends frames through it and must get each one back, byte for byte, with
 * source and destination MAC swapped; testpmd's own counters and the rings' bases must agree.
 */
class TestpmdTest {
    static final Path TESTPMD = Path.of("/usr/bin/dpdk-testpmd");
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
        assumeTrue(
                Files.isExecutable(TESTPMD),
                "no " + TESTPMD + ": dpdk-testpmd is in Debian's dpdk-dev package "
                        + "(apt-get install dpdk-dev; the dpdk package alone has no testpmd)");
    }

    /**
     * A running dpdk-testpmd with {@code queues} queue pairs on a vhost-user socket: it serves the socket
     * ({@code client=0}: a stale socket file is removed first, DPDK will not bind over one) or dials it
     * ({@code client=1}: this side listens). Close prints and checks its totals.
     */
    final class Testpmd implements AutoCloseable {
        static int started;
        final Path socket = dir.resolve("vhost-user.sock");
        final Path output = dir.resolve("testpmd-" + ++started + ".log");
        final Process process;
        long rxPackets = -1;
        long txPackets = -1;
        long dropped = -1;
        private boolean killed;

        Testpmd(int queues) throws Exception {
            this(queues, false);
        }

        Testpmd(int queues, boolean client) throws Exception {
            if (!client) {
                Files.deleteIfExists(socket);
            }
            process = new ProcessBuilder(
                            TESTPMD.toString(),
                            "--no-huge",
                            "-m",
                            "1024",
                            "--no-pci",
                            "--no-shconf",
                            "--file-prefix",
                            "vhostnet" + ProcessHandle.current().pid(),
                            "-l",
                            "0-1",
                            "--vdev",
                            "net_vhost0,iface=" + socket + ",client=" + (client ? 1 : 0) + ",queues=" + queues,
                            "--",
                            "--total-num-mbufs=16384",
                            "--forward-mode=macswap",
                            "--port-topology=loop",
                            "--auto-start",
                            "--rxq=" + queues,
                            "--txq=" + queues,
                            "--stats-period=1")
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            // Its vhost socket comes up (and a client=1 one dials) before the port is configured: wait for
            // forwarding to start too, or the first frames meet a port that is not running yet.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(client || Files.exists(socket))
                    || !Files.readString(output).contains("start packet forwarding")) {
                assertTrue(process.isAlive(), () -> "dpdk-testpmd exited: " + tail(output));
                assertTrue(
                        System.nanoTime() < deadline,
                        () -> "dpdk-testpmd made no socket or did not start forwarding " + "in 30 s: " + tail(output));
                Thread.sleep(50);
            }
        }

        /** SIGKILL, as a crash: no totals, the socket file stays behind. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertTrue(process.waitFor(20, TimeUnit.SECONDS), "dpdk-testpmd survived SIGKILL");
            killed = true;
        }

        /** Stops testpmd (SIGTERM: it prints its totals and exits) and reads the accumulated totals. */
        @Override
        public void close() throws Exception {
            if (killed) {
                return;
            }
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
            String log = Files.readString(output);
            Matcher m = Pattern.compile(
                            "Accumulated forward statistics for all ports\\+*\\s*RX-packets: (\\d+)\\s+RX-dropped: (\\d+)"
                                    + "\\s+RX-total: \\d+\\s*TX-packets: (\\d+)\\s+TX-dropped: (\\d+)")
                    .matcher(log);
            assertTrue(m.find(), () -> "no totals in testpmd's output: " + tail(output));
            rxPackets = Long.parseLong(m.group(1));
            txPackets = Long.parseLong(m.group(3));
            dropped = Long.parseLong(m.group(2)) + Long.parseLong(m.group(4));
            System.out.printf(
                    "testpmd totals: RX-packets %d TX-packets %d dropped %d%n", rxPackets, txPackets, dropped);
            log.lines()
                    .filter(l -> l.startsWith("VHOST_CONFIG") || l.matches("(?i).*(error|fail|warn).*"))
                    .forEach(l -> System.out.println("testpmd: " + l));
        }
    }

    @Test
    void framesComeBackMacSwappedThroughDpdkTestpmd() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = new Testpmd(1);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 1, FRAMES, false);
            assertArrayEquals(
                    new int[] {FRAMES, FRAMES}, bases, "RX and TX vring bases: one buffer / one chain per frame");
        }
        assertEquals(FRAMES, testpmd.rxPackets, "testpmd RX-packets");
        assertEquals(FRAMES, testpmd.txPackets, "testpmd TX-packets");
        assertEquals(0, testpmd.dropped, "testpmd dropped");
    }

    @Test
    void resumesFromTheBasesGetVringBaseReturned() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = new Testpmd(1);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 1, FRAMES, true);
            assertArrayEquals(new int[] {2 * FRAMES, 2 * FRAMES}, bases, "bases after stop, restart and stop again");
        }
        assertEquals(2 * FRAMES, testpmd.rxPackets, "testpmd RX-packets over both runs");
        assertEquals(2 * FRAMES, testpmd.txPackets, "testpmd TX-packets over both runs");
        assertEquals(0, testpmd.dropped, "testpmd dropped");
    }

    @Test
    void twoQueuePairsOnOneConnection() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = new Testpmd(2);
        try (testpmd) {
            int[] bases = runTraffic(VhostUserFrontend.connect(testpmd.socket), 2, FRAMES, false);
            assertArrayEquals(new int[] {FRAMES, FRAMES, FRAMES, FRAMES}, bases, "every vring of both pairs");
        }
        assertEquals(2 * FRAMES, testpmd.rxPackets, "testpmd RX-packets, both queues");
        assertEquals(2 * FRAMES, testpmd.txPackets, "testpmd TX-packets, both queues");
        assertEquals(0, testpmd.dropped, "testpmd dropped");
    }

    @Test
    void serverModeTestpmdDialsInAsAClientAndFramesComeBack() throws Exception {
        assumeTestpmd();
        try (VhostUserListener listener = VhostUserListener.bind(dir.resolve("vhost-user.sock"))) {
            Testpmd testpmd = new Testpmd(1, true);
            try (testpmd) {
                VhostUserFrontend frontend = listener.accept(Duration.ofSeconds(30));
                System.out.printf("testpmd (client=1) connected to %s%n", listener.path());
                int[] bases = runTraffic(frontend, 1, FRAMES, false);
                assertArrayEquals(new int[] {FRAMES, FRAMES}, bases, "RX and TX vring bases");
            }
            assertEquals(FRAMES, testpmd.rxPackets, "testpmd RX-packets");
            assertEquals(FRAMES, testpmd.txPackets, "testpmd TX-packets");
            assertEquals(0, testpmd.dropped, "testpmd dropped");
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
        Testpmd first = new Testpmd(1);
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
                Testpmd second = new Testpmd(1);
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
                        second.rxPackets,
                        "the new testpmd took the rest of the TX ring");
                assertEquals(second.rxPackets, second.txPackets, "and forwarded all of it");
                assertEquals(0, second.dropped, "testpmd dropped");
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
            byte[] frame = frame(pair * 1_000_000 + next);
            if (!driver.transmit(VirtioNetHeader.NONE, frame)) {
                return false;
            }
            inFlight.add(frame);
            next++;
            return true;
        }

        void back(byte[] got) {
            int n = number(got);
            while (!inFlight.isEmpty() && number(inFlight.peek()) != n) {
                inFlight.remove();
                lost++;
            }
            assertFalse(
                    inFlight.isEmpty(),
                    "pair " + pair + ": frame " + n + " came back but was not in flight (repeated?)");
            assertArrayEquals(
                    macSwapped(inFlight.remove()), got, "pair " + pair + ": frame " + n + " came back altered");
            received++;
            bytes += got.length;
        }

        private static int number(byte[] frame) {
            return ByteBuffer.wrap(frame, 14, 4).getInt();
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

    /** Frame {@code n}: to 02:00:00:00:00:01 from 02:00:00:00:00:02, EtherType 0x88b5 (local experimental), 60 to 1514 bytes. */
    static byte[] frame(int n) {
        int length = 60 + (n * 37) % (1514 - 60 + 1);
        byte[] f = new byte[length];
        byte[] dst = {2, 0, 0, 0, 0, 1};
        byte[] src = {2, 0, 0, 0, 0, 2};
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = (byte) 0x88;
        f[13] = (byte) 0xb5;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (n * 31 + i);
        }
        f[14] = (byte) (n >>> 24);
        f[15] = (byte) (n >>> 16);
        f[16] = (byte) (n >>> 8);
        f[17] = (byte) n;
        return f;
    }

    static byte[] macSwapped(byte[] frame) {
        byte[] s = frame.clone();
        System.arraycopy(frame, 0, s, 6, 6);
        System.arraycopy(frame, 6, s, 0, 6);
        return s;
    }

    private static String tail(Path output) {
        try {
            List<String> lines = Files.readAllLines(output);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }
}
