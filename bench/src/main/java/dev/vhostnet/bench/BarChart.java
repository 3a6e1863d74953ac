package dev.vhostnet.bench;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.IntSummaryStatistics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The SVG bar chart of a {@link BenchReport}: one group per cell (direction, frame size, queue
 * pairs), in it one bar per path that ran anywhere in the report, as high as the median packets/s
 * of the cell's timed repetitions, with a whisker from their minimum to their maximum.
 *
 * <p>Sized to its content: width and height follow from the number of groups, paths and legend
 * entries and from every label's length, estimated at {@link #EM_PER_CHAR} of the font size a
 * character (DejaVu Sans, what Linux renderers draw for sans-serif, averages 0.6 em on these labels).
 * The legend names every path of the report (one with only skipped cells as "not run") and wraps
 * onto as many rows as it needs.
 */
final class BarChart {
    /** The estimated width of a character, in ems. */
    static final double EM_PER_CHAR = 0.62;
    /** The font size of every text but the title, in px. */
    static final int FONT = 10;

    private static final int TITLE_FONT = 13;
    private static final int LINE = 14;
    private static final int PAD = 10;
    /** One bar's slot: the bar and a 2 px gap. */
    private static final int SLOT = 14;

    private static final int GROUP_GAP = 16;
    private static final int LEGEND_GAP = 16;
    private static final int SWATCH = 10;
    private static final int CAP = 3;
    private static final int PLOT_HEIGHT = 260;
    private static final String[] COLORS = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#9467bd", "#8c564b", "#e377c2", "#17becf"
    };
    private static final String TITLE = "vhostnet bench: packets/s per cell and path";
    private static final String AXIS = "packets/s (RR: round trips/s)";
    private static final String CAPTION = "groups: direction, frame size, queue pairs";

    private final Map<String, Map<BenchPath, Cell>> groups = new LinkedHashMap<>();
    /** The paths that ran: one bar slot each in every group. */
    private final Set<BenchPath> paths = EnumSet.noneOf(BenchPath.class);
    /** Every path of the report, in the legend; those that never ran marked so. */
    private final Set<BenchPath> legend = EnumSet.noneOf(BenchPath.class);

    private final ChartScale scale;
    private final String machine;
    private final String note;
    private final double left;
    private final double groupWidth;
    private final double plotWidth;
    private final int width;
    private final double legendColumn;
    private final int legendPerRow;
    private final double legendTop;
    private final double plotTop;
    private final double plotBottom;
    private final int height;
    private final StringBuilder s = new StringBuilder();

    private BarChart(BenchReport r) {
        List<Cell> ran = r.cells().stream().filter(Cell::ran).toList();
        r.cells().forEach(c -> legend.add(c.path()));
        for (Cell c : ran) {
            groups.computeIfAbsent(group(c), g -> new EnumMap<>(BenchPath.class))
                    .putIfAbsent(c.path(), c);
            paths.add(c.path());
        }
        scale = ChartScale.holding(ran.stream()
                .mapToDouble(c -> c.max(Rep::packetsPerSecond))
                .max()
                .orElse(0));
        machine = r.machine();
        note = note(ran);
        left = PAD + widest(scale.ticks().stream().map(scale::label).toList()) + 6;
        double bars = Math.max(1, groups.size())
                * (Math.max(Math.max(1, paths.size()) * SLOT, widest(List.copyOf(groups.keySet()))) + GROUP_GAP);
        legendColumn = legend.stream()
                        .mapToDouble(p -> SWATCH + 4 + textWidth(legendLabel(p), FONT))
                        .max()
                        .orElse(0)
                + LEGEND_GAP;
        double content = Math.max(left + Math.max(bars, textWidth(CAPTION, FONT)), PAD + textWidth(TITLE, TITLE_FONT));
        content = Math.max(content, PAD + Math.max(widest(List.of(machine, note, AXIS)), legendColumn - LEGEND_GAP));
        width = (int) Math.ceil(content + PAD);
        plotWidth = width - PAD - left;
        groupWidth = plotWidth / Math.max(1, groups.size());
        legendPerRow = Math.max(1, (int) ((width - 2 * PAD + LEGEND_GAP) / legendColumn));
        legendTop = PAD + TITLE_FONT + 2 * LINE + 10;
        int rows = (legend.size() + legendPerRow - 1) / legendPerRow;
        plotTop = legendTop + rows * LINE + LINE + 12;
        plotBottom = plotTop + PLOT_HEIGHT;
        height = (int) Math.ceil(plotBottom + 2 * LINE + 4 + PAD);
    }

    /** The chart of {@code r}'s cells that ran. */
    static String svg(BenchReport r) {
        return new BarChart(r).render();
    }

    /** The label of the group a cell's bar stands in: "TX 64B 1qp". */
    static String group(Cell c) {
        return c.direction() + " " + c.size() + "B " + c.pairs() + "qp";
    }

    /** The estimated width of {@code text} at {@code fontSize} px. */
    static double textWidth(String text, int fontSize) {
        return text.codePointCount(0, text.length()) * EM_PER_CHAR * fontSize;
    }

    private String render() {
        s.append(String.format(
                Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                        + " font-family=\"sans-serif\" font-size=\"%d\">%n",
                width,
                height,
                width,
                height,
                FONT));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        text(PAD, PAD + TITLE_FONT, "start", " font-size=\"" + TITLE_FONT + "\"", TITLE);
        text(PAD, PAD + TITLE_FONT + LINE + 2, "start", "", machine);
        text(PAD, PAD + TITLE_FONT + 2 * LINE + 2, "start", " fill=\"#444\"", note);
        int i = 0;
        for (BenchPath p : legend) {
            double x = PAD + i % legendPerRow * legendColumn;
            double y = legendTop + i++ / legendPerRow * LINE;
            s.append("<g class=\"legend\">\n");
            s.append(String.format(
                    Locale.ROOT,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\"/>%n",
                    x,
                    y,
                    SWATCH,
                    SWATCH,
                    paths.contains(p) ? color(p) : "white",
                    color(p)));
            text(x + SWATCH + 4, y + SWATCH - 1, "start", "", legendLabel(p));
            s.append("</g>\n");
        }
        text(PAD, plotTop - 12, "start", "", AXIS);
        for (double t : scale.ticks()) {
            line("grid", left, y(t), left + plotWidth, y(t), "#ddd");
            text(left - 6, y(t) + 3.5, "end", "", scale.label(t));
        }
        int g = 0;
        for (Map.Entry<String, Map<BenchPath, Cell>> group : groups.entrySet()) {
            double x0 = left + g++ * groupWidth;
            double slot = x0 + (groupWidth - paths.size() * SLOT) / 2;
            for (BenchPath p : paths) {
                Cell c = group.getValue().get(p);
                if (c != null) {
                    bar(c, slot + 1);
                }
                slot += SLOT;
            }
            text(x0 + groupWidth / 2, plotBottom + LINE, "middle", "", group.getKey());
        }
        line("axis", left, plotTop, left, plotBottom, "#444");
        line("axis", left, plotBottom, left + plotWidth, plotBottom, "#444");
        text(left, plotBottom + 2 * LINE + 4, "start", " fill=\"#444\"", CAPTION);
        return s.append("</svg>\n").toString();
    }

    /** The bar of {@code c} at {@code x}: median, and a whisker from min to max with caps. */
    private void bar(Cell c, double x) {
        double median = c.packetsPerSecond();
        double min = c.min(Rep::packetsPerSecond);
        double max = c.max(Rep::packetsPerSecond);
        s.append("<g class=\"bar\">\n");
        s.append(String.format(
                Locale.ROOT,
                "<title>%s, %s: median %,.0f, min %,.0f, max %,.0f packets/s over %d repetitions</title>%n",
                esc(c.path().label()),
                esc(group(c)),
                median,
                min,
                max,
                c.reps().size()));
        s.append(String.format(
                Locale.ROOT,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>%n",
                x,
                y(median),
                SLOT - 2,
                plotBottom - y(median),
                color(c.path())));
        double mid = x + (SLOT - 2) / 2.0;
        line("whisker", mid, y(min), mid, y(max), "#222");
        line("cap", mid - CAP, y(min), mid + CAP, y(min), "#222");
        line("cap", mid - CAP, y(max), mid + CAP, y(max), "#222");
        s.append("</g>\n");
    }

    private double y(double v) {
        return plotBottom - PLOT_HEIGHT * v / scale.top();
    }

    private void line(String cls, double x1, double y1, double x2, double y2, String stroke) {
        s.append(String.format(
                Locale.ROOT,
                "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>%n",
                cls,
                x1,
                y1,
                x2,
                y2,
                stroke));
    }

    private void text(double x, double y, String anchor, String attributes, String content) {
        s.append(String.format(
                Locale.ROOT,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>%s</text>%n",
                x,
                y,
                anchor,
                attributes,
                esc(content)));
    }

    private static String note(List<Cell> ran) {
        IntSummaryStatistics n = ran.stream().mapToInt(c -> c.reps().size()).summaryStatistics();
        if (n.getCount() == 0) {
            return "No cell ran.";
        }
        String reps = n.getMin() == n.getMax()
                ? n.getMin() + (n.getMin() == 1 ? " timed repetition" : " timed repetitions")
                : n.getMin() + "–" + n.getMax() + " timed repetitions";
        return "Bar: median packets/s of a cell's " + reps + "; whisker: their min–max.";
    }

    /** A path's name in the legend: "kernel", or "kernel (not run)" when the report has only skipped cells of it. */
    private String legendLabel(BenchPath p) {
        return paths.contains(p) ? p.label() : p.label() + " (not run)";
    }

    private static double widest(List<String> texts) {
        return texts.stream().mapToDouble(t -> textWidth(t, FONT)).max().orElse(0);
    }

    private static String color(BenchPath p) {
        return COLORS[p.ordinal() % COLORS.length];
    }

    /** {@code v} as XML character data; control characters, which XML 1.0 forbids, as spaces. */
    private static String esc(String v) {
        StringBuilder b = new StringBuilder(v.length());
        for (char ch : v.toCharArray()) {
            switch (ch) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                default -> b.append(ch < 0x20 ? ' ' : ch);
            }
        }
        return b.toString();
    }
}
