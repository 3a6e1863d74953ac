package dev.vhostnet.bench;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * The results of one cell: a path, a direction, a frame size and a number of queue pairs, with
 * its timed repetitions (the warm-up is not among them); {@code skipped} says why it did not run.
 */
public record Cell(BenchPath path, Direction direction, int size, int pairs, List<Rep> reps, String skipped) {

    public Cell {
        reps = List.copyOf(reps);
    }

    public static Cell skipped(BenchPath path, Direction direction, int size, int pairs, String why) {
        return new Cell(path, direction, size, pairs, List.of(), why);
    }

    public boolean ran() {
        return skipped == null && !reps.isEmpty();
    }

    public double median(ToDoubleFunction<Rep> metric) {
        double[] v = reps.stream().mapToDouble(metric).sorted().toArray();
        if (v.length == 0) {
            return 0;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    public double min(ToDoubleFunction<Rep> metric) {
        return reps.stream().mapToDouble(metric).min().orElse(0);
    }

    public double max(ToDoubleFunction<Rep> metric) {
        return reps.stream().mapToDouble(metric).max().orElse(0);
    }

    public double packetsPerSecond() {
        return median(Rep::packetsPerSecond);
    }

    public double gbitPerSecond() {
        return median(Rep::gbitPerSecond);
    }

    /** The spread of packets/s: (max - min) / median, as a fraction. */
    public double spread() {
        return spread(Rep::packetsPerSecond);
    }

    /** The spread of {@code metric} over the repetitions: (max - min) / median, as a fraction. */
    public double spread(ToDoubleFunction<Rep> metric) {
        double m = median(metric);
        return m == 0 ? 0 : (max(metric) - min(metric)) / m;
    }

    public double deviceCpuPerPacket() {
        return median(r -> r.packets() == 0 ? 0 : (double) r.deviceCpuNanos() / r.packets());
    }

    public double driverCpuPerPacket() {
        return median(r -> r.packets() == 0 ? 0 : (double) r.driverCpuNanos() / r.packets());
    }

    public double totalCpuPerPacket() {
        return median(Rep::totalCpuPerPacket);
    }

    public double deviceAllocPerPacket() {
        return median(r -> r.packets() == 0 ? 0 : (double) r.deviceAllocBytes() / r.packets());
    }

    public double driverAllocPerPacket() {
        return median(r -> r.packets() == 0 ? 0 : (double) r.driverAllocBytes() / r.packets());
    }

    public double p50Micros() {
        return median(r -> r.p50Nanos() / 1e3);
    }

    public double p99Micros() {
        return median(r -> r.p99Nanos() / 1e3);
    }

    public long packets() {
        return reps.stream().mapToLong(Rep::packets).sum();
    }

    public long bytes() {
        return reps.stream().mapToLong(Rep::bytes).sum();
    }

    public long lost() {
        return reps.stream().mapToLong(Rep::lost).sum();
    }

    /** Whether {@code other} is the same measurement on another path. */
    public boolean sameCellAs(Cell other) {
        return direction == other.direction && size == other.size && pairs == other.pairs;
    }

    static long percentile(long[] samples, int count, double p) {
        if (count == 0) {
            return 0;
        }
        long[] s = Arrays.copyOf(samples, count);
        Arrays.sort(s);
        return s[Math.min(count - 1, (int) Math.ceil(p * count) - 1 < 0 ? 0 : (int) Math.ceil(p * count) - 1)];
    }
}
