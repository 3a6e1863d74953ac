package dev.vhostnet.tap;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command line tool ({@code ip}, {@code sysctl}) with a bounded wait. */
public final class Command {
    private Command() {}

    /** Exit status and merged standard output and error. */
    public record Result(int exit, String output) {}

    /** Runs {@code command}; returns its exit status and merged output. Fails if it runs for more than 20 s. */
    public static Result exec(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), UTF_8);
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish in 20 s: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + String.join(" ", command));
        }
        return new Result(p.exitValue(), out);
    }

    /** Runs {@code command}; throws with its output unless it exits 0. */
    public static String run(String... command) throws IOException {
        Result r = exec(List.of(command));
        if (r.exit() != 0) {
            throw new IOException(String.join(" ", command) + " exited " + r.exit() + ": " + r.output().strip());
        }
        return r.output();
    }

    /** Whether an interface of this name exists in the host namespace. */
    public static boolean hostHasLink(String name) throws IOException {
        return exec(List.of("ip", "link", "show", "dev", name)).exit() == 0;
    }
}
