package dev.vhostnet.it.vm;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The test VM, seen from the host: runs {@link InVmLauncher} in it through
 * {@code testvm/run-in-vm.sh} (which builds or reuses the VM image) with this JVM's test class
 * path, and reads back the results.
 *
 * <p>Everything the run leaves is in {@code target/testvm} of this module: {@code console.log}
 * (kernel, init and test output), {@code run.log} (the scripts' output) and {@code results.tsv}.
 * The VM is killed after {@code $VHOSTNET_TESTVM_TIMEOUT} seconds (default 1200).
 */
public final class TestVm {

    /** The tag of the tests that need the kernel's vhost-net. */
    public static final String TAG = "vhost-net";

    private static final Path VHOST_NET = Path.of("/dev/vhost-net");
    private static final int LOG_TAIL = 20;

    private final Path moduleDir;
    private final Path resultsDir;
    private final long timeoutSeconds;

    private TestVm(Path moduleDir, String results, long timeoutSeconds) {
        this.moduleDir = moduleDir;
        this.resultsDir = moduleDir.resolve("target").resolve(results);
        this.timeoutSeconds = timeoutSeconds;
    }

    /** The test VM of the integration-tests module that this JVM runs the tests of. */
    public static TestVm forThisModule() {
        return forThisModule("testvm");
    }

    /** As {@link #forThisModule()}, leaving its logs and results in {@code target/<results>}. */
    public static TestVm forThisModule(String results) {
        Path moduleDir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")))
                .toAbsolutePath();
        String timeout = System.getenv().getOrDefault("VHOSTNET_TESTVM_TIMEOUT", "1200");
        return new TestVm(moduleDir, results, Long.parseLong(timeout));
    }

    /** The directory the VM writes to (shared with it at the same path): logs, results. */
    public Path resultsDir() {
        return resultsDir;
    }

    /** Whether this host has {@code /dev/vhost-net}, after trying to load the module. */
    public static boolean hostHasVhostNet() throws InterruptedException {
        if (!Files.exists(VHOST_NET)) {
            try {
                new ProcessBuilder("modprobe", "vhost_net")
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .start()
                        .waitFor(30, TimeUnit.SECONDS);
            } catch (IOException noModprobe) {
                return false;
            }
        }
        return Files.exists(VHOST_NET);
    }

    /** The VM's serial console log, the first place to look when a run fails. */
    public Path consoleLog() {
        return resultsDir.resolve("console.log");
    }

    /**
     * Boots the VM, runs the tests tagged {@code tag} in it and returns their results.
     *
     * @throws IllegalStateException if the VM did not boot or the launcher did not finish
     */
    public List<InVmResult> runTests(String tag) throws IOException, InterruptedException {
        try {
            return runTestsOnce(tag);
        } catch (JvmCrashed e) {
            // A JVM that dies on a signal before writing results is the emulator's fault, not a
            // test's: seen rarely under TCG (SIGSEGV in JIT-compiled JDK code at start-up). One
            // more boot; a second crash fails the build. The crash report is kept beside the logs.
            System.err.println("TestVm: " + e.getMessage() + "; booting the test VM once more");
            return runTestsOnce(tag);
        }
    }

    /** The in-VM JVM died on a signal (exit code above 128) before writing any result. */
    private static final class JvmCrashed extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        JvmCrashed(String message) {
            super(message);
        }
    }

    private List<InVmResult> runTestsOnce(String tag) throws IOException, InterruptedException {
        Path resultsFile = resultsDir.resolve("results.tsv");
        Files.createDirectories(resultsDir);
        Files.deleteIfExists(resultsFile);
        String exit = Integer.toString(run(
                List.of(),
                List.of(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "-XX:ErrorFile=" + resultsDir.resolve("hs_err_pid%p.log"),
                        "-cp",
                        testClassPath(),
                        InVmLauncher.class.getName(),
                        resultsFile.toString(),
                        tag)));
        if (!Files.exists(resultsFile)) {
            IllegalStateException failure =
                    failure("the in-VM launcher exited with " + exit + " without writing results");
            if (Integer.parseInt(exit) > 128) {
                throw new JvmCrashed(failure.getMessage());
            }
            throw failure;
        }
        return InVmResult.readAll(resultsFile);
    }

    /**
     * Boots the VM with {@code run-in-vm.sh}'s {@code options} (such as {@code --vhost-user SOCKET})
     * and runs {@code command} in it; returns the command's exit code.
     *
     * @throws IllegalStateException if the VM did not boot or did not run the command
     */
    public int run(List<String> options, List<String> command) throws IOException, InterruptedException {
        Files.createDirectories(resultsDir);
        Path exitCodeFile = resultsDir.resolve("exit-code");
        Files.deleteIfExists(exitCodeFile);
        List<String> script = new java.util.ArrayList<>(List.of(
                moduleDir.resolve("testvm/run-in-vm.sh").toString(),
                "--results",
                resultsDir.toString(),
                "--timeout",
                Long.toString(timeoutSeconds)));
        script.addAll(options);
        script.add("--");
        script.addAll(command);
        Process run = new ProcessBuilder(script)
                .directory(moduleDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(runLog().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        // run-in-vm.sh kills the VM at the timeout; the margin covers building the image.
        boolean ended;
        try {
            ended = run.waitFor(timeoutSeconds + 300, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            kill(run);
            throw e;
        }
        if (!ended) {
            kill(run);
            throw failure("the test VM run did not end");
        }
        if (!Files.exists(exitCodeFile)) {
            throw failure("the test VM did not boot or did not run the command");
        }
        return Integer.parseInt(Files.readString(exitCodeFile).trim());
    }

    /** Kills run-in-vm.sh and what it started (QEMU). */
    private static void kill(Process run) {
        run.descendants().forEach(ProcessHandle::destroyForcibly);
        run.destroyForcibly();
    }

    /** An error that points to the logs and quotes their last lines, for builds whose files are lost. */
    public IllegalStateException failure(String what) throws IOException {
        StringBuilder message = new StringBuilder(what)
                .append("; see ")
                .append(consoleLog())
                .append(" and ")
                .append(runLog());
        for (Path log : List.of(runLog(), consoleLog())) {
            if (Files.exists(log)) {
                List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
                List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL), lines.size());
                message.append("\n--- last lines of ")
                        .append(log.getFileName())
                        .append(" ---\n")
                        .append(String.join("\n", tail));
            }
        }
        return new IllegalStateException(message.toString());
    }

    private Path runLog() {
        return resultsDir.resolve("run.log");
    }

    /**
     * This JVM's test class path. Surefire may launch its fork with only a manifest-only booter
     * jar; {@code surefire.test.class.path} then still holds the test class path.
     */
    public static String testClassPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }
}
