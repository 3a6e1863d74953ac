package dev.vhostnet.it.vm;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.platform.engine.TestExecutionResult.Status;

/**
 * The outcome of one test run in the test VM, and the results file that carries them to the host:
 * a header line, then one line per result with tab-separated fields in which backslash, tab, line
 * feed and carriage return are escaped.
 *
 * @param status how the test ended
 * @param name the test's name: the display names of its class, nested classes and method
 * @param uniqueId the test's JUnit Platform unique id
 * @param message the failure message or the reason for the abort or skip; empty on success
 * @param stackTrace the failure's or abort's stack trace; empty if none
 */
public record InVmResult(Status status, String name, String uniqueId, String message, String stackTrace) {

    private static final String HEADER = "# vhostnet in-VM test results v1";

    /** Replays the outcome on the host: passes, fails with the in-VM failure, or aborts with its reason. */
    public void replay() {
        switch (status) {
            case SUCCESSFUL -> {}
            case ABORTED -> Assumptions.abort(message);
            case FAILED ->
                fail(name + " failed in the test VM: " + message
                        + (stackTrace.isEmpty() ? "" : "\nIn-VM stack trace:\n" + stackTrace));
        }
    }

    /** Writes the results file at once, so that a reader sees it whole or not at all. */
    static void writeAll(Path file, List<InVmResult> results) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(HEADER);
        for (InVmResult r : results) {
            lines.add(String.join(
                    "\t",
                    r.status.name(),
                    escape(r.name),
                    escape(r.uniqueId),
                    escape(r.message),
                    escape(r.stackTrace)));
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Reads a results file written by {@link #writeAll}. */
    static List<InVmResult> readAll(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.get(0).equals(HEADER)) {
            throw new IOException(file + " is not an in-VM results file");
        }
        List<InVmResult> results = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split("\t", -1);
            if (f.length != 5) {
                throw new IOException("malformed line in " + file + ": " + line);
            }
            results.add(new InVmResult(
                    Status.valueOf(f[0]), unescape(f[1]), unescape(f[2]), unescape(f[3]), unescape(f[4])));
        }
        return results;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }

    private static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char e = s.charAt(++i);
                out.append(
                        switch (e) {
                            case 't' -> '\t';
                            case 'n' -> '\n';
                            case 'r' -> '\r';
                            default -> e;
                        });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
