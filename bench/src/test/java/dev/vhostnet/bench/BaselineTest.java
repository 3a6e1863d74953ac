package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BaselineTest {
    /** A hand-made bench.json: one TX cell of three repetitions at these packet counts (1 s each, 1000 ns CPU per packet), one skipped cell. */
    static String report(String started, long... packets) {
        StringBuilder reps = new StringBuilder();
        for (long p : packets) {
            reps.append(reps.length() == 0 ? "" : ", ")
                    .append(String.format(
                            "{\"packets\": %d, \"bytes\": %d, \"sent\": %d, \"nanos\": 1000000000, \"deviceCpuNanos\": 0, "
                                    + "\"driverCpuNanos\": 0, \"totalCpuNanos\": %d, \"p50Nanos\": 0, \"p99Nanos\": 0, "
                                    + "\"deviceAllocBytes\": 0, \"driverAllocBytes\": 0}",
                            p, p * 64, p, p * 1000));
        }
        return "{\n  \"machine\": \"a \\\"test\\\" box\",\n  \"started\": \"" + started + "\",\n  \"config\": \"c\",\n"
                + "  \"cells\": [\n    {\"path\": \"EMULATED\", \"direction\": \"TX\", \"frameBytes\": 64, \"pairs\": 1, "
                + "\"packetsPerSecond\": 0.0, \"spread\": 0.1, \"reps\": [" + reps + "]},\n"
                + "    {\"path\": \"KERNEL\", \"direction\": \"TX\", \"frameBytes\": 64, \"pairs\": 1, \"skipped\": \"no /dev/vhost-net\"}\n"
                + "  ],\n  \"notes\": [\"n\\u00e9\"]\n}\n";
    }

    @Test
    void readsTheReportTheWriterWritesRepetitionsIncluded() {
        BenchReport written = ReportTest.report();
        BenchReport read = ReportReader.parse(ReportWriter.json(written));
        assertEquals(written, read);
    }

    @Test
    void aDropWithinTheSpreadIsNotFlaggedAndOneBeyondItIs() {
        BenchReport before = ReportReader.parse(report("2026-12-01T00:00:00Z", 95_000, 100_000, 105_000));
        assertEquals("a \"test\" box", before.machine());
        assertEquals(List.of("né"), before.notes());
        List<Baseline.Change> within =
                Baseline.compare(before, ReportReader.parse(report("2026-12-02T00:00:00Z", 92_000, 95_000, 97_000)));
        assertEquals(2, within.size(), "packets/s and CPU per packet of the one cell that ran in both");
        Baseline.Change rate = within.get(0);
        assertEquals(-5.0, rate.percent(), 1e-9);
        assertEquals(0.10, rate.spread(), 1e-9, "(105,000 − 95,000) / 100,000, the larger spread");
        assertFalse(rate.beyondSpread());
        assertTrue(Baseline.regressions(within, 1).isEmpty(), "within the spread: noise, whatever the threshold");

        List<Baseline.Change> beyond =
                Baseline.compare(before, ReportReader.parse(report("2026-12-02T00:00:00Z", 79_000, 80_000, 81_000)));
        assertEquals(-20.0, beyond.get(0).percent(), 1e-9);
        assertTrue(beyond.get(0).beyondSpread() && beyond.get(0).worse());
        assertEquals(List.of(beyond.get(0)), Baseline.regressions(beyond, 15));
        assertTrue(Baseline.regressions(beyond, 25).isEmpty(), "20% is under a 25% threshold");
        assertFalse(beyond.get(1).beyondSpread(), "CPU per packet did not move");
        String table = Baseline.markdown(before, beyond);
        assertTrue(
                table.contains("| emulated | TX | 64 | 1 | 100,000 | 80,000 | -20.0% ! | 1,000 | 1,000 | +0.0% |"),
                table);
    }

    @Test
    void aRiseBeyondTheSpreadIsAnImprovementNotARegression() {
        BenchReport before = ReportReader.parse(report("2026-12-01T00:00:00Z", 100_000, 100_000));
        List<Baseline.Change> changes =
                Baseline.compare(before, ReportReader.parse(report("2026-12-02T00:00:00Z", 150_000, 150_000)));
        assertTrue(changes.get(0).beyondSpread());
        assertFalse(changes.get(0).worse());
        assertTrue(Baseline.regressions(changes, 0).isEmpty());
    }

    @Test
    void whatIsNotABenchReportIsRefusedWithWhere() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ReportReader.parse("{\"cells\": [1]}"));
        assertTrue(e.getMessage().contains("a cell is not an object"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReportReader.parse("{\"cells\": []"));
        assertTrue(e.getMessage().contains("at character"), e.getMessage());
    }
}
