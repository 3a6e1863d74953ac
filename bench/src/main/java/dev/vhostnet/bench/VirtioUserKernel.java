package dev.vhostnet.bench;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import dev.vhostnet.testkit.TestpmdProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 20's C peer for this project's driver over vhost-net: DPDK's virtio-user with its
 * vhost-kernel back-end ({@code net_virtio_user0,path=/dev/vhost-net}: testpmd opens vhost-net,
 * makes a tap, and hands vhost-net its memory and rings, as the {@code KERNEL} backend does for
 * this project's driver) in testpmd's {@code txonly} mode. TX only, one pair, frames up to {@link
 * VhostUserPeers#LARGEST} bytes; counted at its tap's {@code rx_packets} over a window, as {@link
 * TxCount#TAP} counts the driver, after the first frame and the warm-up. Ordinary pages ({@code
 * --no-huge}): vhost-net reads the process's own addresses and maps no file. Both lcores on the
 * CPUs this process may use (the main one on the first, forwarding on the last). Device CPU is its
 * {@code vhost-<pid>} worker's, driver CPU testpmd's other threads'. A fresh testpmd and tap per
 * repetition; every one is stopped and its tap gone, also when a repetition fails (its size's cell
 * is then skipped with the reason).
 */
public final class VirtioUserKernel {
    private static final Logger log = LoggerFactory.getLogger(VirtioUserKernel.class);
    /** Memory testpmd takes ({@code -m}, ordinary pages): 8,192 mbufs fit in it. */
    static final int MEMORY_MIB = 256;

    private static final Duration PATIENCE = Duration.ofSeconds(30);

    private VirtioUserKernel() {}

    /** Why it cannot run here, with how to get what is missing, or null. */
    public static String unavailabilityCause() {
        String testpmd = TestpmdProcess.unavailabilityCause();
        if (testpmd != null) {
            return "DPDK's virtio-user needs dpdk-testpmd: " + testpmd;
        }
        if (!Files.exists(VhostNet.DEVICE)) {
            return "DPDK's virtio-user over vhost-net needs " + VhostNet.DEVICE + " (modprobe vhost_net)";
        }
        return null;
    }

    /** The testpmd command line of one repetition: EAL options, then the application's. */
    static List<List<String>> command(String tap, int frameBytes, int mainCpu, int forwardingCpu) {
        return List.of(
                List.of(
                        "--lcores",
                        "0@" + mainCpu + ",1@" + forwardingCpu,
                        "--no-huge",
                        "-m",
                        Integer.toString(MEMORY_MIB),
                        "--no-pci",
                        "--vdev",
                        "net_virtio_user0,path=" + VhostNet.DEVICE + ",queues=1,queue_size=256,iface=" + tap),
                List.of(
                        "--forward-mode=txonly",
                        "--txpkts=" + frameBytes,
                        "--auto-start",
                        "--stats-period=5",
                        "--total-num-mbufs=8192",
                        "--no-lsc-interrupt"));
    }

    /**
     * Measures every TX size of {@code config}; the progress lines count on from {@code done} of
     * {@code total}. Cells of sizes it cannot send, or whose repetitions failed, are skipped with why.
     */
    static List<Cell> run(BenchConfig config, Progress progress, int done, int total, List<String> notes)
            throws Exception {
        List<Integer> cpus = CpuAffinity.ofThisProcess();
        int mainCpu = cpus.get(0);
        int forwardingCpu = cpus.get(cpus.size() - 1);
        Path dir = Files.createTempDirectory("vhostnet-virtio-user");
        List<Cell> cells = new ArrayList<>();
        int index = done;
        try {
            for (int size : config.sizes()) {
                index++;
                if (size > VhostUserPeers.LARGEST) {
                    cells.add(Cell.skipped(
                            BenchPath.KERNEL_VIRTIO_USER,
                            Direction.TX,
                            size,
                            1,
                            "testpmd's txonly sends a frame in one mbuf: up to " + VhostUserPeers.LARGEST + " bytes"));
                    progress.update(index, total, BenchPath.KERNEL_VIRTIO_USER.label() + " " + size + " B: skipped");
                    continue;
                }
                List<Rep> reps = new ArrayList<>();
                try {
                    for (int r = 0; r < config.repetitions(); r++) {
                        Rep rep = repetition(
                                config,
                                size,
                                dir.resolve("testpmd-" + size + "-" + r + ".log"),
                                mainCpu,
                                forwardingCpu);
                        reps.add(rep);
                        progress.repetition(
                                index,
                                total,
                                BenchPath.KERNEL_VIRTIO_USER.label() + " TX " + size + " B",
                                r,
                                config.repetitions(),
                                rep,
                                "");
                    }
                    cells.add(new Cell(BenchPath.KERNEL_VIRTIO_USER, Direction.TX, size, 1, reps, null));
                } catch (IOException | RuntimeException e) {
                    log.warn("DPDK's virtio-user at {} B failed", size, e);
                    cells.add(Cell.skipped(
                            BenchPath.KERNEL_VIRTIO_USER, Direction.TX, size, 1, "failed: " + e.getMessage()));
                }
            }
        } finally {
            VhostUserPeers.delete(dir);
        }
        notes.add(String.format(
                Locale.ROOT,
                "%s: dpdk-testpmd net_virtio_user on %s in txonly mode (main lcore on CPU %d, forwarding on CPU %d, "
                        + "%d MiB of ordinary pages), a fresh tap per repetition, up in the host's namespace, where "
                        + "the frames (not addressed to it) are dropped early; packets = the tap's rx_packets over the "
                        + "window; device CPU = its vhost worker, driver CPU = testpmd's other threads. Its forwarding "
                        + "lcore polls: on a CPU it shares with the vhost worker, the polling is in its CPU per packet.",
                BenchPath.KERNEL_VIRTIO_USER.label(),
                VhostNet.DEVICE,
                mainCpu,
                forwardingCpu,
                MEMORY_MIB));
        return cells;
    }

    private static Rep repetition(BenchConfig config, int size, Path log, int mainCpu, int forwardingCpu)
            throws IOException, InterruptedException {
        String tap = Names.random("vtu");
        List<List<String>> command = command(tap, size, mainCpu, forwardingCpu);
        try (TestpmdProcess testpmd = TestpmdProcess.start(command.get(0), command.get(1), log, null, PATIENCE)) {
            // virtio-user makes the tap down; a tap that is down drops every frame.
            Command.run("ip", "link", "set", "dev", tap, "up");
            VhostUserPeers.awaitFirstFrame(tap, TapRxPackets.sysfs(tap), testpmd);
            Thread.sleep(config.warmUp().toMillis());
            List<List<Path>> workers = ThreadCpu.vhostWorkersOf(testpmd.pid());
            List<Path> device = new ArrayList<>(workers.get(0));
            device.addAll(workers.get(1));
            List<Path> driver = new ArrayList<>(ThreadCpu.threadsOf(testpmd.pid()));
            driver.removeAll(workers.get(1));
            long dev0 = ThreadCpu.nanos(device);
            long drv0 = ThreadCpu.nanos(driver);
            TapWindow window = TapWindow.count(tap, config);
            long dev = ThreadCpu.nanos(device) - dev0;
            long drv = ThreadCpu.nanos(driver) - drv0;
            long packets = window.packets();
            testpmd.stop();
            return new Rep(packets, packets * size, packets, window.nanos(), dev, drv, dev + drv, 0, 0, 0, 0);
        }
    }
}
