package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.bench.BenchConfig;
import dev.vhostnet.bench.BenchPath;
import dev.vhostnet.bench.BenchReport;
import dev.vhostnet.bench.BenchRunner;
import dev.vhostnet.bench.Cell;
import dev.vhostnet.bench.Direction;
import dev.vhostnet.bench.Progress;
import dev.vhostnet.bench.ReportWriter;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.kernel.VhostNet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CI bench: the quick configuration ({@link BenchConfig#quick()}: the backends this host has
 * and the raw ceilings, TX/RX/RR at 64 and 1500 bytes, one pair, a fixed packet count per
 * repetition), its Markdown table printed, the report written to {@code target/bench} (in the test VM {@code target/testvm/bench}, kept on the host). Fails only
 * if a cell moves no packets or loses some, or two backends disagree on bytes delivered — never
 * on speed. Tagged, so the test VM runs it with both backends; the host runs it with the emulated one.
 */
@Tag("vhost-net")
class BenchSmokeTest {

    @Test
    void everyBackendHereMovesPacketsInEveryCellWithoutLoss() throws Exception {
        List<BackendChoice.Kind> backends = Files.exists(VhostNet.DEVICE)
                ? List.of(BackendChoice.Kind.KERNEL, BackendChoice.Kind.EMULATED)
                : List.of(BackendChoice.Kind.EMULATED);
        // In the test VM, target/testvm is the share the host keeps; the host's own run writes beside it.
        Path out = Path.of(Files.exists(VhostNet.DEVICE) ? "target/testvm/bench" : "target/bench");
        BenchConfig config =
                BenchConfig.quick().backends(backends).outputDir(out).build();
        BenchReport report = new BenchRunner(config, Progress.to(System.out, false)).run();
        ReportWriter.write(report, config.outputDir());
        System.out.println(ReportWriter.markdown(report));

        for (Cell c : report.cells()) {
            String name = c.path().label() + " " + c.direction() + " " + c.size() + " B";
            if (c.path() == BenchPath.RAW_C && !c.ran()) {
                continue; // the C ceiling needs gcc; the backends do not
            }
            assertTrue(c.ran(), () -> name + " did not run: " + c.skipped());
            assertTrue(c.packets() > 0, () -> name + " moved no packets");
        }
        for (Direction d : new Direction[] {Direction.TX, Direction.RX}) {
            for (int size : config.sizes()) {
                Optional<Cell> kernel = report.cell(BenchPath.KERNEL, d, size, 1);
                Optional<Cell> emulated = report.cell(BenchPath.EMULATED, d, size, 1);
                assertTrue(emulated.isPresent(), d + " " + size + " B ran on the emulated backend");
                String cell = d + " " + size + " B";
                assertEquals(0, emulated.get().lost(), () -> cell + ": the emulated backend lost packets");
                if (kernel.isPresent()) {
                    assertEquals(0, kernel.get().lost(), () -> cell + ": the kernel backend lost packets");
                    assertEquals(
                            kernel.get().bytes(),
                            emulated.get().bytes(),
                            () -> cell + ": the backends delivered different bytes for the same packet count");
                }
            }
        }
    }
}
