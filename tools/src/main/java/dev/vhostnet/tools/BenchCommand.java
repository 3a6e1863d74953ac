package dev.vhostnet.tools;

import dev.vhostnet.bench.Baseline;
import dev.vhostnet.bench.BenchConfig;
import dev.vhostnet.bench.BenchReport;
import dev.vhostnet.bench.BenchRunner;
import dev.vhostnet.bench.Direction;
import dev.vhostnet.bench.Progress;
import dev.vhostnet.bench.ReportReader;
import dev.vhostnet.bench.ReportWriter;
import dev.vhostnet.bench.TxCount;
import dev.vhostnet.bench.VhostUserPeers;
import dev.vhostnet.bench.VirtioUserKernel;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.emulated.TxCopy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vhostnet bench}: measures the kernel (where {@code /dev/vhost-net} exists) and emulated
 * backends side by side with the raw tap ceilings (with {@code --vhost-user-peers}, also the
 * vhost-user back-end against DPDK's), prints the Markdown table and writes
 * {@code bench.md}, {@code bench.json} and {@code bench.svg} to {@code --out}; with {@code --baseline},
 * each cell's change against an earlier {@code bench.json} ({@link Baseline}). Needs root.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Measure the kernel (vhost-net) and emulated virtio-net backends side by side, with raw tap "
                    + "ceilings (Java and C) from the same run: packets/s, Gbit/s, round-trip latency, CPU per packet.",
            "Needs root: it makes network namespaces and taps. Writes bench.md, bench.json and bench.svg."
        })
