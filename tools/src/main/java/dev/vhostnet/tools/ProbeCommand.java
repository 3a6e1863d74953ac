package dev.vhostnet.tools;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code vhostnet probe}: prints {@link HostReport#probe()} as a table or as JSON. */
@Command(
        name = "probe",
        mixinStandardHelpOptions = true,
        description = "What this host offers for vhost-net, tap and KVM, and the fix for what it lacks.")
final class ProbeCommand implements Callable<Integer> {
    @Option(names = "--json", description = "One JSON object, for machines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        HostReport r = HostReport.probe();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(json(r)));
        } else {
            table(r, out);
        }
        return 0;
    }

    static Object json(HostReport r) {
        HostReport.VhostNetReport v = r.vhostNet();
        HostReport.TunReport t = r.tun();
        HostReport.KvmReport k = r.kvm();
        return Json.object(
                "vhostNet",
                        Json.object(
                                "status",
                                v.status().name(),
                                "problem",
                                v.problem(),
                                "features",
                                v.features(),
                                "featureNames",
                                v.featureNames(),
                                "maxMemRegions",
                                v.maxMemRegions(),
                                "maxMemRegionsFromModule",
                                v.maxMemRegionsFromModule()),
                "tun",
                        Json.object(
                                "status",
                                t.status().name(),
                                "problem",
                                t.problem(),
                                "features",
                                t.features(),
                                "featureNames",
                                t.featureNames()),
                "kvm",
                        Json.object(
                                "status",
                                k.status().name(),
                                "problem",
                                k.problem(),
                                "apiVersion",
                                k.apiVersion(),
                                "capabilities",
                                k.capabilities(),
                                "memslots",
                                k.memslots()),
                "hugePages",
                        Json.object(
                                "free",
                                r.hugePages().free(),
                                "total",
                                r.hugePages().total()),
                "backend",
                        Json.object(
                                "kind",
                                r.backend().kind().name(),
                                "reason",
                                r.backend().reason()));
    }

    private static void table(HostReport r, PrintWriter out) {
        out.println("vhostnet probe: what this host offers the kernel (vhost-net) and emulated backends");
        out.println();
        HostReport.VhostNetReport v = r.vhostNet();
        String regions = "max_mem_regions " + v.maxMemRegions()
                + (v.maxMemRegionsFromModule() ? "" : " (module default: vhost not loaded)");
        if (v.status().ok()) {
            row(
                    out,
                    "vhost-net",
                    String.format("ok: features 0x%x (%s)", v.features(), String.join(" ", v.featureNames())));
        } else {
            row(out, "vhost-net", status(v.status()) + ": " + v.problem());
        }
        row(out, "", regions);
        HostReport.TunReport t = r.tun();
        row(
                out,
                "tun",
                t.status().ok()
                        ? "ok: " + String.join(" ", t.featureNames())
                        : status(t.status()) + ": " + t.problem());
        HostReport.KvmReport k = r.kvm();
        row(
                out,
                "kvm",
                k.status().ok()
                        ? String.format(
                                "ok: API %d; %s; %d memslots",
                                k.apiVersion(), String.join(" ", k.capabilities()), k.memslots())
                        : status(k.status()) + ": " + k.problem());
        row(
                out,
                "huge pages",
                String.format(
                        "%d of %d 2 MiB pages free",
                        r.hugePages().free(), r.hugePages().total()));
        out.println();
        row(
                out,
                "backend",
                r.backend().kind() == dev.vhostnet.ctl.BackendChoice.Kind.KERNEL
                        ? "kernel (vhost-net)"
                        : "emulated (the kernel backend needs /dev/vhost-net)");
    }

    private static String status(HostReport.Status s) {
        return switch (s) {
            case OK -> "ok";
            case NOT_IN_KERNEL -> "missing";
            case NOT_LOADED -> "not loaded";
            case NO_PERMISSION -> "no permission";
            case UNUSABLE -> "unusable";
        };
    }

    private static void row(PrintWriter out, String name, String text) {
        out.printf("%-12s %s%n", name, text);
    }
}
