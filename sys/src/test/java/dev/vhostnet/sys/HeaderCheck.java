package dev.vhostnet.sys;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.sun.jna.Structure;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Compares the numbers Java code mirrors from C headers with what gcc computes from the headers
 * themselves. For each class given: every {@link Ioctl} and integer constant (against the macro of
 * the same name, or its {@link CExpr}), every constant of an {@code Errno}-like enum, and every
 * nested {@link Structure} annotated with {@link CExpr} (its size, its {@code SIZE} constant, and
 * the offset of each field).
 */
public final class HeaderCheck {
    private final List<String> includes;
    private final Map<String, Long> expected = new LinkedHashMap<>();

    /** A check against these headers, e.g. {@code "linux/vhost.h"}. */
    public HeaderCheck(List<String> includes) {
        this.includes = ImmutableList.copyOf(includes);
    }

    /** Adds every number the class mirrors. */
    public HeaderCheck add(Class<?> uapi) {
        if (uapi.isEnum()) {
            for (Object constant : uapi.getEnumConstants()) {
                Enum<?> e = (Enum<?>) constant;
                expected.put(e.name(), numberOf(e));
            }
            return this;
        }
        for (Field f : uapi.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || !Modifier.isPublic(f.getModifiers())) {
                continue;
            }
            CExpr expr = f.getAnnotation(CExpr.class);
            // An expression names its Java constant: a struct's own offsets may have the same C text.
            String c = expr != null
                    ? expr.value() + " /* " + uapi.getSimpleName() + "." + f.getName() + " */"
                    : f.getName();
            Object value = get(f);
            if (value instanceof Ioctl ioctl) {
                expected.put(ioctl.name(), ioctl.number());
            } else if (value instanceof Number n) {
                expected.put(c, n.longValue());
            }
        }
        for (Class<?> nested : uapi.getDeclaredClasses()) {
            CExpr struct = nested.getAnnotation(CExpr.class);
            if (struct != null && Structure.class.isAssignableFrom(nested)) {
                addStruct(struct.value(), nested.asSubclass(Structure.class));
            }
        }
        return this;
    }

    private void addStruct(String cType, Class<? extends Structure> type) {
        Structure s = newInstance(type);
        expected.put("sizeof(" + cType + ")", (long) s.size());
        try {
            Field size = type.getField("SIZE");
            expected.put(
                    "sizeof(" + cType + ") /* " + type.getSimpleName() + ".SIZE */",
                    ((Number) size.get(null)).longValue());
        } catch (NoSuchFieldException e) {
            // a struct without a SIZE constant is checked through size() alone
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
        for (String field : fieldOrder(s)) {
            expected.put("offsetof(" + cType + ", " + field + ")", (long) fieldOffset(s, field));
        }
    }

    /** How many numbers this check compares. */
    public int size() {
        return expected.size();
    }

    /** Compiles and runs the C program; returns one line per number that differs (empty: all agree). */
    public List<String> mismatches() throws IOException, InterruptedException {
        Map<String, Long> actual = evaluate();
        List<String> out = new ArrayList<>();
        expected.forEach((expr, javaValue) -> {
            long cValue = actual.get(expr);
            if (cValue != javaValue) {
                out.add(expr + ": Java has 0x" + Long.toHexString(javaValue) + ", the header says 0x"
                        + Long.toHexString(cValue));
            }
        });
        return out;
    }

    private Map<String, Long> evaluate() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("vhostnet-headers");
        try {
            StringBuilder c = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n");
            includes.forEach(h -> c.append("#include <").append(h).append(">\n"));
            c.append("int main(void) {\n");
            List<String> exprs = List.copyOf(expected.keySet());
            for (int i = 0; i < exprs.size(); i++) {
                c.append("  printf(\"%d %lld\\n\", ")
                        .append(i)
                        .append(", (long long)(")
                        .append(stripComment(exprs.get(i)))
                        .append("));\n");
            }
            c.append("  return 0;\n}\n");
            Path src = dir.resolve("layout.c");
            Path exe = dir.resolve("layout");
            Files.writeString(src, c, UTF_8);
            run(dir, "gcc", "-Wall", "-Werror", "-o", exe.toString(), src.toString());
            String output = run(dir, exe.toString());
            ImmutableMap.Builder<String, Long> values = ImmutableMap.builder();
            for (String line : output.split("\n")) {
                String[] parts = line.trim().split(" ");
                values.put(exprs.get(Integer.parseInt(parts[0])), Long.parseLong(parts[1]));
            }
            return values.buildOrThrow();
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String stripComment(String expr) {
        int i = expr.indexOf(" /*");
        return i < 0 ? expr : expr.substring(0, i);
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        // Output to a file: reading a pipe to its end first would wait for a stuck command without a limit.
        Path output = dir.resolve("output.txt");
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        boolean finished = p.waitFor(60, TimeUnit.SECONDS);
        if (!finished) {
            p.destroyForcibly();
        }
        String out = Files.readString(output, UTF_8);
        if (!finished || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", command)
                    + " failed (is gcc with linux-libc-dev installed? ./test.sh installs them):\n" + out);
        }
        return out;
    }

    private static long numberOf(Enum<?> e) {
        try {
            return ((Number) e.getClass().getMethod("number").invoke(e)).longValue();
        } catch (ReflectiveOperationException ex) {
            throw new AssertionError(e.getClass() + " needs a number() method", ex);
        }
    }

    private static Object get(Field f) {
        try {
            return f.get(null);
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }

    private static Structure newInstance(Class<? extends Structure> type) {
        try {
            return type.getConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(type + " needs a public no-argument constructor", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<String> fieldOrder(Structure s) {
        return (List<String>) invoke(s, "getFieldOrder");
    }

    private static int fieldOffset(Structure s, String field) {
        return (Integer) invoke(s, "fieldOffset", field);
    }

    private static Object invoke(Structure s, String method, Object... args) {
        try {
            Class<?>[] types = new Class<?>[args.length];
            for (int i = 0; i < args.length; i++) {
                types[i] = args[i].getClass();
            }
            Method m = Structure.class.getDeclaredMethod(method, types);
            m.setAccessible(true);
            return m.invoke(s, args);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
