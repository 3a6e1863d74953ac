package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.tap.TapStatistics;
import java.util.Optional;

/**
 * What a {@link NetDevice} has moved and refused, read at one moment ({@link NetDevice#counters()}):
 * per queue pair as the device counts it, and the tap's own statistics. Directions are virtio-net's,
 * the guest's view: RX is to the guest, TX from it (Firecracker's {@code NetDeviceMetrics}, Cloud
 * Hypervisor's {@code VirtioDevice::counters}). Counters are cumulative over the device's life,
 * across stops and restarts.
 *
 * <p>Who can count what: the emulated backend moves every frame itself and counts them all. The
 * kernel's vhost-net worker keeps no counters it exposes (Linux 6.1: no ioctl or sysfs file for
 * them), so a {@link dev.vhostnet.ctl.kernel.VhostNetDevice} has no per-pair traffic, only the vring
 * errors the worker signals on the err eventfds — its traffic is the tap's ({@link #tap()}). A
 * vhost-user front-end has neither: the back-end process moves and counts the frames, and
 * vhost-user has no request to read them.
 *
 * @param backend which backend counted
 * @param pairs one entry per queue pair, in pair order
 * @param tap the tap's statistics, from the host's side of it; empty where the device has no tap
 *     (vhost-user front-end) or it is gone from this network namespace
 */
public record NetDeviceCounters(BackendChoice.Kind backend, ImmutableList<Pair> pairs, Optional<TapStatistics> tap) {
    public NetDeviceCounters {
        Preconditions.checkNotNull(backend, "backend");
        pairs = ImmutableList.copyOf(pairs);
        Preconditions.checkNotNull(tap, "tap");
    }

    /** Every pair's counters added up. */
    public Pair totals() {
        Pair sum = Pair.NONE;
        for (Pair p : pairs) {
            sum = sum.plus(p);
        }
        return sum;
    }

    /**
     * Frames, their bytes (the Ethernet frame, without the virtio-net header) and frames dropped,
     * in one direction.
     */
    public record Traffic(long packets, long bytes, long dropped) {
        public static final Traffic ZERO = new Traffic(0, 0, 0);

        public Traffic plus(Traffic other) {
            return new Traffic(packets + other.packets, bytes + other.bytes, dropped + other.dropped);
        }

        /** What was counted since {@code earlier}: for a rate over a window. */
        public Traffic minus(Traffic earlier) {
            return new Traffic(packets - earlier.packets, bytes - earlier.bytes, dropped - earlier.dropped);
        }
    }

    /**
     * One queue pair.
     *
     * @param rx frames to the guest: delivered into its RX buffers, or dropped (no usable buffer, or
     *     held when the rings moved to another backend); empty where this process does not move them
     * @param tx frames from the guest: written to the tap, or dropped (refused, or the tap's write
     *     failed); empty likewise
     * @param guestViolations ring rules the driver broke ({@code ctl.device.Violation}, each with its
     *     own counter in {@code QueueCounters}): each marks its queue broken until a reset
     * @param refusals chains the device could not use although the ring rules hold: a TX chain
     *     shorter than the virtio-net header, longer than 64 KiB or with device-writable buffers; RX
     *     buffers that cannot take the frame. Each also drops its frame (counted in {@code dropped})
     * @param vringErrors errors reported on a vring of the pair: a vhost-net err eventfd signal, or
     *     (emulated) a queue the driver broke or an fd that failed, once per start — what
     *     {@link dev.vhostnet.ctl.vhost.VringErrorListener} is told
     */
    public record Pair(
            Optional<Traffic> rx, Optional<Traffic> tx, long guestViolations, long refusals, long vringErrors) {
        /** No traffic counted, nothing refused. */
        public static final Pair NONE = new Pair(Optional.empty(), Optional.empty(), 0, 0, 0);

        public Pair {
            Preconditions.checkNotNull(rx, "rx");
            Preconditions.checkNotNull(tx, "tx");
        }

        /** Both pairs' counters added; traffic counted by either is counted in the sum. */
        public Pair plus(Pair other) {
            return new Pair(
                    add(rx, other.rx),
                    add(tx, other.tx),
                    guestViolations + other.guestViolations,
                    refusals + other.refusals,
                    vringErrors + other.vringErrors);
        }

        private static Optional<Traffic> add(Optional<Traffic> a, Optional<Traffic> b) {
            if (a.isEmpty()) {
                return b;
            }
            return Optional.of(a.get().plus(b.orElse(Traffic.ZERO)));
        }
    }
}
