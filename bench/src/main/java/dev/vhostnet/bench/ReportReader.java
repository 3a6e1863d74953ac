package dev.vhostnet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@code bench.json} written by {@link ReportWriter#json} back into a {@link BenchReport},
 * repetitions included, so an earlier run can be the baseline of a new one ({@link Baseline}).
 * The only JSON reading in the project: a small parser of objects, arrays, strings, numbers,
 * booleans and {@code null}; a missing number reads as 0 (a report from before it was written).
 */
public final class ReportReader {
    private final String text;
    private int at;

    private ReportReader(String text) {
        this.text = text;
    }

    public static BenchReport read(Path file) throws IOException {
        try {
            return parse(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is not a bench report: " + e.getMessage(), e);
        }
    }

    /** @throws IllegalArgumentException when {@code json} is not a bench report */
    public static BenchReport parse(String json) {
        ReportReader r = new ReportReader(json);
        Object root = r.value();
        r.skipSpace();
        if (r.at != json.length()) {
            throw r.error("text after the report");
        }
        Map<String, Object> report = object(root, "the report");
        List<Cell> cells = new ArrayList<>();
        for (Object c : list(report.get("cells"), "cells")) {
            cells.add(cell(object(c, "a cell")));
        }
        List<String> notes = new ArrayList<>();
        for (Object n : list(report.getOrDefault("notes", List.of()), "notes")) {
            notes.add(String.valueOf(n));
        }
        Object started = report.get("started");
        return new BenchReport(
                String.valueOf(report.getOrDefault("machine", "")),
                started == null ? Instant.EPOCH : Instant.parse((String) started),
                String.valueOf(report.getOrDefault("config", "")),
                cells,
                notes);
    }

    private static Cell cell(Map<String, Object> c) {
        BenchPath path = BenchPath.valueOf((String) c.get("path"));
        Direction direction = Direction.valueOf((String) c.get("direction"));
        int size = (int) number(c, "frameBytes");
        int pairs = (int) number(c, "pairs");
        if (c.get("skipped") != null) {
            return Cell.skipped(path, direction, size, pairs, (String) c.get("skipped"));
        }
        List<Rep> reps = new ArrayList<>();
        for (Object o : list(c.get("reps"), "reps")) {
            Map<String, Object> p = object(o, "a repetition");
            reps.add(new Rep(
                    number(p, "packets"),
                    number(p, "bytes"),
                    number(p, "sent"),
                    number(p, "nanos"),
                    number(p, "deviceCpuNanos"),
                    number(p, "driverCpuNanos"),
                    number(p, "totalCpuNanos"),
                    number(p, "p50Nanos"),
                    number(p, "p99Nanos"),
                    number(p, "deviceAllocBytes"),
                    number(p, "driverAllocBytes")));
        }
        return new Cell(path, direction, size, pairs, reps, null);
    }

    private static long number(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v instanceof Double d ? Math.round(d) : 0;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object v, String what) {
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException(what + " is not an object");
        }
        return (Map<String, Object>) v;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object v, String what) {
        if (!(v instanceof List)) {
            throw new IllegalArgumentException(what + " is not an array");
        }
        return (List<Object>) v;
    }

    private Object value() {
        skipSpace();
        if (at >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(at);
        switch (c) {
            case '{' -> {
                at++;
                Map<String, Object> m = new LinkedHashMap<>();
                if (!consume('}')) {
                    do {
                        skipSpace();
                        String key = string();
                        expect(':');
                        m.put(key, value());
                    } while (consume(','));
                    expect('}');
                }
                return m;
            }
            case '[' -> {
                at++;
                List<Object> l = new ArrayList<>();
                if (!consume(']')) {
                    do {
                        l.add(value());
                    } while (consume(','));
                    expect(']');
                }
                return l;
            }
            case '"' -> {
                return string();
            }
            default -> {
                return literal();
            }
        }
    }

    private Object literal() {
        for (String word : new String[] {"true", "false", "null"}) {
            if (text.startsWith(word, at)) {
                at += word.length();
                return word.equals("null") ? null : Boolean.valueOf(word);
            }
        }
        int start = at;
        while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
            at++;
        }
        try {
            return Double.valueOf(text.substring(start, at));
        } catch (NumberFormatException e) {
            at = start;
            throw error("expected a value");
        }
    }

    private String string() {
        if (!consume('"')) {
            throw error("expected a string");
        }
        StringBuilder s = new StringBuilder();
        while (true) {
            if (at >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(at++);
            if (c == '"') {
                return s.toString();
            }
            if (c != '\\') {
                s.append(c);
                continue;
            }
            char e = text.charAt(at++);
            switch (e) {
                case 'n' -> s.append('\n');
                case 'r' -> s.append('\r');
                case 't' -> s.append('\t');
                case 'b' -> s.append('\b');
                case 'f' -> s.append('\f');
                case 'u' -> {
                    s.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    at += 4;
                }
                default -> s.append(e);
            }
        }
    }

    private boolean consume(char c) {
        skipSpace();
        if (at < text.length() && text.charAt(at) == c) {
            at++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!consume(c)) {
            throw error("expected '" + c + "'");
        }
    }

    private void skipSpace() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at character " + at);
    }
}
