package dev.vhostnet.bench;

import java.io.IOException;

/** One counting window at a tap: the frames its {@code rx_packets} took, and how long it lasted. */
record TapWindow(long packets, long nanos) {
    /**
     * Counts at {@code tap} (sysfs) for {@code config}'s repetition time, or until its packets per
     * repetition have passed, whichever comes first.
     */
    static TapWindow count(String tap, BenchConfig config) throws IOException, InterruptedException {
        long count0 = TapRxPackets.sysfs(tap);
        long t0 = System.nanoTime();
        long deadline = t0 + config.repTime().toNanos();
        long limit = config.packetsPerRep();
        long count1 = count0;
        long t1;
        while ((t1 = System.nanoTime()) < deadline && (limit == 0 || count1 - count0 < limit)) {
            Thread.sleep(limit == 0 ? Math.max(1, (deadline - t1) / 1_000_000) : 1);
            count1 = TapRxPackets.sysfs(tap);
        }
        return new TapWindow(count1 - count0, System.nanoTime() - t0);
    }
}
