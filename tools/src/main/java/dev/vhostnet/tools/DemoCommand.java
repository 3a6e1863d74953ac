package dev.vhostnet.tools;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.tap.Tun;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code vhostnet demo}: runs a {@link Loopback} and prints its report. */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Run a virtio-net device against a namespace peer and report.",
            "Bring up a virtio-net device on the best backend (vhost-net where /dev/vhost-net exists, else "
                    + "emulated, saying why), with this process as its driver and a network namespace behind the tap "
                    + "(10.77.0.1/24; the driver is 10.77.0.2). Send UDP both ways, ping-pong with a UDP echo in the "
                    + "namespace, and report. Removes the namespace and tap it made, also on Ctrl-C. Needs root."
        })
final class DemoCommand implements Callable<Integer> {
    @Option(
            names = "--seconds",
            defaultValue = "2",
            description = "Time per direction and for the ping-pong; default ${DEFAULT-VALUE}.")
    double seconds;

    @Option(
            names = "--packets",
            defaultValue = "0",
            description = "Datagrams per direction at most (0: as many as fit the time).")
    long packets;

    @Option(
            names = "--size",
            defaultValue = "64",
            paramLabel = "BYTES",
            description = "UDP payload bytes; default ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--pings", defaultValue = "1000", description = "Round trips at most; default ${DEFAULT-VALUE}.")
    int pings;

    @Option(
            names = "--backend",
            defaultValue = "PREFER_KERNEL",
            description = "${COMPLETION-CANDIDATES}; default ${DEFAULT-VALUE}.")
    BackendChoice.Policy backend;

    @Option(names = "--json", description = "The report as one JSON object.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Loopback.Options options =
                new Loopback.Options(packets, Duration.ofMillis((long) (seconds * 1000)), size, pings);
        if (!Tun.isAvailable()) {
            throw new Failures.HostLacksException(
                    "no taps on this host: " + Tun.unavailabilityCause().getMessage());
        }
        if (new com.sun.security.auth.module.UnixSystem().getUid() != 0) {
            throw new Failures.NoPermissionException("the demo makes a network namespace and a tap: run it as root");
        }
        Loopback.Report report;
        try (Loopback loopback = Loopback.open(backend)) {
            Loopback onSignal = loopback; // closed by the hook on Ctrl-C, else by the try (close is idempotent)
            Thread cleanup = new Thread(
                    () -> {
                        try {
                            onSignal.close();
                        } catch (Exception e) {
                            System.err.println("vhostnet demo: cleanup: " + e.getMessage());
                        }
                    },
                    "demo-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            try {
                report = loopback.run(options);
            } finally {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            }
        }
        print(report, spec.commandLine().getOut());
        return 0;
    }

    private void print(Loopback.Report r, PrintWriter out) {
        if (json) {
            out.println(Json.write(Json.object(
                    "backend",
                    r.backend().kind().name(),
                    "reason",
                    r.backend().reason(),
                    "features",
                    r.features(),
                    "tap",
                    r.tap(),
                    "namespace",
                    r.namespace(),
                    "toNamespace",
                    flow(r.toNamespace()),
                    "fromNamespace",
                    flow(r.fromNamespace()),
                    "latency",
                    Json.object(
                            "roundTrips",
                            r.latency().roundTrips(),
                            "lost",
                            r.latency().lost(),
                            "p50Micros",
                            r.latency().p50Micros(),
                            "p99Micros",
                            r.latency().p99Micros()),
                    "cleanedUp",
                    true)));
            return;
        }
        out.println("vhostnet demo: a virtio-net device, this process its driver, a namespace peer behind the tap");
        out.println();
        row(
                out,
                "backend",
                r.backend().kind() == BackendChoice.Kind.KERNEL
                        ? "kernel (vhost-net)"
                        : "emulated: " + r.backend().reason());
        row(out, "features", String.join(" ", r.features()));
        row(out, "peer", "tap " + r.tap() + " in namespace " + r.namespace() + " at 10.77.0.1/24, driver 10.77.0.2");
        row(out, "driver -> ns", flowLine(r.toNamespace()));
        row(out, "ns -> driver", flowLine(r.fromNamespace()));
        Loopback.Latency l = r.latency();
        row(
                out,
                "round trip",
                String.format(
                        "%d UDP ping-pongs (%d lost): p50 %.1f us, p99 %.1f us",
                        l.roundTrips(), l.lost(), l.p50Micros(), l.p99Micros()));
        row(out, "cleanup", "namespace " + r.namespace() + " and tap " + r.tap() + " removed");
    }

    private static Object flow(Loopback.Flow f) {
        return Json.object(
                "sent",
                f.sent(),
                "received",
                f.received(),
                "bytes",
                f.bytes(),
                "seconds",
                f.seconds(),
                "packetsPerSecond",
                f.packetsPerSecond(),
                "megabitsPerSecond",
                f.megabitsPerSecond());
    }

    private static String flowLine(Loopback.Flow f) {
        return String.format(
                "%d sent, %d received (%d lost), %d payload bytes in %.2f s: %.0f packets/s, %.1f Mbit/s",
                f.sent(),
                f.received(),
                Math.max(0, f.sent() - f.received()),
                f.bytes(),
                f.seconds(),
                f.packetsPerSecond(),
                f.megabitsPerSecond());
    }

    private static void row(PrintWriter out, String name, String text) {
        out.printf("%-13s %s%n", name, text);
    }
}
