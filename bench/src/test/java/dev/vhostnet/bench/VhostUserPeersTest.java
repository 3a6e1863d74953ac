package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.sys.OpenFds;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The vhost-user comparison for real, in a short window: this project's back-end and DPDK's, both
 * fed by dpdk-testpmd's virtio-user. Needs root, dpdk-testpmd and 512 MiB of free huge pages, which
 * it does not set aside itself.
 */
class VhostUserPeersTest {
    @Test
    void bothBackEndsMoveFramesCountedAtTheTapAndTheReportComparesThem() throws Exception {
        assumeTrue(
                new com.sun.security.auth.module.UnixSystem().getUid() == 0,
                "needs root: taps, and testpmd's huge pages");
        String missing = VhostUserPeers.unavailabilityCause();
        assumeTrue(missing == null, missing);
        BenchConfig config = BenchConfig.builder()
                .sizes(List.of(64))
                .repetitions(1)
                .warmUp(Duration.ofMillis(200))
                .repTime(Duration.ofMillis(500))
                .vhostUserPeers(true)
                .build();
        EmulatedLoops.shared(); // the process's event loops (their epoll fds) last as long as the process
        Set<Integer> fds = OpenFds.snapshot();

        VhostUserPeers.Result result = VhostUserPeers.run(config, Progress.none(), 0, 2);

        assertEquals(2, result.runs().size(), "one repetition of each back-end");
        for (VhostUserPeers.Run run : result.runs()) {
            String what = run.path().label() + " on tap " + run.tap() + ": " + run;
            assertTrue(run.rep().packets() > 1000, what + ": frames reached the tap in the window");
            assertTrue(run.rep().deviceCpuNanos() > 0, what + ": the back-end's threads ran");
            assertTrue(
                    run.rep().packets() <= run.tapTook() && run.tapTook() <= run.frontEndSent(),
                    what + ": the window's count is part of what the tap took, which the front-end sent");
            assertTrue(
                    run.frontEndSent() - run.tapTook() <= 2 * 256,
                    what + ": at most what the rings held when the front-end stopped went missing");
            assertFalse(Files.exists(Path.of("/sys/class/net", run.tap())), what + ": the tap is gone");
        }
        BenchReport report = new BenchReport("test", Instant.now(), config.toString(), result.cells(), result.notes());
        Cell vhostnet = report.cell(BenchPath.VHOST_USER, Direction.TX, 64, 1).orElseThrow();
        assertTrue(report.cell(BenchPath.VHOST_USER_DPDK, Direction.TX, 64, 1).isPresent(), "DPDK's row");
        double ratio = report.vhostnetOverDpdkRate(vhostnet).orElseThrow();
        String md = ReportWriter.markdown(report);
        assertTrue(
                md.contains("| 64 | vhost-user: vhostnet |")
                        && md.contains("| 64 | vhost-user: DPDK |")
                        && md.contains(String.format(java.util.Locale.ROOT, "| 64 | %.2f |", ratio)),
                md);
        JsonNode cell = new ObjectMapper()
                .readTree(ReportWriter.json(report))
                .get("cells")
                .get(0);
        assertEquals(ratio, cell.get("vhostnetOverDpdk").asDouble(), 1e-9);
        System.out.print(md);

        assertTrue(
                ProcessHandle.current()
                        .children()
                        .noneMatch(p -> p.info().command().orElse("").endsWith("dpdk-testpmd")),
                "every dpdk-testpmd reaped");
        assertEquals("", OpenFds.leakedSince(fds), "descriptors left open");
        String mine = CpuAffinity.allowedList(Path.of("/proc/self"));
        for (Path loop : ThreadCpu.ownThreadsNamed("vhostnet-emulat")) {
            assertEquals(mine, CpuAffinity.allowedList(loop), loop + ": the event loop may run anywhere again");
        }
    }
}
