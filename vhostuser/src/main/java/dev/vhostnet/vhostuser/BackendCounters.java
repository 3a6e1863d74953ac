package dev.vhostnet.vhostuser;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a {@link VhostUserNetBackend} moved over its life, per queue pair: the counters of the device
 * serving now plus those of every device it served before. The back-end starts a new emulated device
 * each time a front-end changes what the rings use, and for each front-end: this sums them, so the
 * counts of a back-end only grow, across front-ends and reconnections.
 */
final class BackendCounters {
    /** A pair before its first device: this back-end counts its traffic, and there was none yet. */
    private static final NetDeviceCounters.Pair NOTHING_YET = new NetDeviceCounters.Pair(
            Optional.of(NetDeviceCounters.Traffic.ZERO), Optional.of(NetDeviceCounters.Traffic.ZERO), 0, 0, 0);

    private final List<NetDeviceCounters.Pair> retired = new ArrayList<>();
    private EmulatedNetDevice current;

    /** {@code device} serves the rings now. */
    synchronized void serving(EmulatedNetDevice device) {
        current = device;
    }

    /** {@code device} was closed: its final counters join the sum. */
    synchronized void closed(EmulatedNetDevice device) {
        add(retired, device.counters().pairs());
        if (current == device) {
            current = null;
        }
    }

    /** Per queue pair, everything counted so far. */
    synchronized ImmutableList<NetDeviceCounters.Pair> pairs() {
        List<NetDeviceCounters.Pair> sum = new ArrayList<>(retired);
        if (current != null) {
            add(sum, current.counters().pairs());
        }
        if (sum.isEmpty()) {
            sum.add(NOTHING_YET);
        }
        return ImmutableList.copyOf(sum);
    }

    private static void add(List<NetDeviceCounters.Pair> sum, List<NetDeviceCounters.Pair> more) {
        for (int p = 0; p < more.size(); p++) {
            if (p < sum.size()) {
                sum.set(p, sum.get(p).plus(more.get(p)));
            } else {
                sum.add(more.get(p));
            }
        }
    }
}
