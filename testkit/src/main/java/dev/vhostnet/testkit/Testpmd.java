package dev.vhostnet.testkit;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A peer nobody here wrote: DPDK's {@code dpdk-testpmd} with its vhost PMD ({@code net_vhost}) as
 * the vhost-user back-end, forwarding in {@code macswap} mode on {@code queues} queue pairs. It serves
 * the socket ({@code client=0}: a stale socket file is removed first, DPDK will not bind over one) or
 * dials it ({@code client=1}: the test listens). Runs without huge pages ({@code --no-huge}). Close
 * stops it with SIGTERM and reads its totals.
 */
public final class Testpmd implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/dpdk-testpmd");
    private static int started;

    public final Path socket;
    public final Path output;
    private final Process process;
    private long rxPackets = -1;
    private long txPackets = -1;
    private long dropped = -1;
    private boolean killed;

    /** Why testpmd cannot run here, or null. */
    public static String unavailabilityCause() {
        return Files.isExecutable(BINARY)
                ? null
                : "no " + BINARY + ": dpdk-testpmd is in Debian's dpdk-dev package "
                        + "(apt-get install dpdk-dev; the dpdk package alone has no testpmd)";
    }

    /** Starts testpmd on {@code dir/vhost-user.sock}, its log beside it, and waits until it forwards. */
    public static Testpmd start(Path dir, int queues, boolean client) throws IOException, InterruptedException {
        return new Testpmd(dir, queues, client);
    }

    private Testpmd(Path dir, int queues, boolean client) throws IOException, InterruptedException {
        socket = dir.resolve("vhost-user.sock");
        output = dir.resolve("testpmd-" + next() + ".log");
        if (!client) {
            Files.deleteIfExists(socket);
        }
        process = new ProcessBuilder(
                        BINARY.toString(),
                        "--no-huge",
                        "-m",
                        "1024",
                        "--no-pci",
                        "--no-shconf",
                        "--file-prefix",
                        "vhostnet" + ProcessHandle.current().pid(),
                        "-l",
                        "0-1",
                        "--vdev",
                        "net_vhost0,iface=" + socket + ",client=" + (client ? 1 : 0) + ",queues=" + queues,
                        "--",
                        "--total-num-mbufs=16384",
                        "--forward-mode=macswap",
                        "--port-topology=loop",
                        "--auto-start",
                        "--rxq=" + queues,
                        "--txq=" + queues,
                        "--stats-period=1")
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        // Its vhost socket comes up (and a client=1 one dials) before the port is configured: wait for
        // forwarding to start too, or the first frames meet a port that is not running yet.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(client || Files.exists(socket)) || !Files.readString(output).contains("start packet forwarding")) {
            if (!process.isAlive() || System.nanoTime() >= deadline) {
                process.destroyForcibly();
                throw new IOException("dpdk-testpmd "
                        + (process.isAlive() ? "made no socket or did not start forwarding in 30 s" : "exited") + ": "
                        + tail());
            }
            Thread.sleep(50);
        }
    }

    private static synchronized int next() {
        return ++started;
    }

    /** SIGKILL, as a crash: no totals, the socket file stays behind. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("dpdk-testpmd survived SIGKILL");
        }
        killed = true;
    }

    /** Packets testpmd received, over its whole run (after {@link #close}). */
    public long rxPackets() {
        return rxPackets;
    }

    /** Packets testpmd sent back, over its whole run (after {@link #close}). */
    public long txPackets() {
        return txPackets;
    }

    /** RX-dropped + TX-dropped, over its whole run (after {@link #close}). */
    public long dropped() {
        return dropped;
    }

    /** Stops testpmd (SIGTERM: it prints its totals and exits) and reads the accumulated totals. */
    @Override
    public void close() throws IOException {
        if (killed) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while dpdk-testpmd printed its totals", e);
        }
        String log = Files.readString(output);
        Matcher m = Pattern.compile(
                        "Accumulated forward statistics for all ports\\+*\\s*RX-packets: (\\d+)\\s+RX-dropped: (\\d+)"
                                + "\\s+RX-total: \\d+\\s*TX-packets: (\\d+)\\s+TX-dropped: (\\d+)")
                .matcher(log);
        if (!m.find()) {
            throw new IOException("no totals in testpmd's output: " + tail());
        }
        rxPackets = Long.parseLong(m.group(1));
        txPackets = Long.parseLong(m.group(3));
        dropped = Long.parseLong(m.group(2)) + Long.parseLong(m.group(4));
        System.out.printf("testpmd totals: RX-packets %d TX-packets %d dropped %d%n", rxPackets, txPackets, dropped);
        log.lines()
                .filter(l -> l.startsWith("VHOST_CONFIG") || l.matches("(?i).*(error|fail|warn).*"))
                .forEach(l -> System.out.println("testpmd: " + l));
    }

    private String tail() {
        try {
            List<String> lines = Files.readAllLines(output);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }
}
