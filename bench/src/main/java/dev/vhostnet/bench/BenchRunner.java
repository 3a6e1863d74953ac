package dev.vhostnet.bench;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.kernel.VhostNet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link BenchConfig}: for each queue pair count, each backend (the kernel one only where
 * {@code /dev/vhost-net} exists; otherwise its cells are skipped with the reason), then the Java and
 * C raw tap ceilings, every direction and size: a warm-up repetition, then the timed ones; last,
 * when asked, the vhost-user back-ends ({@link VhostUserPeers}). Needs root (namespaces, taps).
 * Writing the report is {@link ReportWriter}'s.
 */
public final class BenchRunner {
    private static final Logger log = LoggerFactory.getLogger(BenchRunner.class);

    private final BenchConfig config;
    private final Progress progress;

    public BenchRunner(BenchConfig config, Progress progress) {
        this.config = config;
        this.progress = progress;
    }

    public BenchReport run() throws Exception {
        if (config.vhostUserPeers()) {
            String missing = VhostUserPeers.unavailabilityCause();
            if (missing != null) {
                throw new IllegalStateException(missing);
            }
        }
        if (config.virtioUserPeer()) {
            String missing = VirtioUserKernel.unavailabilityCause();
            if (missing != null) {
                throw new IllegalStateException(missing);
            }
        }
        Instant started = Instant.now();
        List<Cell> cells = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<BenchPath> paths = new ArrayList<>();
        if (config.backends().contains(BackendChoice.Kind.KERNEL)) {
            paths.add(BenchPath.KERNEL);
        }
        if (config.backends().contains(BackendChoice.Kind.EMULATED)) {
            paths.add(BenchPath.EMULATED);
        }
        if (config.javaCeiling() || config.cCeiling()) {
            paths.add(BenchPath.RAW_JAVA);
        }
        if (config.cCeiling()) {
            paths.add(BenchPath.RAW_C);
        }
        int total = config.pairs().size()
                        * paths.size()
                        * config.directions().size()
                        * config.sizes().size()
                + (config.vhostUserPeers() ? 2 * config.sizes().size() : 0)
                + (config.virtioUserPeer() ? config.sizes().size() : 0);
        int[] done = {0};
        for (int pairs : config.pairs()) {
            for (BenchPath path : paths) {
                if (path == BenchPath.RAW_C) {
                    continue;
                }
                String missing = missing(path);
                if (missing != null) {
                    skipAll(cells, path, pairs, missing, done, total);
                    if (path == BenchPath.RAW_JAVA && paths.contains(BenchPath.RAW_C)) {
                        skipAll(cells, BenchPath.RAW_C, pairs, missing, done, total);
                    }
                    continue;
                }
                try (Rig rig = open(path, pairs, notes)) {
                    if (path != BenchPath.RAW_JAVA || config.javaCeiling()) {
                        measureAll(rig, cells, done, total);
                    }
                    if (path == BenchPath.RAW_JAVA && paths.contains(BenchPath.RAW_C)) {
                        CTapRig c;
                        try {
                            c = CTapRig.start((RawTapRig) rig);
                        } catch (Exception e) {
                            skipAll(cells, BenchPath.RAW_C, pairs, e.getMessage(), done, total);
                            continue;
                        }
                        try (c) {
                            measureAll(c, cells, done, total);
                        }
                    }
                }
            }
        }
        if (config.vhostUserPeers()) {
            VhostUserPeers.Result peers = VhostUserPeers.run(config, progress, done[0], total);
            cells.addAll(peers.cells());
            notes.addAll(peers.notes());
            done[0] += 2 * config.sizes().size();
        }
        if (config.virtioUserPeer()) {
            cells.addAll(VirtioUserKernel.run(config, progress, done[0], total, notes));
        }
        progress.done();
        cells.sort(Comparator.comparingInt(Cell::pairs)
                .thenComparing(Cell::direction)
                .thenComparingInt(Cell::size)
                .thenComparing(Cell::path));
        notes.add(
                "CPU: per-thread from /proc/<pid>/task/<tid>/schedstat (else stat utime+stime); 'device' is the emulated "
                        + "backend's event-loop threads or vhost-net's vhost-<pid> workers; 'driver' is the guest-side threads "
                        + "(ThreadMXBean); 'total' is this whole process (driver, device loops, and the namespace peer's "
                        + "sink/source/echo threads, which run in this process) plus vhost workers that are kernel threads "
                        + "outside it (Linux < 6.4), less the JIT compiler threads (a one-off cost, no packet's). For the C "
                        + "ceiling, the C process's getrusage.");
        notes.add("RR: packets/s counts round trips (transactions/s); Gbit/s counts both directions.");
        if (Loops.BLOCKING) {
            notes.add("One CPU: every wait blocks (the driver on its call eventfd, senders on the far end's count), "
                    + "nothing spins, so the CPU is busy only with packets (and the JIT, while it still compiles): packets/s "
                    + "is about 1 / total CPU per packet, and total CPU per packet is the figure to compare.");
        }
        return new BenchReport(machine(), started, config.toString(), cells, notes);
    }

