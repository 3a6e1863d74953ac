package dev.vhostnet.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * "Did this change make it slower?": each cell of a new report against the same cell of an earlier
 * one ({@link ReportReader}), by packets/s and by total CPU per packet. A move counts only beyond
 * the measured spread — the larger of the two cells' (max − min) / median of that figure over
 * their repetitions — since anything within it the noise alone could have done.
 */
public final class Baseline {
    private Baseline() {}

    /** A figure a cell is compared by, and which way is better. */
    public enum Metric {
        PACKETS_PER_SECOND("packets/s", true, Rep::packetsPerSecond),
        TOTAL_CPU_PER_PACKET("total CPU ns/pkt", false, Rep::totalCpuPerPacket);

        private final String label;
        private final boolean higherIsBetter;
        private final ToDoubleFunction<Rep> ofRep;

        Metric(String label, boolean higherIsBetter, ToDoubleFunction<Rep> ofRep) {
            this.label = label;
            this.higherIsBetter = higherIsBetter;
            this.ofRep = ofRep;
        }

        public String label() {
            return label;
        }
    }

    /** One figure of one cell, before and now; {@code spread} the larger of the two cells' spreads (a fraction). */
    public record Change(Cell now, Metric metric, double before, double after, double spread) {
        /** The change in percent of the baseline's figure (0 when that was 0). */
        public double percent() {
            return before == 0 ? 0 : (after - before) / before * 100;
        }

        public boolean beyondSpread() {
            return Math.abs(percent()) > spread * 100;
        }

        public boolean worse() {
            return metric.higherIsBetter ? after < before : after > before;
        }

        /** Worse by more than {@code percent} and beyond the spread. */
        public boolean regression(double percent) {
            return worse() && beyondSpread() && Math.abs(percent()) > percent;
        }
    }

    /** Every figure of every cell that ran in both reports, in the new report's order. */
    public static List<Change> compare(BenchReport before, BenchReport now) {
        List<Change> changes = new ArrayList<>();
        for (Cell c : now.cells()) {
            Optional<Cell> old = c.ran() ? before.on(c.path(), c) : Optional.empty();
            if (old.isEmpty()) {
                continue;
            }
            for (Metric m : Metric.values()) {
                changes.add(new Change(
                        c,
                        m,
                        old.get().median(m.ofRep),
                        c.median(m.ofRep),
                        Math.max(old.get().spread(m.ofRep), c.spread(m.ofRep))));
            }
        }
        return changes;
    }

    /** The changes that are regressions beyond {@code percent} ({@link Change#regression}). */
    public static List<Change> regressions(List<Change> changes, double percent) {
        return changes.stream().filter(c -> c.regression(percent)).toList();
    }

    /** A table of the changes, one row per cell; a move beyond the spread is marked {@code !}. */
    public static String markdown(BenchReport before, List<Change> changes) {
        StringBuilder s = new StringBuilder("Against the baseline of ")
                .append(before.started())
                .append(" on ")
                .append(before.machine())
                .append(":\n\n");
        s.append("| path | dir | frame B | pairs |");
        for (Metric m : Metric.values()) {
            s.append(' ').append(m.label()).append(" before | now | change |");
        }
        s.append("\n|---|---|--:|--:|")
                .append("--:|--:|--:|".repeat(Metric.values().length))
                .append('\n');
        for (int i = 0; i < changes.size(); i += Metric.values().length) {
            Cell c = changes.get(i).now();
            s.append(String.format(
                    Locale.ROOT, "| %s | %s | %d | %d |", c.path().label(), c.direction(), c.size(), c.pairs()));
            for (int m = 0; m < Metric.values().length; m++) {
                Change ch = changes.get(i + m);
                s.append(String.format(
                        Locale.ROOT,
                        " %,.0f | %,.0f | %+.1f%%%s |",
                        ch.before(),
                        ch.after(),
                        ch.percent(),
                        ch.beyondSpread() ? " !" : ""));
            }
            s.append('\n');
        }
        s.append(
                "\n`!`: beyond the measured spread (the larger of the two runs' (max − min) / median over the repetitions).\n");
        return s.toString();
    }
}
