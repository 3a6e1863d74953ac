package dev.vhostnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Writes a {@link BenchReport}: {@code bench.md} (Markdown tables), {@code bench.json} and
 * {@code bench.svg} (a bar chart of packets/s per cell and path) into a directory.
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

    /** The results table, the kernel/emulated ratios, the ceilings and the notes, in Markdown. */
    public static String markdown(BenchReport r) {
        StringBuilder s = new StringBuilder();
        s.append("Machine: ").append(r.machine()).append("  \n");
        s.append("Run: ").append(r.started()).append(", ").append(r.config()).append("\n\n");
        s.append(
                "| path | dir | frame B | pairs | packets/s (median) | spread | Gbit/s | RTT p50 µs | RTT p99 µs "
                        + "| device CPU ns/pkt | driver CPU ns/pkt | total CPU ns/pkt | % of raw Java | % of raw C | lost | device alloc B/pkt |\n");
        s.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for (Cell c : r.cells()) {
            if (!c.ran()) {
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

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String pct(Optional<Double> f, boolean self) {
        return self
                ? ""
                : f.map(x -> String.format(Locale.ROOT, "%.0f%%", x * 100)).orElse("");
    }

    /** Every cell with its repetitions, by hand: flat records of numbers and short strings. */
    public static String json(BenchReport r) {
        StringBuilder s = new StringBuilder("{\n");
        s.append("  \"machine\": ").append(q(r.machine())).append(",\n");
        s.append("  \"started\": ").append(q(r.started().toString())).append(",\n");
        s.append("  \"config\": ").append(q(r.config())).append(",\n");
        s.append("  \"cells\": [\n");
        List<String> cells = new ArrayList<>();
        for (Cell c : r.cells()) {
            StringBuilder e = new StringBuilder("    {");
            e.append("\"path\": ")
                    .append(q(c.path().name()))
                    .append(", \"direction\": ")
                    .append(q(c.direction().name()))
                    .append(", \"frameBytes\": ")
                    .append(c.size())
                    .append(", \"pairs\": ")
                    .append(c.pairs());
            if (!c.ran()) {
                e.append(", \"skipped\": ").append(q(c.skipped())).append('}');
                cells.add(e.toString());
                continue;
            }
            e.append(String.format(
                    Locale.ROOT,
                    ", \"packetsPerSecond\": %.1f, \"spread\": %.4f, \"gbitPerSecond\": %.4f"
                            + ", \"rttP50Micros\": %.2f, \"rttP99Micros\": %.2f, \"deviceCpuNanosPerPacket\": %.1f"
                            + ", \"driverCpuNanosPerPacket\": %.1f, \"totalCpuNanosPerPacket\": %.1f, \"lost\": %d"
                            + ", \"deviceAllocBytesPerPacket\": %.3f, \"driverAllocBytesPerPacket\": %.3f",
                    c.packetsPerSecond(),
                    c.spread(),
                    c.gbitPerSecond(),
                    c.p50Micros(),
                    c.p99Micros(),
                    c.deviceCpuPerPacket(),
                    c.driverCpuPerPacket(),
                    c.totalCpuPerPacket(),
                    c.lost(),
                    c.deviceAllocPerPacket(),
                    c.driverAllocPerPacket()));
            r.kernelOverEmulatedRate(c)
                    .ifPresent(x -> e.append(String.format(Locale.ROOT, ", \"kernelOverEmulated\": %.3f", x)));
            e.append(", \"reps\": [");
            List<String> reps = new ArrayList<>();
            for (Rep p : c.reps()) {
                reps.add(String.format(
                        Locale.ROOT,
                        "{\"packets\": %d, \"bytes\": %d, \"sent\": %d, \"nanos\": %d, "
                                + "\"deviceCpuNanos\": %d, \"driverCpuNanos\": %d, \"totalCpuNanos\": %d, \"p50Nanos\": %d, \"p99Nanos\": %d, "
                                + "\"deviceAllocBytes\": %d, \"driverAllocBytes\": %d}",
                        p.packets(),
                        p.bytes(),
                        p.sent(),
                        p.nanos(),
                        p.deviceCpuNanos(),
                        p.driverCpuNanos(),
                        p.totalCpuNanos(),
                        p.p50Nanos(),
                        p.p99Nanos(),
                        p.deviceAllocBytes(),
                        p.driverAllocBytes()));
            }
            e.append(String.join(", ", reps)).append("]}");
            cells.add(e.toString());
        }
        s.append(String.join(",\n", cells)).append("\n  ],\n  \"notes\": [");
        List<String> notes = new ArrayList<>();
        for (String n : r.notes()) {
            notes.add(q(n));
        }
        s.append(String.join(", ", notes)).append("]\n}\n");
        return s.toString();
    }

    static String q(String v) {
        StringBuilder s = new StringBuilder("\"");
        for (char ch : v.toCharArray()) {
            switch (ch) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        s.append(String.format("\\u%04x", (int) ch));
                    } else {
                        s.append(ch);
                    }
                }
            }
        }
        return s.append('"').toString();
    }

    /** A grouped bar chart: one group per (direction, size, pairs), one bar per path, log-free linear packets/s. */
    public static String svg(BenchReport r) {
        List<Cell> ran = r.cells().stream().filter(Cell::ran).toList();
        List<String> groups = new ArrayList<>();
        for (Cell c : ran) {
            String g = key(c);
            if (!groups.contains(g)) {
                groups.add(g);
            }
        }
        BenchPath[] paths = BenchPath.values();
        String[] colors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f"};
        int bar = 14;
        int groupWidth = paths.length * bar + 16;
        int left = 70;
        int top = 40;
        int height = 260;
        int width = left + Math.max(1, groups.size()) * groupWidth + 20;
        double max = ran.stream().mapToDouble(Cell::packetsPerSecond).max().orElse(1);
        StringBuilder s = new StringBuilder();
        s.append(String.format(
                Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"10\">%n",
                width,
                top + height + 90));
        s.append(String.format(
                Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, top + height + 90));
        s.append(
                "<text x=\"10\" y=\"16\" font-size=\"13\">vhostnet bench: packets/s (median; RR: round trips/s)</text>\n");
        s.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"30\">%s</text>%n", esc(r.machine())));
        for (int t = 0; t <= 4; t++) {
            double v = max * t / 4;
            int y = top + height - (int) (height * t / 4.0);
            s.append(String.format(
                    Locale.ROOT,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                            + "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%,.0f</text>%n",
                    left,
                    y,
                    width - 10,
                    y,
                    left - 4,
                    y + 3,
                    v));
        }
        for (int g = 0; g < groups.size(); g++) {
            int x0 = left + g * groupWidth + 8;
            for (int p = 0; p < paths.length; p++) {
                Optional<Cell> c = Optional.empty();
                for (Cell cell : ran) {
                    if (cell.path() == paths[p] && key(cell).equals(groups.get(g))) {
                        c = Optional.of(cell);
                    }
                }
                if (c.isPresent()) {
                    int h = (int) Math.round(height * c.get().packetsPerSecond() / max);
                    s.append(String.format(
                            Locale.ROOT,
                            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%s %s: %,.0f</title></rect>%n",
                            x0 + p * bar,
                            top + height - h,
                            bar - 2,
                            h,
                            colors[p],
                            paths[p].label(),
                            groups.get(g),
                            c.get().packetsPerSecond()));
                }
            }
            int tx = x0 + paths.length * bar / 2;
            s.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%d\" y=\"%d\" transform=\"rotate(45 %d %d)\">%s</text>%n",
                    tx,
                    top + height + 12,
                    tx,
                    top + height + 12,
                    esc(groups.get(g))));
        }
        for (int p = 0; p < paths.length; p++) {
            int lx = left + p * 120;
            s.append(String.format(
                    Locale.ROOT,
                    "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>%n",
                    lx,
                    top + height + 72,
                    colors[p],
                    lx + 14,
                    top + height + 81,
                    esc(paths[p].label())));
        }
        return s.append("</svg>\n").toString();
    }

    private static String key(Cell c) {
        return c.direction() + " " + c.size() + "B " + c.pairs() + "qp";
    }

    private static String esc(String v) {
        return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