    private Rig open(BenchPath path, int pairs, List<String> notes) throws Exception {
        return switch (path) {
            case KERNEL, EMULATED -> {
                DeviceRig rig = DeviceRig.start(
                        path == BenchPath.KERNEL ? BackendChoice.Kind.KERNEL : BackendChoice.Kind.EMULATED,
                        pairs,
                        config.txCopy());
                if (path == BenchPath.KERNEL) {
                    notes.add(String.format(
                            Locale.ROOT,
                            "kernel backend, %d pair(s): %d vhost worker thread(s), %s",
                            pairs,
                            rig.workerThreads(),
                            rig.workersOutsideProcess()
                                    ? "kernel threads outside this process (counted in addition to it)"
                                    : "threads of this process (already in its CPU time)"));
                }
                yield rig;
            }
            case RAW_JAVA -> RawTapRig.start(pairs);
            case RAW_C -> throw new IllegalArgumentException("the C ceiling rides on the Java one");
            case VHOST_USER, VHOST_USER_DPDK ->
                throw new IllegalArgumentException(
                        "the vhost-user back-ends are VhostUserPeers', not a rig of this process's driver");
            case KERNEL_VIRTIO_USER ->
                throw new IllegalArgumentException(
                        "DPDK's virtio-user is VirtioUserKernel's, not a rig of this process");
        };
    }

    private static String missing(BenchPath path) {
        if (path == BenchPath.KERNEL && !Files.exists(VhostNet.DEVICE)) {
            return "no /dev/vhost-net on this host (modprobe vhost_net; the kernel needs CONFIG_VHOST_NET)";
        }
        return null;
    }

    private void skipAll(List<Cell> cells, BenchPath path, int pairs, String why, int[] done, int total) {
        for (Direction d : config.directions()) {
            for (int size : config.sizes()) {
                cells.add(Cell.skipped(path, d, size, pairs, why));
                progress.update(++done[0], total, path.label() + " " + d + " " + size + " B " + pairs + "qp: skipped");
            }
        }
        log.info("{} with {} pair(s) skipped: {}", path.label(), pairs, why);
    }

    private void measureAll(Rig rig, List<Cell> cells, int[] done, int total) throws Exception {
        for (Direction d : config.directions()) {
            for (int size : config.sizes()) {
                int index = ++done[0];
                String name =
                        String.format(Locale.ROOT, "%s %s %d B %dqp", rig.path().label(), d, size, rig.pairs);
                var why = rig.unsupported(d, size);
                if (why.isPresent()) {
                    cells.add(Cell.skipped(rig.path(), d, size, rig.pairs, why.get()));
                    progress.update(index, total, name + ": skipped");
                    continue;
                }
                cells.add(measure(rig, d, size, index, total, name));
            }
        }
    }

    private Cell measure(Rig rig, Direction d, int size, int index, int total, String name) throws Exception {
        long limit = config.packetsPerRep();
        if (d == Direction.RR && limit > 0) {
            limit = Math.max(1, limit / 10);
        }
        long repNanos = config.repTime().toNanos();
        int window = config.window(size);
        if (!config.warmUp().isZero()) {
            progress.update(index, total, name + ": warm-up");
            rig.run(d, size, 0, config.warmUp().toNanos(), window, config.txCount());
        }
        List<Rep> reps = new ArrayList<>();
        for (int r = 0; r < config.repetitions(); r++) {
            Rep rep = rig.run(d, size, limit, repNanos, window, config.txCount());
            reps.add(rep);
            progress.repetition(
                    index,
                    total,
                    name,
                    r,
                    config.repetitions(),
                    rep,
                    String.format(Locale.ROOT, " %.3f Gbit/s", rep.gbitPerSecond())
                            + (rep.lost() > 0 ? " lost " + rep.lost() : ""));
        }
        return new Cell(rig.path(), d, size, rig.pairs, reps, null);
    }

    /** What this machine is: CPU model and count, kernel, JVM. */
    static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (Exception ignored) {
            // unknown CPU
        }
        String kernel;
        try {
            kernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (Exception e) {
            kernel = System.getProperty("os.version");
        }
        return String.format(
                Locale.ROOT,
                "%s, %d CPUs, Linux %s, Java %s",
                cpu,
                Runtime.getRuntime().availableProcessors(),
                kernel,
                System.getProperty("java.version"));
    }
}
