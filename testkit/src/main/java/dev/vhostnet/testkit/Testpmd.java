package dev.vhostnet.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A peer nobody here wrote: DPDK's {@code dpdk-testpmd} with its vhost PMD ({@code net_vhost}) as
 * the vhost-user back-end, forwarding in {@code macswap} mode on {@code queues} queue pairs. It serves
 * the socket ({@code client=0}: a stale socket file is removed first, DPDK will not bind over one) or
 * dials it ({@code client=1}: the test listens). Runs without huge pages ({@code --no-huge}). Close
 * stops it with SIGTERM and reads its totals.
 */
public final class Testpmd implements AutoCloseable {
    public static final Path BINARY = TestpmdProcess.BINARY;
    private static int started;

    public final Path socket;
    public final Path output;
    private final TestpmdProcess process;
    private long rxPackets = -1;
    private long txPackets = -1;
    private long dropped = -1;
    private boolean killed;

    /** Why testpmd cannot run here, or null. */
    public static String unavailabilityCause() {
        return TestpmdProcess.unavailabilityCause();
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
        // Its vhost socket comes up (and a client=1 one dials) before the port is configured: wait for
        // forwarding to start too, or the first frames meet a port that is not running yet.
        process = TestpmdProcess.start(
                List.of(
                        "--no-huge",
                        "-m",
                        "1024",
                        "--no-pci",
                        "--no-shconf",
                        "-l",
                        "0-1",
                        "--vdev",
                        "net_vhost0,iface=" + socket + ",client=" + (client ? 1 : 0) + ",queues=" + queues),
                List.of(
                        "--total-num-mbufs=16384",
                        "--forward-mode=macswap",
                        "--port-topology=loop",
                        "--auto-start",
                        "--rxq=" + queues,
                        "--txq=" + queues,
                        "--stats-period=1"),
                output,
                client ? null : socket,
                Duration.ofSeconds(30));
    }

    private static synchronized int next() {
        return ++started;
    }

    /** SIGKILL, as a crash: no totals, the socket file stays behind. */
    public void kill() throws InterruptedException {
        process.kill();
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
        TestpmdTotals totals = process.stop();
        rxPackets = totals.rxPackets();
        txPackets = totals.txPackets();
        dropped = totals.dropped();
        System.out.printf("testpmd totals: RX-packets %d TX-packets %d dropped %d%n", rxPackets, txPackets, dropped);
        process.output()
                .lines()
                .filter(l -> l.startsWith("VHOST_CONFIG") || l.matches("(?i).*(error|fail|warn).*"))
                .forEach(l -> System.out.println("testpmd: " + l));
    }
}
