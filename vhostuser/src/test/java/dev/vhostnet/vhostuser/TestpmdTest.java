package dev.vhostnet.vhostuser;

import static dev.vhostnet.ctl.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioUapi;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.driver.DriverMemory;
import dev.vhostnet.ctl.driver.RxFrame;
import dev.vhostnet.ctl.driver.VirtioNetDriver;
import dev.vhostnet.ctl.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    static final long FEATURES = bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX) | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
            | bit(VirtioUapi.VIRTIO_NET_F_MAC);

    @TempDir
    Path dir;

    static void assumeTestpmd() {
        assumeTrue(Files.isExecutable(TESTPMD), "no " + TESTPMD + ": dpdk-testpmd is in Debian's dpdk-dev package "
                + "(apt-get install dpdk-dev; the dpdk package alone has no testpmd)");
    }

    /** A running dpdk-testpmd with {@code queues} queue pairs on a vhost-user socket it serves; close prints and checks its totals. */
    final class Testpmd implements AutoCloseable {
        final Path socket = dir.resolve("vhost-user.sock");
        final Path output = dir.resolve("testpmd.log");
        final Process process;
        long rxPackets = -1;
        long txPackets = -1;
        long dropped = -1;

        Testpmd(int queues) throws Exception {
            process = new ProcessBuilder(TESTPMD.toString(), "--no-huge", "-m", "1024", "--no-pci", "--no-shconf",
                    "--file-prefix", "vhostnet" + ProcessHandle.current().pid(), "-l", "0-1",
                    "--vdev", "net_vhost0,iface=" + socket + ",client=0,queues=" + queues, "--",
                    "--total-num-mbufs=16384", "--forward-mode=macswap", "--port-topology=loop", "--auto-start",
                    "--rxq=" + queues, "--txq=" + queues, "--stats-period=1")
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectErrorStream(true).redirectOutput(output.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket)) {
                assertTrue(process.isAlive(), () -> "dpdk-testpmd exited: " + tail(output));
                assertTrue(System.nanoTime() < deadline, () -> "dpdk-testpmd made no socket in 30 s: " + tail(output));
                Thread.sleep(50);
            }
        }

        /** Stops testpmd (SIGTERM: it prints its totals and exits) and reads the accumulated totals. */
        @Override
        public void close() throws Exception {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
            String log = Files.readString(output);
            Matcher m = Pattern.compile("Accumulated forward statistics for all ports\\+*\\s*RX-packets: (\\d+)\\s+RX-dropped: (\\d+)"
                    + "\\s+RX-total: \\d+\\s*TX-packets: (\\d+)\\s+TX-dropped: (\\d+)").matcher(log);
            assertTrue(m.find(), () -> "no totals in testpmd's output: " + tail(output));
            rxPackets = Long.parseLong(m.group(1));
            txPackets = Long.parseLong(m.group(3));
            dropped = Long.parseLong(m.group(2)) + Long.parseLong(m.group(4));
            System.out.printf("testpmd totals: RX-packets %d TX-packets %d dropped %d%n", rxPackets, txPackets, dropped);
            log.lines().filter(l -> l.startsWith("VHOST_CONFIG") || l.matches("(?i).*(error|fail|warn).*"))
                    .forEach(l -> System.out.println("testpmd: " + l));
        }
    }

    @Test
    void framesComeBackMacSwappedThroughDpdkTestpmd() throws Exception {
        assumeTestpmd();
        Testpmd testpmd = new Testpmd(1);
        try (testpmd) {
            int[] bases = runTraffic(testpmd.socket, 1, FRAMES, false);
            assertArrayEquals(new int[] {FRAMES, FRAMES}, bases, "RX and TX vring bases: one buffer / one chain per frame");
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
            int[] bases = runTraffic(testpmd.socket, 1, FRAMES, true);
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
            int[] bases = runTraffic(testpmd.socket, 2, FRAMES, false);
            assertArrayEquals(new int[] {FRAMES, FRAMES, FRAMES, FRAMES}, bases, "every vring of both pairs");
        }
        assertEquals(2 * FRAMES, testpmd.rxPackets, "testpmd RX-packets, both queues");
        assertEquals(2 * FRAMES, testpmd.txPackets, "testpmd TX-packets, both queues");
        assertEquals(0, testpmd.dropped, "testpmd dropped");
    }

    /**
     * Brings a device of {@code pairs} queue pairs up on the back-end at {@code socket}, sends
     * {@code frames} frames on each pair and checks each comes back on the same pair MAC-swapped;
     * with {@code restart}, stops, restarts from the saved bases and does it again. Returns the bases at the last stop.
     */
    private int[] runTraffic(Path socket, int pairs, int frames, boolean restart) throws Exception {
        List<EventFd> fds = new ArrayList<>();
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build()) {
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, pairs, RING, BUFFER);
            List<QueuePair> queuePairs = new ArrayList<>();
            for (DriverMemory.QueuePair p : layout.queuePairs()) {
                queuePairs.add(new QueuePair(new Virtqueue(p.rx(), add(fds, EventFd.create()), add(fds, EventFd.create())),
                        new Virtqueue(p.tx(), add(fds, EventFd.create()), add(fds, EventFd.create()))));
            }
            VhostUserFrontend frontend = VhostUserFrontend.connect(socket);
            System.out.printf("testpmd offers features 0x%x, protocol features 0x%x; negotiated protocol 0x%x, %d queues%n",
                    frontend.offeredFeatures(), frontend.offeredProtocolFeatures(), frontend.protocolFeatures(),
                    frontend.queueNum());
            try (VhostUserNetDevice device = VhostUserNetDevice.start(frontend, memory, queuePairs, FEATURES)) {
                System.out.printf("negotiated 0x%x (%s), header %d bytes%n", device.features().virtio(),
                        dev.vhostnet.ctl.Features.names(device.features().virtio()), device.features().vnetHeaderSize());
                List<VirtioNetDriver> drivers = new ArrayList<>();
                for (int p = 0; p < pairs; p++) {
                    VirtioNetDriver driver = new VirtioNetDriver(memory, layout.queuePair(p), device.features().virtio(),
                            queuePairs.get(p).rx().kick(), queuePairs.get(p).tx().kick());
                    driver.refillRx();
                    drivers.add(driver);
                }
                for (int p = 0; p < pairs; p++) {
                    exchange(drivers.get(p), queuePairs.get(p), p, frames);
                }
                int[] bases = device.stop();
                System.out.printf("GET_VRING_BASE: %s%n", java.util.Arrays.toString(bases));
                if (!restart) {
                    return bases;
                }
                device.restart();
                for (int p = 0; p < pairs; p++) {
                    exchange(drivers.get(p), queuePairs.get(p), p, frames);
                }
                bases = device.stop();
                System.out.printf("GET_VRING_BASE after the restart: %s%n", java.util.Arrays.toString(bases));
                return bases;
            }
        } finally {
            fds.forEach(EventFd::close);
        }
    }

    /** Sends {@code frames} frames on {@code driver}, at most 64 in flight, and checks each one back, in order. */
    private static void exchange(VirtioNetDriver driver, QueuePair queues, int pair, int frames) throws Exception {
        ArrayDeque<byte[]> inFlight = new ArrayDeque<>();
        int sent = 0;
        int received = 0;
        long bytes = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (received < frames) {
            assertTrue(System.nanoTime() < deadline, "pair " + pair + ": only " + received + " of " + frames + " frames came back");
            driver.reclaimTx();
            while (sent < frames && inFlight.size() < 64) {
                byte[] frame = frame(pair * 1_000_000 + sent);
                if (!driver.transmit(VirtioNetHeader.NONE, frame)) {
                    break;
                }
                inFlight.add(frame);
                sent++;
            }
            Optional<RxFrame> got = driver.receive();
            if (got.isEmpty()) {
                driver.awaitRx(queues.rx().call(), 100);
                continue;
            }
            driver.refillRx();
            byte[] expected = macSwapped(inFlight.remove());
            assertArrayEquals(expected, got.get().frame(), "pair " + pair + ": frame " + received + " came back altered");
            bytes += expected.length;
            received++;
        }
        driver.reclaimTx();
        System.out.printf("pair %d: %d frames (%d bytes) sent through testpmd and received back MAC-swapped, byte-exact; %s%n",
                pair, received, bytes, driver.counters());
    }

    private static EventFd add(List<EventFd> fds, EventFd fd) {
        fds.add(fd);
        return fd;
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
