package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * What a {@link VhostUserNetBackend} moved over its life, per queue pair it offers: the counters of
 * the device serving now plus those of every device it served before. The back-end starts a new
 * emulated device each time a front-end changes what the rings use, enables more or fewer pairs, and
 * for each front-end: this sums them, pair by pair, so the counts of a back-end only grow, across
 * front-ends and reconnections. The one count of a back-end's traffic: {@code vhostnet status} and
 * the tests read it.
 */
final class BackendCounters {
    /** A pair no device served yet: this back-end counts its traffic, and there was none. */
    private static final NetDeviceCounters.Pair NOTHING_YET = new NetDeviceCounters.Pair(
            Optional.of(NetDeviceCounters.Traffic.ZERO), Optional.of(NetDeviceCounters.Traffic.ZERO), 0, 0, 0);

    /** Per pair offered, what the devices that have stopped counted. */
    private final List<NetDeviceCounters.Pair> retired;

    private EmulatedNetDevice current;

    /** Counters for a back-end offering {@code queuePairs} pairs. */
    BackendCounters(int queuePairs) {
        Preconditions.checkArgument(queuePairs > 0, "queue pairs: %s", queuePairs);
        retired = new ArrayList<>(Collections.nCopies(queuePairs, NOTHING_YET));
    }

    /** The queue pairs counted: those the back-end offers. */
    int queuePairs() {
        return retired.size();
    }

    /** {@code device} serves the leading pairs now. */
    synchronized void serving(EmulatedNetDevice device) {
        current = device;
    }

    /** {@code device} was stopped: its final counters join the sum. */
    synchronized void closed(EmulatedNetDevice device) {
        add(retired, device.counters().pairs());
        if (current == device) {
            current = null;
        }
    }

    /** Per queue pair offered, everything counted so far. */
    synchronized ImmutableList<NetDeviceCounters.Pair> pairs() {
        List<NetDeviceCounters.Pair> sum = new ArrayList<>(retired);
        if (current != null) {
            add(sum, current.counters().pairs());
        }
        return ImmutableList.copyOf(sum);
    }

    /** Adds {@code more}, a device's pairs (the leading ones), to {@code sum}. */
    private static void add(List<NetDeviceCounters.Pair> sum, List<NetDeviceCounters.Pair> more) {
        Preconditions.checkState(
                more.size() <= sum.size(), "a device on %s queue pairs; %s offered", more.size(), sum.size());
        for (int p = 0; p < more.size(); p++) {
            sum.set(p, sum.get(p).plus(more.get(p)));
        }
    }
}
