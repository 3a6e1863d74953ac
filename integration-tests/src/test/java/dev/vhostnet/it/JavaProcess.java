package dev.vhostnet.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A JVM of this test's JDK run to its end, as the vhostnet command runs. */
final class JavaProcess {
    private JavaProcess() {}

    /** Runs {@code java --enable-native-access=ALL-UNNAMED ARGS} with {@code stdin}; its output, stdout and stderr, once it exited 0. */
    static String run(List<String> args, String stdin, Duration timeout) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED"));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().write(stdin.getBytes(UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), UTF_8);
        assertTrue(p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS), String.join(" ", args) + " finished");
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