public final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--backend",
            split = ",",
            paramLabel = "KIND",
            description =
                    "Backends to measure: KERNEL, EMULATED (default: both; kernel is skipped where /dev/vhost-net is missing).")
    List<BackendChoice.Kind> backends = List.of(BackendChoice.Kind.KERNEL, BackendChoice.Kind.EMULATED);

    @Option(
            names = "--direction",
            split = ",",
            paramLabel = "DIR",
            description = "Directions: ${COMPLETION-CANDIDATES} (default: all).")
    List<Direction> directions = List.of(Direction.values());

    @Option(
            names = "--size",
            split = ",",
            paramLabel = "BYTES",
            description = "Ethernet frame sizes (default: 64,512,1500,65536; 65536 is TX only, sent with UFO).")
    List<Integer> sizes;

    @Option(names = "--pairs", split = ",", paramLabel = "N", description = "Queue pair counts (default: 1,2).")
    List<Integer> pairs;

    @Option(names = "--warmup", paramLabel = "SECONDS", description = "Warm-up per cell (default: 1).")
    Double warmUp;

    @Option(names = "--reps", paramLabel = "N", description = "Timed repetitions per cell (default: 5).")
    Integer reps;

    @Option(names = "--seconds", paramLabel = "SECONDS", description = "Length of a repetition (default: 2).")
    Double seconds;

    @Option(
            names = "--packets",
            paramLabel = "N",
            description = "Packets per repetition instead of a fixed time (RR: a tenth as many round trips).")
    Long packets;

    @Option(names = "--window", paramLabel = "N", description = "Most TX/RX packets in flight (default: 128).")
    Integer window;

    @Option(
            names = "--tx-copy",
            paramLabel = "MODE",
            description = "The emulated backend's TX: SINGLE (one writev of the guest's buffers) or DOUBLE (gathered "
                    + "into a buffer first, the yardstick); default ${DEFAULT-VALUE}. Run twice to compare.")
    TxCopy txCopy = TxCopy.DEFAULT;

    @Option(
            names = "--tx-count",
            paramLabel = "WHERE",
            description = "Where TX counts the frames delivered: SINK (the UDP sink in the namespace, a window of "
                    + "frames in flight against its count: nothing lost, byte-exact) or TAP (the tap's rx_packets, no "
                    + "window, frames to a MAC no interface has, which the stack drops once the tap counted them: "
                    + "only the ring holds the sender back, so the sink's pace is not what is measured); "
                    + "default ${DEFAULT-VALUE}.")
    TxCount txCount = TxCount.SINK;

    @Option(
            names = "--vhost-user-peers",
            description = "Also measure this project's vhost-user back-end against DPDK's vhost library (dpdk-testpmd "
                    + "net_vhost into net_tap), both fed by dpdk-testpmd's virtio-user (txonly), counted at the tap, "
                    + "alternating, --reps each per frame size up to 1514 B. Needs dpdk-testpmd (apt-get install "
                    + "dpdk-dev), 512 MiB of free huge pages (echo 700 > /proc/sys/vm/nr_hugepages) and 2 CPUs.")
    boolean vhostUserPeers;

    @Option(
            names = "--virtio-user-peer",
            description = "Also measure DPDK's virtio-user over vhost-net (dpdk-testpmd net_virtio_user on "
                    + "/dev/vhost-net, txonly), TX counted at its tap, --reps per frame size up to 1514 B: the C peer "
                    + "of this project's driver on the kernel backend (compare with --tx-count TAP). Needs "
                    + "dpdk-testpmd (apt-get install dpdk-dev) and /dev/vhost-net.")
    boolean virtioUserPeer;

    @Option(names = "--no-c", description = "Skip the C raw tap ceiling (needs gcc).")
    boolean noC;

    @Option(names = "--no-java-ceiling", description = "Skip the Java raw tap ceiling.")
    boolean noJava;

    @Option(names = "--quick", description = "The short CI run: 64 and 1500 bytes, 1 pair, 3 reps of 20,000 packets.")
    boolean quick;

    @Option(names = "--out", paramLabel = "DIR", description = "Where to write the report (default: bench-out).")
    Path out = Path.of("bench-out");

    @Option(
            names = "--baseline",
            paramLabel = "OLD.json",
            description =
                    "An earlier bench.json: print each cell's change against it, marking moves beyond the measured spread.")
    Path baseline;

    @Option(
            names = "--fail-on-regression",
            paramLabel = "PCT",
            description = "With --baseline: exit 1 when a cell's packets/s falls, or its total CPU per packet rises, "
                    + "by more than PCT percent and beyond the measured spread (default: off).")
    Double failOnRegression;

    @Override
    public Integer call() throws Exception {
        if (failOnRegression != null && (baseline == null || failOnRegression < 0)) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "--fail-on-regression needs --baseline and a percentage of 0 or more");
        }
        if (vhostUserPeers) {
            String missing = VhostUserPeers.unavailabilityCause();
            if (missing != null) {
                throw new Failures.HostLacksException(missing);
            }
        }
        if (virtioUserPeer) {
            String missing = VirtioUserKernel.unavailabilityCause();
            if (missing != null) {
                throw new Failures.HostLacksException(missing);
            }
        }
        BenchReport before = baseline == null ? null : ReportReader.read(baseline);
        BenchConfig.Builder b = quick ? BenchConfig.quick() : BenchConfig.builder();
        b.backends(backends)
                .directions(directions)
                .outputDir(out)
                .cCeiling(!noC)
                .javaCeiling(!noJava)
                .txCopy(txCopy)
                .txCount(txCount)
                .vhostUserPeers(vhostUserPeers)
                .virtioUserPeer(virtioUserPeer);
        if (sizes != null) {
            b.sizes(sizes);
        }
        if (pairs != null) {
            b.pairs(pairs);
        }
        if (warmUp != null) {
            b.warmUp(Duration.ofMillis(Math.round(warmUp * 1000)));
        }
        if (reps != null) {
            b.repetitions(reps);
        }
        if (seconds != null) {
            b.repTime(Duration.ofMillis(Math.round(seconds * 1000)));
        }
        if (packets != null) {
            b.packetsPerRep(packets);
        }
        if (window != null) {
            b.window(window);
        }
        BenchConfig config = b.build();
        BenchReport report = new BenchRunner(config, Progress.to(System.err, System.console() != null)).run();
        List<Path> files = ReportWriter.write(report, config.outputDir());
        System.out.print(ReportWriter.markdown(report));
        System.out.println();
        System.out.println("wrote " + files);
        return before == null ? 0 : compare(before, report);
    }

    private int compare(BenchReport before, BenchReport report) {
        List<Baseline.Change> changes = Baseline.compare(before, report);
        System.out.println();
        System.out.print(Baseline.markdown(before, changes));
        if (failOnRegression == null) {
            return 0;
        }
        List<Baseline.Change> worse = Baseline.regressions(changes, failOnRegression);
        for (Baseline.Change c : worse) {
            System.err.printf(
                    Locale.ROOT,
                    "regression: %s %s %d B, %d pair(s): %s %+.1f%% (spread %.0f%%, threshold %s%%)%n",
                    c.now().path().label(),
                    c.now().direction(),
                    c.now().size(),
                    c.now().pairs(),
                    c.metric().label(),
                    c.percent(),
                    c.spread() * 100,
                    failOnRegression);
        }
        return worse.isEmpty() ? 0 : 1;
    }
}
