package dev.vhostnet.bench;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * What a bench run measured: where ({@code machine}), when, with what configuration, every cell
 * (skipped ones with their reason), and notes (what was unavailable, how CPU was accounted).
 */
public record BenchReport(String machine, Instant started, String config, List<Cell> cells, List<String> notes) {

    public BenchReport {
        cells = List.copyOf(cells);
        notes = List.copyOf(notes);
    }

    public Optional<Cell> cell(BenchPath path, Direction direction, int size, int pairs) {
        return cells.stream()
                .filter(c -> c.path() == path
                        && c.direction() == direction
                        && c.size() == size
                        && c.pairs() == pairs
                        && c.ran())
                .findFirst();
    }

    /** The cell measured the same way on {@code path}, if it ran. */
    public Optional<Cell> on(BenchPath path, Cell like) {
        return cell(path, like.direction(), like.size(), like.pairs());
    }

    /** Kernel packets/s over emulated packets/s for the cell of {@code like}, if both ran. */
    public Optional<Double> kernelOverEmulatedRate(Cell like) {
        Optional<Cell> k = on(BenchPath.KERNEL, like);
        Optional<Cell> e = on(BenchPath.EMULATED, like);
        if (k.isEmpty() || e.isEmpty() || e.get().packetsPerSecond() == 0) {
            return Optional.empty();
        }
        return Optional.of(k.get().packetsPerSecond() / e.get().packetsPerSecond());
    }

    /** Emulated device CPU per packet over kernel device CPU per packet (above 1: the kernel is cheaper). */
    public Optional<Double> emulatedOverKernelDeviceCpu(Cell like) {
        Optional<Cell> k = on(BenchPath.KERNEL, like);
        Optional<Cell> e = on(BenchPath.EMULATED, like);
        if (k.isEmpty() || e.isEmpty() || k.get().deviceCpuPerPacket() == 0) {
            return Optional.empty();
        }
        return Optional.of(e.get().deviceCpuPerPacket() / k.get().deviceCpuPerPacket());
    }

    /** This project's vhost-user back-end's packets/s over DPDK's, for the size of {@code like}, if both ran. */
    public Optional<Double> vhostnetOverDpdkRate(Cell like) {
        return peerRatio(like, Cell::packetsPerSecond);
    }

    /**
     * This project's vhost-user back-end's CPU per packet over DPDK's (above 1: DPDK's is cheaper), for the
     * size of {@code like}, if both ran.
     */
    public Optional<Double> vhostnetOverDpdkCpu(Cell like) {
        return peerRatio(like, Cell::deviceCpuPerPacket);
    }

    private Optional<Double> peerRatio(Cell like, ToDoubleFunction<Cell> metric) {
        Optional<Cell> vhostnet = on(BenchPath.VHOST_USER, like);
        Optional<Cell> dpdk = on(BenchPath.VHOST_USER_DPDK, like);
        if (vhostnet.isEmpty() || dpdk.isEmpty() || metric.applyAsDouble(dpdk.get()) == 0) {
            return Optional.empty();
        }
        return Optional.of(metric.applyAsDouble(vhostnet.get()) / metric.applyAsDouble(dpdk.get()));
    }

    /** Packets/s of {@code cell} as a fraction of the same cell on {@code ceiling}, if that ran. */
    public Optional<Double> fractionOf(BenchPath ceiling, Cell cell) {
        return on(ceiling, cell)
                .filter(c -> c.packetsPerSecond() > 0)
                .map(c -> cell.packetsPerSecond() / c.packetsPerSecond());
    }
}
