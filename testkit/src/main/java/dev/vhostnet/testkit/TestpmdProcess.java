package dev.vhostnet.testkit;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@code dpdk-testpmd} (DPDK's {@code app/test-pmd}) as a child process of this one, its
 * output in a log file: started with {@code --auto-start} and a stats period by the caller, so it
 * forwards until signalled, and given a {@code --file-prefix} of its own, so that several run side by
 * side. {@link #stop} ends it as Ctrl-C would (SIGTERM: it prints its totals and exits), {@link
 * #close} kills it if it still runs; either way it is reaped and the empty runtime directory EAL made
 * for its prefix is removed. Every one still running when the JVM exits (Ctrl-C, an uncaught error)
 * is killed and reaped by a shutdown hook.
 */
public final class TestpmdProcess implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/dpdk-testpmd");
    /** The line testpmd prints once its ports are up and its lcores forward ({@code --auto-start}). */
    static final String FORWARDING = "start packet forwarding";

    private static final Duration STOP_PATIENCE = Duration.ofSeconds(20);
    private static final AtomicInteger STARTED = new AtomicInteger();
    private static final Set<TestpmdProcess> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime()
                .addShutdownHook(
                        new Thread(() -> List.copyOf(RUNNING).forEach(TestpmdProcess::close), "testpmd-reaper"));
    }

    private final Process process;
    private final Path log;
    private final String prefix;

    private TestpmdProcess(Process process, Path log, String prefix) {
        this.process = process;
        this.log = log;
        this.prefix = prefix;
    }

    /** Why testpmd cannot run here, or null. */
    public static String unavailabilityCause() {
        return Files.isExecutable(BINARY)
                ? null
                : "no " + BINARY + ": dpdk-testpmd is in Debian's dpdk-dev package "
                        + "(apt-get install dpdk-dev; the dpdk package alone has no testpmd)";
    }

    /**
     * Runs {@code dpdk-testpmd EAL… --file-prefix P -- APP…}, its output to {@code log}, and waits
     * up to {@code patience} until it forwards and, if {@code socket} is not null, that file exists (a
     * vhost-user socket it serves). If it exits or does not get there, it is killed and the exception
     * carries the end of its output.
     */
    public static TestpmdProcess start(List<String> eal, List<String> app, Path log, Path socket, Duration patience)
            throws IOException, InterruptedException {
        String prefix = "vhostnet" + ProcessHandle.current().pid() + "-" + STARTED.incrementAndGet();
        List<String> command = new ArrayList<>();
        command.add(BINARY.toString());
        command.addAll(eal);
        command.add("--file-prefix=" + prefix);
        command.add("--");
        command.addAll(app);
        Process process = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        TestpmdProcess testpmd = new TestpmdProcess(process, log, prefix);
        RUNNING.add(testpmd);
        long deadline = System.nanoTime() + patience.toNanos();
        while (!(socket == null || Files.exists(socket)) || !testpmd.output().contains(FORWARDING)) {
            if (!process.isAlive() || System.nanoTime() >= deadline) {
                boolean exited = !process.isAlive();
                testpmd.close();
                throw new IOException("dpdk-testpmd "
                        + (exited
                                ? "exited (" + process.exitValue() + ")"
                                : (socket == null ? "" : "made no socket " + socket + " or ")
                                        + "did not start forwarding in " + patience.toSeconds() + " s")
                        + ": " + testpmd.tail());
            }
            Thread.sleep(20);
        }
        return testpmd;
    }

    /** Its process id: {@code /proc/<pid>/task} holds its threads (lcores, EAL's and the vhost library's). */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Its output so far (empty if the log cannot be read). */
    public String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "";
        }
    }

    /** The last 30 lines of its output, for an error message. */
    public String tail() {
        List<String> lines = output().lines().toList();
        return lines.isEmpty()
                ? "(no output in " + log + ")"
                : String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    }

    /**
     * SIGTERM, as Ctrl-C: testpmd stops forwarding, prints its totals and exits; killed if it has not
     * within 20 s. Returns the totals it printed.
     *
     * @throws IOException when it printed none (killed, or it failed)
     */
    public TestpmdTotals stop() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(STOP_PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
                close();
                throw new IOException("dpdk-testpmd did not exit within " + STOP_PATIENCE.toSeconds()
                        + " s of SIGTERM and was killed: " + tail());
            }
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while dpdk-testpmd printed its totals", e);
        }
        close();
        return TestpmdTotals.parse(output())
                .orElseThrow(() -> new IOException("no totals in dpdk-testpmd's output: " + tail()));
    }

    /** SIGKILL, as a crash: no totals; a vhost-user socket it served stays behind. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(STOP_PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
            throw new IllegalStateException("dpdk-testpmd (pid " + process.pid() + ") survived SIGKILL");
        }
        close();
    }

    /** Kills it if it still runs, reaps it and removes its runtime directory; idempotent, from any thread. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (!process.waitFor(STOP_PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
                        throw new IllegalStateException("dpdk-testpmd (pid " + process.pid() + ") survived SIGKILL");
                    }
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // reap it first; the interrupt is the caller's again below
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        RUNNING.remove(this);
        removeRuntimeDirectory();
    }

    /**
     * EAL's runtime directory for the prefix ({@code /var/run/dpdk/<prefix>} as root, else under
     * {@code $XDG_RUNTIME_DIR} or {@code /tmp}): the prefix is this process's alone, and what EAL
     * leaves in it (its telemetry sockets, when killed; nothing at all with {@code --in-memory}) is of
     * no use once testpmd is reaped.
     */
    private void removeRuntimeDirectory() {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        for (Path base :
                List.of(Path.of("/var/run/dpdk"), Path.of(xdg == null ? "/tmp" : xdg, "dpdk"), Path.of("/tmp/dpdk"))) {
            Path dir = base.resolve(prefix);
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            try (DirectoryStream<Path> left = Files.newDirectoryStream(dir)) {
                for (Path p : left) {
                    Files.deleteIfExists(p);
                }
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                // a directory of its own inside, or not ours to remove: left as it is
            }
        }
    }
}
