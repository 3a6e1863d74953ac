package dev.vhostnet.testkit;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code dpdk-testpmd} prints when its forwarding stops (DPDK's {@code app/test-pmd},
 * {@code fwd_stats_display}): the block "Accumulated forward statistics for all ports", summed over
 * its ports for the whole run.
 *
 * @param rxPackets frames its ports received
 * @param rxDropped frames its ports dropped on receive
 * @param txPackets frames its ports sent
 * @param txDropped frames its ports could not send (a full ring: txonly counts them here)
 */
public record TestpmdTotals(long rxPackets, long rxDropped, long txPackets, long txDropped) {
    private static final Pattern ACCUMULATED = Pattern.compile("Accumulated forward statistics for all ports\\+*\\s*"
            + "RX-packets: (\\d{1,18})\\s+RX-dropped: (\\d{1,18})\\s+RX-total: \\d+\\s*"
            + "TX-packets: (\\d{1,18})\\s+TX-dropped: (\\d{1,18})");

    /** The last totals block in {@code output}, or empty when there is none (testpmd killed, or not at its end yet). */
    public static Optional<TestpmdTotals> parse(String output) {
        Matcher m = ACCUMULATED.matcher(output);
        TestpmdTotals last = null;
        while (m.find()) {
            last = new TestpmdTotals(
                    Long.parseLong(m.group(1)),
                    Long.parseLong(m.group(2)),
                    Long.parseLong(m.group(3)),
                    Long.parseLong(m.group(4)));
        }
        return Optional.ofNullable(last);
    }

    /** RX-dropped + TX-dropped. */
    public long dropped() {
        return rxDropped + txDropped;
    }
}
