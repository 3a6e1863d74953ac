package dev.vhostnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a {@link BenchReport}: {@code bench.md} (Markdown tables), {@code bench.json} and
 * {@code bench.svg} (a bar chart of packets/s per cell and path, with min–max whiskers) into a directory.
 */
public final class ReportWriter {
    private ReportWriter() {}

    /** Writes the three files into {@code dir} (created if missing); returns their paths. */
    public static List<Path> write(BenchReport report, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path md = dir.resolve("bench.md");
        Path json = dir.resolve("bench.json");
        Path svg = dir.resolve("bench.svg");
        Files.writeString(md, markdown(report));
        Files.writeString(json, json(report));
        Files.writeString(svg, svg(report));
        return List.of(md, json, svg);
    }

    /**
     * The results table, the kernel/emulated ratios, the ceilings, the vhost-user back-ends and their
     * ratio, and the notes, in Markdown.
     */
    public static String markdown(BenchReport r) {
        StringBuilder s = new StringBuilder();
        s.append("Machine: ").append(r.machine()).append("  \n");
        s.append("Run: ").append(r.started()).append(", ").append(r.config()).append("\n\n");
        s.append(
                "| path | dir | frame B | pairs | packets/s (median) | spread | Gbit/s | RTT p50 µs | RTT p99 µs "
                        + "| device CPU ns/pkt | driver CPU ns/pkt | total CPU ns/pkt | % of raw Java | % of raw C | lost | device alloc B/pkt |\n");
        s.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for (Cell c : r.cells()) {
            if (!c.ran() || c.path().isVhostUserPeer()) {
                continue;
            }
            boolean rr = c.direction() == Direction.RR;
            s.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %d | %d | %,.0f | %.0f%% | %.3f | %s | %s | %s | %.0f | %.0f | %s | %s | %d | %s |%n",
                    c.path().label(),
                    c.direction(),
                    c.size(),
                    c.pairs(),
                    c.packetsPerSecond(),
                    c.spread() * 100,
                    c.gbitPerSecond(),
                    rr ? fmt(c.p50Micros()) : "",
                    rr ? fmt(c.p99Micros()) : "",
                    c.path().isDevice() ? String.format(Locale.ROOT, "%.0f", c.deviceCpuPerPacket()) : "",
                    c.driverCpuPerPacket(),
                    c.totalCpuPerPacket(),
                    pct(r.fractionOf(BenchPath.RAW_JAVA, c), c.path() == BenchPath.RAW_JAVA),
                    pct(r.fractionOf(BenchPath.RAW_C, c), c.path() == BenchPath.RAW_C),
                    c.lost(),
                    c.path() == BenchPath.EMULATED
                            ? String.format(Locale.ROOT, "%.2f", c.deviceAllocPerPacket())
                            : ""));
        }
        List<Cell> emulated = r.cells().stream()
                .filter(c -> c.path() == BenchPath.EMULATED && c.ran())
                .toList();
        if (emulated.stream().anyMatch(c -> r.on(BenchPath.KERNEL, c).isPresent())) {
            s.append("\nKernel / emulated, same cell, same run:\n\n");
            s.append(
                    "| dir | frame B | pairs | packets/s kernel÷emulated | device CPU/pkt emulated÷kernel | total CPU/pkt emulated÷kernel |\n");
            s.append("|---|--:|--:|--:|--:|--:|\n");
            for (Cell e : emulated) {
                Optional<Cell> k = r.on(BenchPath.KERNEL, e);
                if (k.isEmpty()) {
                    continue;
                }
                s.append(String.format(
                        Locale.ROOT,
                        "| %s | %d | %d | %.2f | %s | %.2f |%n",
                        e.direction(),
                        e.size(),
                        e.pairs(),
                        r.kernelOverEmulatedRate(e).orElse(0.0),
                        r.emulatedOverKernelDeviceCpu(e)
                                .map(x -> String.format(Locale.ROOT, "%.2f", x))
                                .orElse("n/a"),
                        k.get().totalCpuPerPacket() == 0
                                ? 0
                                : e.totalCpuPerPacket() / k.get().totalCpuPerPacket()));
            }
        }
        peers(r, s);
        List<Cell> skipped = r.cells().stream().filter(c -> !c.ran()).toList();
        if (!skipped.isEmpty()) {
            s.append("\nSkipped:\n\n");
            for (Cell c : skipped) {
                s.append(String.format(
                        Locale.ROOT,
                        "- %s %s %d B, %d pair(s): %s%n",
                        c.path().label(),
                        c.direction(),
                        c.size(),
                        c.pairs(),
                        c.skipped()));
            }
        }
        s.append("\nNotes:\n\n");
        for (String n : r.notes()) {
            s.append("- ").append(n).append('\n');
        }
        return s.toString();
    }

    /** The vhost-user back-ends' section: each back-end's figures, then vhostnet over DPDK per frame size. */
    private static void peers(BenchReport r, StringBuilder s) {
        List<Cell> peers = r.cells().stream()
                .filter(c -> c.ran() && c.path().isVhostUserPeer())
                .toList();
        if (peers.isEmpty()) {
            return;
        }
        s.append("\nvhost-user back-ends, both fed by DPDK's virtio-user (dpdk-testpmd txonly), counted at the tap, "
                + "same run:\n\n");
        s.append("| frame B | back-end | packets/s (median) | min–max | spread | Gbit/s | back-end CPU ns/pkt "
                + "| front-end CPU ns/pkt | reps |\n");
        s.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|\n");
        for (Cell c : peers) {
            s.append(String.format(
                    Locale.ROOT,
                    "| %d | %s | %,.0f | %,.0f–%,.0f | %.0f%% | %.3f | %.0f | %.0f | %d |%n",
                    c.size(),
                    c.path().label(),
                    c.packetsPerSecond(),
                    c.min(Rep::packetsPerSecond),
                    c.max(Rep::packetsPerSecond),
                    c.spread() * 100,
                    c.gbitPerSecond(),
                    c.deviceCpuPerPacket(),
                    c.driverCpuPerPacket(),
                    c.reps().size()));
        }
        List<Cell> vhostnet =
                peers.stream().filter(c -> c.path() == BenchPath.VHOST_USER).toList();
        if (vhostnet.stream().noneMatch(c -> r.vhostnetOverDpdkRate(c).isPresent())) {
            return;
        }
        s.append("\n| frame B | packets/s vhostnet÷DPDK | back-end CPU/pkt vhostnet÷DPDK "
                + "| target: ≥ 1.0× the packets/s at ≤ DPDK's CPU/pkt |\n");
        s.append("|--:|--:|--:|---|\n");
        for (Cell c : vhostnet) {
            Optional<Double> rate = r.vhostnetOverDpdkRate(c);
            Optional<Double> cpu = r.vhostnetOverDpdkCpu(c);
            if (rate.isEmpty()) {
                continue;
            }
            s.append(String.format(
                    Locale.ROOT,
                    "| %d | %.2f | %s | %s |%n",
                    c.size(),
                    rate.get(),
                    cpu.map(x -> String.format(Locale.ROOT, "%.2f", x)).orElse("n/a"),
                    rate.get() >= 1.0 && cpu.isPresent() && cpu.get() <= 1.0 ? "met" : "missed"));
        }
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String pct(Optional<Double> f, boolean self) {
        return self
                ? ""
                : f.map(x -> String.format(Locale.ROOT, "%.0f%%", x * 100)).orElse("");
    }

    /** Every cell with its repetitions ({@link Json}: a figure that is not a number is {@code null}). */
    public static String json(BenchReport r) {
        List<Object> cells = new ArrayList<>();
        for (Cell c : r.cells()) {
            Map<String, Object> cell = Json.object(
                    "path",
                    c.path().name(),
                    "direction",
                    c.direction().name(),
                    "frameBytes",
                    c.size(),
                    "pairs",
                    c.pairs());
            if (!c.ran()) {
                cell.put("skipped", c.skipped());
                cells.add(cell);
                continue;
            }
            cell.putAll(Json.object(
                    "packetsPerSecond",
                    c.packetsPerSecond(),
                    "spread",
                    c.spread(),
                    "gbitPerSecond",
                    c.gbitPerSecond(),
                    "rttP50Micros",
                    c.p50Micros(),
                    "rttP99Micros",
                    c.p99Micros(),
                    "deviceCpuNanosPerPacket",
                    c.deviceCpuPerPacket(),
                    "driverCpuNanosPerPacket",
                    c.driverCpuPerPacket(),
                    "totalCpuNanosPerPacket",
                    c.totalCpuPerPacket(),
                    "lost",
                    c.lost(),
                    "deviceAllocBytesPerPacket",
                    c.deviceAllocPerPacket(),
                    "driverAllocBytesPerPacket",
                    c.driverAllocPerPacket()));
            r.kernelOverEmulatedRate(c).ifPresent(x -> cell.put("kernelOverEmulated", x));
            if (c.path() == BenchPath.VHOST_USER) {
                r.vhostnetOverDpdkRate(c).ifPresent(x -> cell.put("vhostnetOverDpdk", x));
                r.vhostnetOverDpdkCpu(c).ifPresent(x -> cell.put("vhostnetOverDpdkCpuPerPacket", x));
            }
            cell.put(
                    "reps",
                    c.reps().stream()
                            .map(p -> Json.object(
                                    "packets",
                                    p.packets(),
                                    "bytes",
                                    p.bytes(),
                                    "sent",
                                    p.sent(),
                                    "nanos",
                                    p.nanos(),
                                    "deviceCpuNanos",
                                    p.deviceCpuNanos(),
                                    "driverCpuNanos",
                                    p.driverCpuNanos(),
                                    "totalCpuNanos",
                                    p.totalCpuNanos(),
                                    "p50Nanos",
                                    p.p50Nanos(),
                                    "p99Nanos",
                                    p.p99Nanos(),
                                    "deviceAllocBytes",
                                    p.deviceAllocBytes(),
                                    "driverAllocBytes",
                                    p.driverAllocBytes()))
                            .toList());
            cells.add(cell);
        }
        return Json.writePretty(Json.object(
                "machine",
                r.machine(),
                "started",
                r.started().toString(),
                "config",
                r.config(),
                "cells",
                cells,
                "notes",
                r.notes()));
    }

    /**
     * A grouped bar chart of packets/s: one group per (direction, size, pairs), one bar per path at
     * the median of the timed repetitions, a whisker from their min to their max.
     */
    public static String svg(BenchReport r) {
        return BarChart.svg(r);
    }
}
