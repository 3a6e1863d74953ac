package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.bench.BenchConfig;
import dev.vhostnet.bench.BenchPath;
import dev.vhostnet.bench.BenchReport;
import dev.vhostnet.bench.BenchRunner;
import dev.vhostnet.bench.Cell;
import dev.vhostnet.bench.Direction;
import dev.vhostnet.bench.Progress;
import dev.vhostnet.bench.TxCount;
import dev.vhostnet.bench.VirtioUserKernel;
import dev.vhostnet.ctl.BackendChoice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * DPDK's virtio-user over vhost-net, the C peer of this project's driver on the kernel backend
 * ({@code vhostnet bench --virtio-user-peer}), in the same run as the driver, both counted at the
 * tap: testpmd drives {@code /dev/vhost-net}, its frames reach the tap it made, the bench counts
 * them with the CPU of testpmd and of its vhost worker, and leaves no tap or testpmd behind. Runs
 * in the test VM (CI), where vhost-net is real; directly on a host with {@code /dev/vhost-net} and
 * {@code dpdk-testpmd}.
 */
@Tag("vhost-net")
class VirtioUserPeerTest {
    @Test
    void dpdksVirtioUserDrivesVhostNetBesideTheDriverAndTheTapCountsBoth() throws Exception {
        String missing = VirtioUserKernel.unavailabilityCause();
        assumeTrue(missing == null, () -> missing + "; CI runs it in the test VM");
        BenchConfig config = BenchConfig.builder()
                .backends(List.of(BackendChoice.Kind.KERNEL))
                .directions(List.of(Direction.TX))
                .sizes(List.of(64))
                .pairs(List.of(1))
                .warmUp(Duration.ofMillis(200))
                .repetitions(2)
                .repTime(Duration.ofMillis(500))
                .cCeiling(false)
                .javaCeiling(false)
                .txCount(TxCount.TAP)
                .virtioUserPeer(true)
                .build();

        BenchReport report = new BenchRunner(config, Progress.to(System.out, false)).run();

        for (BenchPath path : List.of(BenchPath.KERNEL, BenchPath.KERNEL_VIRTIO_USER)) {
            Cell cell = report.cell(path, Direction.TX, 64, 1).orElseThrow(() -> new AssertionError(path + " ran"));
            System.out.printf(
                    "VirtioUserPeerTest: %s TX 64 B %,.0f packets/s, device %.0f ns/pkt, driver %.0f ns/pkt%n",
                    path.label(), cell.packetsPerSecond(), cell.deviceCpuPerPacket(), cell.driverCpuPerPacket());
            assertTrue(cell.ran(), () -> path + ": " + cell.skipped());
            assertEquals(2, cell.reps().size(), path + ": both repetitions");
            assertTrue(
                    cell.reps().stream().allMatch(r -> r.packets() > 0), () -> path + " moved frames: " + cell.reps());
            assertTrue(
                    cell.deviceCpuPerPacket() > 0, () -> path + ": its vhost worker's CPU was found: " + cell.reps());
            assertTrue(cell.driverCpuPerPacket() > 0, () -> path + ": the driver's CPU: " + cell.reps());
        }
        assertEquals(List.of(), tapsNamed("vtu"), "every tap testpmd made is gone with it");
        assertEquals(
                0,
                ProcessHandle.allProcesses()
                        .filter(p -> p.info().command().orElse("").endsWith("dpdk-testpmd"))
                        .count(),
                "no dpdk-testpmd left running");
    }

    private static List<String> tapsNamed(String prefix) throws IOException {
        try (Stream<Path> links = Files.list(Path.of("/sys/class/net"))) {
            return links.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(prefix))
                    .toList();
        }
    }
}
