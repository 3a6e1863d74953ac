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

    @Test
    void framesComeBackMacSwappedThroughDpdkTestpmd() throws Exception {
        assumeTestpmd();
        Path socket = dir.resolve("vhost-user.sock");
        Path output = dir.resolve("testpmd.log");
        Process testpmd = new ProcessBuilder(TESTPMD.toString(), "--no-huge", "-m", "1024", "--no-pci", "--no-shconf",
                "--file-prefix", "vhostnet" + ProcessHandle.current().pid(), "-l", "0-1",
                "--vdev", "net_vhost0,iface=" + socket + ",client=0", "--",
                "--total-num-mbufs=16384", "--forward-mode=macswap", "--port-topology=loop", "--auto-start",
                "--stats-period=1")
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket)) {
                assertTrue(testpmd.isAlive(), () -> "dpdk-testpmd exited: " + tail(output));
                assertTrue(System.nanoTime() < deadline, () -> "dpdk-testpmd made no socket in 30 s: " + tail(output));
                Thread.sleep(50);
            }
            int[] bases = runTraffic(socket);
            assertEquals(FRAMES, bases[0], "RX vring base: one buffer per frame received");
            assertEquals(FRAMES, bases[1], "TX vring base: one chain per frame sent");
        } finally {
            testpmd.destroy(); // SIGTERM: testpmd prints its totals and exits
            if (!testpmd.waitFor(20, TimeUnit.SECONDS)) {
                testpmd.destroyForcibly();
            }
        }
        String log = Files.readString(output);
        Matcher m = Pattern.compile("Accumulated forward statistics for all ports\\+*\\s*RX-packets: (\\d+)\\s+RX-dropped: (\\d+)"
                + "\\s+RX-total: \\d+\\s*TX-packets: (\\d+)\\s+TX-dropped: (\\d+)").matcher(log);
        assertTrue(m.find(), () -> "no totals in testpmd's output: " + tail(output));
        System.out.printf("testpmd totals: RX-packets %s RX-dropped %s TX-packets %s TX-dropped %s%n",
                m.group(1), m.group(2), m.group(3), m.group(4));
        assertEquals(FRAMES, Long.parseLong(m.group(1)), "testpmd RX-packets");
        assertEquals(FRAMES, Long.parseLong(m.group(3)), "testpmd TX-packets");
        assertEquals(0, Long.parseLong(m.group(2)) + Long.parseLong(m.group(4)), "testpmd dropped");
    }

    private int[] runTraffic(Path socket) throws Exception {
        List<EventFd> fds = new ArrayList<>();
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build()) {
            DriverMemory layout = DriverMemory.layout(DRIVER_BASE, RAM - DRIVER_BASE, 1, RING, BUFFER);
            DriverMemory.QueuePair p = layout.queuePair(0);
            Virtqueue rx = new Virtqueue(p.rx(), add(fds, EventFd.create()), add(fds, EventFd.create()));
            Virtqueue tx = new Virtqueue(p.tx(), add(fds, EventFd.create()), add(fds, EventFd.create()));
            VhostUserFrontend frontend = VhostUserFrontend.connect(socket);
            System.out.printf("testpmd offers features 0x%x, protocol features 0x%x; negotiated protocol 0x%x, %d queues%n",
                    frontend.offeredFeatures(), frontend.offeredProtocolFeatures(), frontend.protocolFeatures(),
                    frontend.queueNum());
            try (VhostUserNetDevice device = VhostUserNetDevice.start(frontend, memory, List.of(new QueuePair(rx, tx)),
                    FEATURES)) {
                System.out.printf("negotiated 0x%x (%s), header %d bytes%n", device.features().virtio(),
                        dev.vhostnet.ctl.Features.names(device.features().virtio()), device.features().vnetHeaderSize());
                VirtioNetDriver driver = new VirtioNetDriver(memory, p, device.features().virtio(), rx.kick(), tx.kick());
                driver.refillRx();
                ArrayDeque<byte[]> inFlight = new ArrayDeque<>();
                int sent = 0;
                int received = 0;
                long bytes = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (received < FRAMES) {
                    assertTrue(System.nanoTime() < deadline, "only " + received + " of " + FRAMES + " frames came back");
                    driver.reclaimTx();
                    while (sent < FRAMES && inFlight.size() < 64) {
                        byte[] frame = frame(sent);
                        if (!driver.transmit(VirtioNetHeader.NONE, frame)) {
                            break;
                        }
                        inFlight.add(frame);
                        sent++;
                    }
                    Optional<RxFrame> got = driver.receive();
                    if (got.isEmpty()) {
                        if (!driver.enableRxInterrupts()) {
                            rx.call().await(100);
                        }
                        driver.disableRxInterrupts();
                        continue;
                    }
                    driver.refillRx();
                    byte[] expected = macSwapped(inFlight.remove());
                    assertArrayEquals(expected, got.get().frame(), "frame " + received + " came back altered");
                    bytes += expected.length;
                    received++;
                }
                System.out.printf("%d frames (%d bytes) sent through testpmd and received back MAC-swapped, byte-exact; "
                        + "driver counters %s%n", received, bytes, driver.counters());
                int[] bases = device.stop();
                System.out.printf("GET_VRING_BASE: RX %d, TX %d%n", bases[0], bases[1]);
                return bases;
            }
        } finally {
            fds.forEach(EventFd::close);
        }
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
