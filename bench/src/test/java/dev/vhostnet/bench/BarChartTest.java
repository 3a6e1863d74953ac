package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.DataInputStream;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class BarChartTest {
    private static final String SVG = "http://www.w3.org/2000/svg";
    private static final Path RSVG = Path.of("/usr/bin/rsvg-convert");

    /**
     * {@code groups} cells on every path, three repetitions each (median, -10 %, +20 %), and a skipped
     * one (with no group, the only cell); a single group gets a short machine name, so its chart is
     * as narrow as it gets.
     */
    static BenchReport report(int groups) {
        int[] sizes = {64, 1500, 65536, 9000, 256};
        List<Cell> cells = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            Direction d = Direction.values()[g % 3];
            for (BenchPath p : BenchPath.values()) {
                long median = 100_000L * (p.ordinal() + 1) + 7_000L * g;
                List<Rep> reps = List.of(
                        ReportTest.rep(median, 1_000_000_000L, 0),
                        ReportTest.rep(median * 9 / 10, 1_000_000_000L, 0),
                        ReportTest.rep(median * 6 / 5, 1_000_000_000L, 0));
                cells.add(new Cell(p, d, sizes[g / 3 % 5], 1 + g / 15, reps, null));
            }
        }
        cells.add(Cell.skipped(BenchPath.RAW_C, Direction.RR, 128, 8, "no gcc"));
        return new BenchReport(
                groups <= 1
                        ? "a <short> & \"odd\" name"
                        : "Intel(R) Xeon(R) <Platinum> & \"8375C\" CPU @ 2.90GHz, 2 CPUs, Linux 6.12.48, Java 17.0.16",
                Instant.EPOCH,
                "config",
                cells,
                List.of());
    }

    @ParameterizedTest(name = "{0} group(s)")
    @ValueSource(ints = {0, 1, 40})
    void everyRectLineAndTextLiesInsideTheChartAndNoTwoLabelsOnALineOverlap(int groups) throws Exception {
        Element svg = parse(BarChart.svg(report(groups)));
        double width = num(svg, "width");
        double height = num(svg, "height");
        assertEquals("0 0 " + (int) width + " " + (int) height, svg.getAttribute("viewBox"));
        for (Element r : all(svg, "rect")) {
            assertInside(num(r, "x"), num(r, "x") + num(r, "width"), width, r);
            assertInside(num(r, "y"), num(r, "y") + num(r, "height"), height, r);
        }
        for (Element l : all(svg, "line")) {
            assertInside(Math.min(num(l, "x1"), num(l, "x2")), Math.max(num(l, "x1"), num(l, "x2")), width, l);
            assertInside(Math.min(num(l, "y1"), num(l, "y2")), Math.max(num(l, "y1"), num(l, "y2")), height, l);
        }
        List<double[]> boxes = new ArrayList<>();
        for (Element t : all(svg, "text")) {
            assertEquals("", t.getAttribute("transform"), "the bounds below hold for unrotated text");
            double[] box = box(t, svg);
            assertInside(box[0], box[1], width, t);
            assertInside(box[2] - fontSize(t, svg), box[2] + fontSize(t, svg) / 4, height, t);
            boxes.add(box);
        }
        boxes.sort(Comparator.<double[]>comparingDouble(b -> b[2]).thenComparingDouble(b -> b[0]));
        for (int i = 1; i < boxes.size(); i++) {
            double[] a = boxes.get(i - 1);
            double[] b = boxes.get(i);
            if (a[2] == b[2]) {
                assertTrue(a[1] <= b[0], "two labels overlap on the line at y=" + a[2]);
            }
        }
    }

    @ParameterizedTest(name = "{0} group(s)")
    @ValueSource(ints = {1, 40})
    void theLegendNamesEveryPathOfTheReport(int groups) throws Exception {
        BenchReport report = report(groups);
        Element svg = parse(BarChart.svg(report));
        Set<String> legend = Set.copyOf(legend(svg));
        assertEquals(report.cells().stream().map(c -> c.path().label()).collect(Collectors.toSet()), legend);
        assertEquals(
                Arrays.stream(BenchPath.values()).map(BenchPath::label).collect(Collectors.toSet()),
                legend,
                "every path, raw tap (C) among them");
    }

    @Test
    void aPathThatNeverRanIsInTheLegendAsNotRunAndHasNoBar() throws Exception {
        List<Cell> cells = new ArrayList<>(report(2).cells());
        cells.removeIf(c -> c.path() == BenchPath.KERNEL);
        cells.add(Cell.skipped(BenchPath.KERNEL, Direction.TX, 64, 1, "no /dev/vhost-net"));
        Element svg = parse(BarChart.svg(new BenchReport("m", Instant.EPOCH, "config", cells, List.of())));
        assertEquals(
                List.of(
                        "kernel (not run)",
                        "emulated",
                        "raw tap (Java)",
                        "raw tap (C)",
                        "vhost-user: vhostnet",
                        "vhost-user: DPDK",
                        "DPDK virtio-user on vhost-net"),
                legend(svg));
        assertTrue(all(svg, "title").stream().noneMatch(t -> t.getTextContent().startsWith("kernel")), "no kernel bar");
    }

    @ParameterizedTest(name = "{0} group(s)")
    @ValueSource(ints = {1, 40})
    void eachBarHasAWhiskerFromItsMinimumToItsMaximumBelowTheTopOfTheScale(int groups) throws Exception {
        BenchReport report = report(groups);
        Element svg = parse(BarChart.svg(report));
        List<Element> bars = all(svg, "g", "bar");
        double top = all(svg, "line", "grid").stream()
                .mapToDouble(l -> num(l, "y1"))
                .min()
                .orElseThrow();
        List<Cell> ran = report.cells().stream().filter(Cell::ran).toList();
        assertEquals(ran.size(), bars.size());
        for (Cell c : ran) {
            String name = c.path().label() + ", " + BarChart.group(c) + ":";
            List<Element> mine = bars.stream()
                    .filter(b -> all(b, "title").get(0).getTextContent().startsWith(name))
                    .toList();
            assertEquals(1, mine.size(), name);
            Element rect = all(mine.get(0), "rect").get(0);
            double base = num(rect, "y") + num(rect, "height");
            double perUnit = num(rect, "height") / c.packetsPerSecond();
            double yMin = base - perUnit * c.min(Rep::packetsPerSecond);
            double yMax = base - perUnit * c.max(Rep::packetsPerSecond);
            Element whisker = all(mine.get(0), "line", "whisker").get(0);
            assertEquals(yMin, num(whisker, "y1"), 0.3, name + " min");
            assertEquals(yMax, num(whisker, "y2"), 0.3, name + " max");
            assertTrue(yMin > yMax + 1, name + ": the synthetic spread shows");
            assertTrue(num(whisker, "y2") >= top - 0.05, name + ": the scale holds the max");
            double[] caps = all(mine.get(0), "line", "cap").stream()
                    .mapToDouble(l -> num(l, "y1"))
                    .sorted()
                    .toArray();
            assertArrayEquals(new double[] {num(whisker, "y2"), num(whisker, "y1")}, caps, 1e-9, name + " caps");
        }
    }

    @ParameterizedTest(name = "{0} group(s)")
    @ValueSource(ints = {0, 1, 40})
    void rsvgConvertRendersTheChartToAPngOfItsSize(int groups, @TempDir Path dir) throws Exception {
        assumeTrue(
                Files.isExecutable(RSVG),
                "no " + RSVG + ": install the Debian package librsvg2-bin to render the chart");
        String chart = BarChart.svg(report(groups));
        Element svg = parse(chart);
        Path in = Files.writeString(dir.resolve("bench.svg"), chart);
        Path png = dir.resolve("bench.png");
        Process p = new ProcessBuilder(RSVG.toString(), "-o", png.toString(), in.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "rsvg-convert finished");
        assertEquals(0, p.exitValue(), out);
        try (InputStream s = Files.newInputStream(png);
                DataInputStream d = new DataInputStream(s)) {
            byte[] signature = d.readNBytes(8);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, signature);
            d.readInt();
            assertEquals("IHDR", new String(d.readNBytes(4), StandardCharsets.US_ASCII));
            assertEquals((int) num(svg, "width"), d.readInt(), "PNG width");
            assertEquals((int) num(svg, "height"), d.readInt(), "PNG height");
        }
    }

    @Test
    void aScaleIsRoundAndHoldsTheLargestValue() {
        ChartScale s = ChartScale.holding(1_234_567);
        assertEquals(250_000, s.step(), 1e-6);
        assertEquals(1_250_000, s.top(), 1e-6);
        assertEquals(
                List.of("0", "0.25M", "0.5M", "0.75M", "1M", "1.25M"),
                s.ticks().stream().map(s::label).toList());
        for (double max : new double[] {0.3, 7, 200, 300, 999, 1000, 4.2e9}) {
            ChartScale m = ChartScale.holding(max);
            assertTrue(m.top() >= max && m.ticks().size() >= 4 && m.ticks().size() <= 6, max + ": " + m);
        }
        assertEquals(new ChartScale(1, 0.25), ChartScale.holding(0), "nothing ran");
    }

    private static Element parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Document d = f.newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
        assertEquals(SVG, d.getDocumentElement().getNamespaceURI());
        return d.getDocumentElement();
    }

    private static List<Element> all(Element in, String tag) {
        NodeList n = in.getElementsByTagNameNS(SVG, tag);
        List<Element> all = new ArrayList<>();
        for (int i = 0; i < n.getLength(); i++) {
            all.add((Element) n.item(i));
        }
        return all;
    }

    private static List<Element> all(Element in, String tag, String cls) {
        return all(in, tag).stream()
                .filter(e -> e.getAttribute("class").equals(cls))
                .toList();
    }

    /** The legend's labels, in order. */
    private static List<String> legend(Element svg) {
        return all(svg, "g", "legend").stream()
                .map(g -> all(g, "text").get(0).getTextContent())
                .toList();
    }

    private static double num(Element e, String attribute) {
        String v = e.getAttribute(attribute);
        return v.isEmpty() ? 0 : Double.parseDouble(v);
    }

    private static int fontSize(Element text, Element svg) {
        String own = text.getAttribute("font-size");
        return Integer.parseInt(own.isEmpty() ? svg.getAttribute("font-size") : own);
    }

    /** Left, right (the estimated extent, by its anchor) and baseline of a text. */
    private static double[] box(Element t, Element svg) {
        double w = BarChart.textWidth(t.getTextContent(), fontSize(t, svg));
        double x = num(t, "x");
        double left = switch (t.getAttribute("text-anchor")) {
            case "middle" -> x - w / 2;
            case "end" -> x - w;
            default -> x;
        };
        return new double[] {left, left + w, num(t, "y")};
    }

    private static void assertInside(double from, double to, double size, Element e) {
        assertTrue(from >= 0 && to <= size, e.getTagName() + " " + from + ".." + to + " outside 0.." + size);
    }
}
