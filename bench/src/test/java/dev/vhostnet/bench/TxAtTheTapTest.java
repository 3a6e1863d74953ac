package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.tap.Tun;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** TX counted at the tap ({@link TxCount#TAP}): no window, and every frame sent is one the tap took. */
class TxAtTheTapTest {
    @Test
    void everyFrameTheDriverOrTheRawLoopSentIsCountedByTheTap() throws Exception {
        assumeTrue(
                Tun.isAvailable(),
                () -> "needs /dev/net/tun: " + Tun.unavailabilityCause().getMessage());
        assumeTrue(new com.sun.security.auth.module.UnixSystem().getUid() == 0, "needs root: namespaces and taps");
        BenchConfig config = BenchConfig.builder()
                .backends(List.of(BackendChoice.Kind.EMULATED))
                .directions(List.of(Direction.TX))
                .sizes(List.of(64))
                .pairs(List.of(1))
                .warmUp(Duration.ZERO)
                .repetitions(1)
                .repTime(Duration.ofMillis(300))
                .cCeiling(false)
                .txCount(TxCount.TAP)
                .build();

        BenchReport report = new BenchRunner(config, Progress.none()).run();

        for (BenchPath path : List.of(BenchPath.EMULATED, BenchPath.RAW_JAVA)) {
            Cell cell = report.cell(path, Direction.TX, 64, 1).orElseThrow(() -> new AssertionError(path + " ran"));
            Rep rep = cell.reps().get(0);
            assertTrue(rep.packets() > 1000, path + ": " + rep);
            assertEquals(rep.sent(), rep.packets(), path + ": the tap took every frame sent, none more: " + rep);
        }
    }
}
