package dev.vhostnet.bench;

import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import dev.vhostnet.testkit.TestpmdProcess;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DPDK's vhost library ({@code lib/vhost}, behind the {@code net_vhost} PMD) as the back-end, as
 * DESIGN.md's C peers were run by hand: {@code dpdk-testpmd} io-forwarding between {@code
 * net_vhost0} on the socket and {@code net_tap0}, a tap it makes ({@code vpd…}) in the host's network
 * namespace; its forwarding lcore pinned to one CPU, its main lcore to the other. Its CPU is that of
 * every thread of the process.
 */
final class DpdkVhostBackEnd implements VhostUserBackEnd {
    private static final Logger log = LoggerFactory.getLogger(DpdkVhostBackEnd.class);

    private final TestpmdProcess testpmd;
    private final String tap;

    private DpdkVhostBackEnd(TestpmdProcess testpmd, String tap) {
        this.testpmd = testpmd;
        this.tap = tap;
    }

    /**
     * Serves {@code socket}, forwarding on {@code cpu}, its main lcore on {@code otherCpu}; its
     * output to {@code log}.
     */
    static DpdkVhostBackEnd start(Path socket, Path log, int cpu, int otherCpu) throws Exception {
        String tap = Names.random("vpd");
        TestpmdProcess testpmd = TestpmdProcess.start(
                TestpmdFrontEnd.eal(otherCpu, cpu, "net_vhost0,iface=" + socket + ",queues=1", "net_tap0,iface=" + tap),
                List.of("--forward-mode=io", "--auto-start", "--stats-period=5", "--total-num-mbufs=16384"),
                log,
                socket,
                Duration.ofSeconds(30));
        try {
            // net_tap brings its tap up when the port starts; a tap that is down drops every frame.
            Command.run("ip", "link", "set", "dev", tap, "up");
            return new DpdkVhostBackEnd(testpmd, tap);
        } catch (IOException | RuntimeException e) {
            testpmd.close();
            throw e;
        }
    }

    @Override
    public BenchPath path() {
        return BenchPath.VHOST_USER_DPDK;
    }

    @Override
    public String tap() {
        return tap;
    }

    @Override
    public void serving(Duration patience) {
        // Pinned from the start by --lcores; it forwards once the front-end's rings are ready.
    }

    @Override
    public long cpuNanos() {
        return ThreadCpu.nanos(ThreadCpu.threadsOf(testpmd.pid()));
    }

    /** Stops it as Ctrl-C would (SIGTERM: it unregisters the socket, its tap goes); killed if it must be. */
    @Override
    public void close() {
        try {
            testpmd.stop();
        } catch (IOException e) {
            log.debug("the DPDK back-end printed no totals: {}", e.getMessage());
        }
    }
}
