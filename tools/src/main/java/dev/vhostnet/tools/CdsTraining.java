package dev.vhostnet.tools;

import dev.vhostnet.bench.Json;
import java.io.PrintWriter;
import java.io.Writer;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * What {@code ./vhostnet} runs once per new jar and JDK under {@code -XX:ArchiveClassesAtExit}, so
 * that the class-data-sharing archive holds what the short commands load: it runs the commands
 * that change nothing ({@code probe} with and without {@code --json}, {@code tap list}, the help of
 * each, {@code status} of a socket that is not there), reads and prints a status document (Jackson's
 * reader), and loads every class of this project in the jar. It creates nothing on the host.
 */
final class CdsTraining {
    private CdsTraining() {}

    public static void main(String[] args) throws Exception {
        PrintWriter sink = new PrintWriter(Writer.nullWriter());
        for (List<String> run : List.of(
                List.of("probe"),
                List.of("tap", "list"),
                List.of("--help"),
                List.of("--version"),
                List.of("tap", "create", "--help"),
                List.of("tap", "show", "vhostnet-no-such-tap"),
                List.of("probe", "--json"),
                List.of("status", "--socket", "/nonexistent/vhostnet-training.status"))) {
            Main.run(run.toArray(String[]::new), sink, sink);
        }
        StatusTable.print(Json.parse("{\"daemon\":\"vhost-user\",\"device\":{\"pairs\":[{}]}}"), sink);
        Path jar = jar();
        if (jar == null) {
            return;
        }
        ClassLoader loader = CdsTraining.class.getClassLoader();
        try (JarFile file = new JarFile(jar.toFile())) {
            for (Enumeration<JarEntry> entries = file.entries(); entries.hasMoreElements(); ) {
                String name = entries.nextElement().getName();
                if (name.startsWith("dev/vhostnet/")
                        && name.endsWith(".class")
                        && !name.startsWith("dev/vhostnet/bench/jmh/")) {
                    try {
                        Class.forName(
                                name.substring(0, name.length() - ".class".length())
                                        .replace('/', '.'),
                                false,
                                loader);
                    } catch (LinkageError | ClassNotFoundException e) {
                        // A class whose dependencies are not in this jar (test-only ones): not needed.
                    }
                }
            }
        }
    }

    /** The jar this class came from, or null when it runs from a directory. */
    private static Path jar() throws URISyntaxException {
        Path location = Path.of(CdsTraining.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        return location.toString().endsWith(".jar") ? location : null;
    }
}
