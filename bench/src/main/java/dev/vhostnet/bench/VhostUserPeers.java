package dev.vhostnet.bench;

import dev.vhostnet.testkit.TestpmdProcess;
import dev.vhostnet.testkit.TestpmdTotals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.DoubleSummaryStatistics;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 20's C peer for the vhost-user back-end: this project's ({@link VhostnetBackEnd}) against
 * DPDK's vhost library ({@link DpdkVhostBackEnd}), both fed by DPDK's virtio-user in testpmd's
 * {@code txonly} mode ({@link TestpmdFrontEnd}) and counted at the tap. For each frame size, the
 * repetitions of the two alternate; each starts its back-end and a front-end afresh on a new socket,
 * waits for the first frame at the tap, warms up, then counts one window: the tap's {@code
 * rx_packets} (sysfs) over it, the back-end's and the front-end's CPU over it. Pinned as DESIGN.md's
 * C peers were: each front-end's forwarding lcore on one CPU, the back-end's data path on another.
 * Every child process is reaped, every tap and socket removed, also when a repetition fails (its
 * size's cells are then skipped with the reason) and on Ctrl-C.
 */
public final class VhostUserPeers {
    private static final Logger log = LoggerFactory.getLogger(VhostUserPeers.class);

    /** The largest frame txonly sends in one mbuf here (2 KiB of data room) and a tap takes at its MTU. */
    static final int LARGEST = 1514;
    /** How long a back-end or front-end may take to come up, and the first frame to reach the tap. */
    private static final Duration PATIENCE = Duration.ofSeconds(30);

    private static final List<BenchPath> BACK_ENDS = List.of(BenchPath.VHOST_USER, BenchPath.VHOST_USER_DPDK);

    /**
     * What one repetition measured on {@code tap}, and over the whole of its front-end's run: what
     * the front-end sent (its totals) and what the tap took, so that a user sees the window's count
     * came from frames that went through.
     */
    record Run(BenchPath path, int size, String tap, Rep rep, long frontEndSent, long tapTook, double loadAverage) {}

    /** The cells of both back-ends, every repetition's {@link Run}, and notes for the report. */
    record Result(List<Cell> cells, List<Run> runs, List<String> notes) {}

    private final BenchConfig config;
    private final Progress progress;
    private final int backEndCpu;
    private final int frontEndCpu;
    private final Path dir;
    private int started;

    private VhostUserPeers(BenchConfig config, Progress progress, List<Integer> cpus, Path dir) {
        this.config = config;
        this.progress = progress;
        this.backEndCpu = cpus.get(0);
        this.frontEndCpu = cpus.get(1);
        this.dir = dir;
    }

    /** Why the peers cannot run here, with how to get what is missing, or null. */
    public static String unavailabilityCause() {
        String testpmd = TestpmdProcess.unavailabilityCause();
        if (testpmd != null) {
            return "the vhost-user peers need dpdk-testpmd: " + testpmd;
        }
        try {
            String memory = HugePages.read()
                    .shortfall(
                            2L * TestpmdFrontEnd.SOCKET_MEM_MIB,
                            "the vhost-user peers (two dpdk-testpmd at a time, " + TestpmdFrontEnd.SOCKET_MEM_MIB
                                    + " MiB each)");
            if (memory != null) {
                return memory;
            }
            List<Integer> cpus = CpuAffinity.ofThisProcess();
            if (cpus.size() < 2) {
                return "the vhost-user peers need 2 CPUs (the front-end's forwarding lcore on one, the back-end on "
                        + "the other); this process may run on CPU " + cpus + " only";
            }
        } catch (IOException e) {
            return "the vhost-user peers cannot tell whether this host can run them: " + e.getMessage();
        }
        return null;
    }

    /**
     * Measures every size of {@code config} on both back-ends; the progress lines count on from
     * {@code done} of {@code total}. Throws {@link IllegalStateException} when {@link
     * #unavailabilityCause()} says why it cannot.
     */
    static Result run(BenchConfig config, Progress progress, int done, int total) throws Exception {
        String missing = unavailabilityCause();
        if (missing != null) {
            throw new IllegalStateException(missing);
        }
        Path dir = Files.createTempDirectory("vhostnet-peers");
        Thread cleanup = new Thread(() -> delete(dir), "vhost-user-peers-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            return new VhostUserPeers(config, progress, CpuAffinity.ofThisProcess(), dir).run(done, total);
        } finally {
            Runtime.getRuntime().removeShutdownHook(cleanup);
            delete(dir);
        }
    }

    private Result run(int done, int total) {
        List<Cell> cells = new ArrayList<>();
        List<Run> runs = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        int index = done;
        for (int size : config.sizes()) {
            index += BACK_ENDS.size();
            if (size > LARGEST) {
                for (BenchPath p : BACK_ENDS) {
                    cells.add(Cell.skipped(
                            p,
                            Direction.TX,
                            size,
                            1,
                            "testpmd's txonly sends a frame in one mbuf: the peers measure up to " + LARGEST
                                    + " bytes"));
                }
                progress.update(index, total, "vhost-user " + size + " B: skipped");
                continue;
            }
            Map<BenchPath, List<Rep>> reps = new EnumMap<>(BenchPath.class);
            try {
                for (int r = 0; r < config.repetitions(); r++) {
                    for (BenchPath p : BACK_ENDS) {
                        Run run = repetition(p, size);
                        runs.add(run);
                        reps.computeIfAbsent(p, k -> new ArrayList<>()).add(run.rep());
                        progress.repetition(
                                index - BACK_ENDS.size() + 1 + BACK_ENDS.indexOf(p),
                                total,
                                p.label() + " TX " + size + " B",
                                r,
                                config.repetitions(),
                                run.rep(),
                                String.format(
                                        Locale.ROOT,
                                        ", back-end %.0f ns/pkt",
                                        run.rep().packets() == 0
                                                ? 0
                                                : (double) run.rep().deviceCpuNanos()
                                                        / run.rep().packets()));
                    }
                }
                for (BenchPath p : BACK_ENDS) {
                    cells.add(new Cell(p, Direction.TX, size, 1, reps.get(p), null));
                }
            } catch (Exception e) {
                log.warn("vhost-user peers at {} B failed", size, e);
                for (BenchPath p : BACK_ENDS) {
                    cells.add(Cell.skipped(p, Direction.TX, size, 1, "failed: " + e.getMessage()));
                }
            }
        }
        notes.add(String.format(
                Locale.ROOT,
                "vhost-user peers: front-end dpdk-testpmd net_virtio_user in txonly mode (forwarding lcore on CPU %d, "
                        + "%d MiB of huge pages from memfds), a fresh socket and tap per repetition; back-end on CPU %d: "
                        + "'vhost-user: vhostnet' is VhostUserNetBackend in this process (TX copy %s; its event-loop and "
                        + "vhost-user threads pinned), 'vhost-user: DPDK' is dpdk-testpmd net_vhost io-forwarding into "
                        + "net_tap (its forwarding lcore pinned). Both taps are up in the host's namespace, where the "
                        + "frames (not addressed to them) are dropped early. Per repetition: the first frame at the tap, "
                        + "%d ms of warm-up, then a window of %d ms%s; packets = the tap's rx_packets over the window "
                        + "(sysfs); device CPU = the back-end's threads, driver CPU = the front-end's, total = both "
                        + "(/proc/<pid>/task/<tid>/schedstat). DPDK's forwarding lcore polls, so its CPU per packet "
                        + "counts the polling too (1 / its packets/s while it has its CPU to itself); vhostnet's event "
                        + "loop sleeps when the ring is empty. The front-end keeps no count per window: 'sent' is the "
                        + "tap's count and nothing is counted lost.",
                frontEndCpu,
                TestpmdFrontEnd.SOCKET_MEM_MIB,
                backEndCpu,
                config.txCopy(),
                config.warmUp().toMillis(),
                config.repTime().toMillis(),
                config.packetsPerRep() > 0 ? " or until " + config.packetsPerRep() + " packets" : ""));
        for (BenchPath p : BACK_ENDS) {
            for (int size : config.sizes()) {
                List<Run> mine = runs.stream()
                        .filter(r -> r.path() == p && r.size() == size)
                        .toList();
                if (mine.isEmpty()) {
                    continue;
                }
                long sent = mine.stream().mapToLong(Run::frontEndSent).sum();
                long took = mine.stream().mapToLong(Run::tapTook).sum();
                notes.add(String.format(
                        Locale.ROOT,
                        "%s %d B, whole runs: the front-end sent %,d frames (testpmd's TX-packets), the tap took %,d (%.2f%%)",
                        p.label(),
                        size,
                        sent,
                        took,
                        sent == 0 ? 0 : 100.0 * took / sent));
            }
        }
        DoubleSummaryStatistics load = runs.stream()
                .mapToDouble(Run::loadAverage)
                .filter(l -> !Double.isNaN(l))
                .summaryStatistics();
        if (load.getCount() > 0) {
            notes.add(String.format(
                    Locale.ROOT,
                    "load average (1 min) at the vhost-user windows: %.2f–%.2f",
                    load.getMin(),
                    load.getMax()));
        }
        return new Result(cells, runs, notes);
    }

    /** One repetition of back-end {@code path} at {@code size}, on a socket, a tap and processes of its own. */
    private Run repetition(BenchPath path, int size) throws Exception {
        int n = ++started;
        Path socket = dir.resolve("vu" + n + ".sock");
        try (VhostUserBackEnd backEnd = path == BenchPath.VHOST_USER
                ? VhostnetBackEnd.start(socket, config.txCopy(), backEndCpu)
                : DpdkVhostBackEnd.start(socket, dir.resolve("back-end-" + n + ".log"), backEndCpu, frontEndCpu)) {
            String tap = backEnd.tap();
            long before = TapRxPackets.sysfs(tap);
            try (TestpmdProcess frontEnd = TestpmdFrontEnd.start(
                    socket, size, dir.resolve("front-end-" + n + ".log"), frontEndCpu, backEndCpu)) {
                backEnd.serving(PATIENCE);
                awaitFirstFrame(tap, before, frontEnd);
                Thread.sleep(config.warmUp().toMillis());
                double load = loadAverage();
                long back0 = backEnd.cpuNanos();
                long front0 = ThreadCpu.nanos(ThreadCpu.threadsOf(frontEnd.pid()));
                TapWindow window = TapWindow.count(tap, config);
                long back = backEnd.cpuNanos() - back0;
                long front = ThreadCpu.nanos(ThreadCpu.threadsOf(frontEnd.pid())) - front0;
                TestpmdTotals totals = frontEnd.stop();
                long took = Rig.settle(() -> sysfs(tap)) - before;
                long packets = window.packets();
                Rep rep = new Rep(
                        packets, packets * size, packets, window.nanos(), back, front, back + front, 0, 0, 0, 0);
                return new Run(path, size, tap, rep, totals.txPackets(), took, load);
            }
        }
    }

    /** Waits until the tap has taken a frame more than {@code before}; fails with testpmd's output otherwise. */
    static void awaitFirstFrame(String tap, long before, TestpmdProcess frontEnd)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (TapRxPackets.sysfs(tap) == before) {
            if (!frontEnd.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("no frame reached tap " + tap + " in " + PATIENCE.toSeconds() + " s"
                        + (frontEnd.isAlive() ? "" : ": the front-end exited") + "; its output ends:\n"
                        + frontEnd.tail());
            }
            Thread.sleep(10);
        }
    }

    private static long sysfs(String tap) {
        try {
            return TapRxPackets.sysfs(tap);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The 1-minute load average ({@code /proc/loadavg}), or NaN when it cannot be read. */
    static double loadAverage() {
        try {
            String first = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0];
            return first.matches("\\d{1,6}\\.\\d{1,3}") ? Double.parseDouble(first) : Double.NaN;
        } catch (IOException e) {
            return Double.NaN;
        }
    }

    static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.warn("could not remove {}: {}", dir, e.toString());
        }
    }
}
