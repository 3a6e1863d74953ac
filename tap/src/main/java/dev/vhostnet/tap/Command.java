package dev.vhostnet.tap;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command line tool ({@code ip}, {@code sysctl}, {@code gcc}) with a bounded wait. */
public final class Command {
    /** How long {@link #exec(List)} and {@link #run} wait. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(20);

    private Command() {}

    /** Exit status and merged standard output and error. */
    public record Result(int exit, String output) {}

    /** Runs {@code command}; returns its exit status and merged output. Fails if it runs for more than 20 s. */
    public static Result exec(List<String> command) throws IOException {
        return exec(command, DEFAULT_TIMEOUT);
    }

    /**
     * Runs {@code command}; returns its exit status and merged output. One that runs longer than
     * {@code timeout} is killed with what it started, and fails with the output it wrote so far.
     * The output goes to a file, not a pipe: reading a pipe to its end would wait for the command
     * (and any child that inherited the pipe) however long it runs, so the timeout could never fire.
     */
    public static Result exec(List<String> command, Duration timeout) throws IOException {
        Path output = Files.createTempFile("vhostnet-command", ".out");
        try {
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            try {
                if (!p.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                    kill(p);
                    throw new IOException(String.join(" ", command) + " did not finish in " + timeout.toMillis()
                            + " ms: " + Files.readString(output, UTF_8).strip());
                }
            } catch (InterruptedException e) {
                kill(p);
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted waiting for " + String.join(" ", command));
            }
            return new Result(p.exitValue(), Files.readString(output, UTF_8));
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** Runs {@code command}; throws with its output unless it exits 0. */
    public static String run(String... command) throws IOException {
        Result r = exec(List.of(command));
        if (r.exit() != 0) {
            throw new IOException(String.join(" ", command) + " exited " + r.exit() + ": "
                    + r.output().strip());
        }
        return r.output();
    }

    /** Whether an interface of this name exists in the host namespace. */
    public static boolean hostHasLink(String name) throws IOException {
        return exec(List.of("ip", "link", "show", "dev", name)).exit() == 0;
    }
}
