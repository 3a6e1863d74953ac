package dev.vhostnet.bench;

import dev.vhostnet.testkit.TestpmdProcess;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * DPDK's virtio-user ({@code net_virtio_user}: a virtio-net driver in a process that speaks
 * vhost-user to its back-end, as QEMU does for a guest) in {@code dpdk-testpmd}'s {@code txonly}
 * mode: the front-end {@link VhostUserPeers} feeds both back-ends with, sending UDP frames of one
 * size as fast as the ring takes them. Its memory is huge pages mapped from memfds ({@code
 * --in-memory}), which it hands the back-end; nothing is left in hugetlbfs if it is killed.
 */
final class TestpmdFrontEnd {
    /** Huge page memory each testpmd takes ({@code --socket-mem}); 16,384 mbufs fit in it. */
    static final int SOCKET_MEM_MIB = 256;

    private TestpmdFrontEnd() {}

    /**
     * Connects to {@code socket} and sends frames of {@code frameBytes}, forwarding on {@code cpu},
     * its main lcore on {@code otherCpu}; its output to {@code log}.
     */
    static TestpmdProcess start(Path socket, int frameBytes, Path log, int cpu, int otherCpu)
            throws IOException, InterruptedException {
        return TestpmdProcess.start(
                eal(otherCpu, cpu, "net_virtio_user0,path=" + socket + ",queues=1,queue_size=256"),
                List.of(
                        "--forward-mode=txonly",
                        "--txpkts=" + frameBytes,
                        "--auto-start",
                        "--stats-period=5",
                        "--total-num-mbufs=16384"),
                log,
                null,
                Duration.ofSeconds(30));
    }

    /**
     * The EAL options of the peers' testpmd: lcore 0 (main) on {@code mainCpu}, lcore 1 (forwarding)
     * on {@code forwardingCpu}, {@value #SOCKET_MEM_MIB} MiB of huge pages from memfds, no PCI, and
     * {@code vdevs}.
     */
    static List<String> eal(int mainCpu, int forwardingCpu, String... vdevs) {
        List<String> eal = new ArrayList<>(List.of(
                "--lcores",
                "0@" + mainCpu + ",1@" + forwardingCpu,
                "--in-memory",
                "--socket-mem",
                Integer.toString(SOCKET_MEM_MIB),
                "--single-file-segments",
                "--no-pci"));
        for (String vdev : vdevs) {
            eal.add("--vdev");
            eal.add(vdev);
        }
        return eal;
    }
}
