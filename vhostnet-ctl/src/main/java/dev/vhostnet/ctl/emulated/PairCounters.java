package dev.vhostnet.ctl.emulated;

import dev.vhostnet.ctl.NetDeviceCounters;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The traffic one {@link EmulatedQueuePair} moved, dropped and refused, as Firecracker's
 * {@code NetDeviceMetrics} counts it. Written only by the pair's loop thread (a plain read and a
 * release write, as {@code QueueCounters}: no lock, no CAS, no allocation), read from any thread.
 */
final class PairCounters {
    private static final int RX_PACKETS = 0;
    private static final int RX_BYTES = 1;
    private static final int RX_DROPPED = 2;
    private static final int TX_PACKETS = 3;
    private static final int TX_BYTES = 4;
    private static final int TX_DROPPED = 5;
    private static final int REFUSALS = 6;
    private static final int VRING_ERRORS = 7;

    private final AtomicLongArray counts = new AtomicLongArray(8);

    private void add(int counter, long n) {
        counts.setRelease(counter, counts.getPlain(counter) + n);
    }

    /** A frame of {@code bytes} (without the virtio-net header) delivered to the guest. */
    void received(long bytes) {
        add(RX_PACKETS, 1);
        add(RX_BYTES, bytes);
    }

    /** A frame of {@code bytes} (without the virtio-net header) written to the tap. */
    void sent(long bytes) {
        add(TX_PACKETS, 1);
        add(TX_BYTES, bytes);
    }

    void rxDropped() {
        add(RX_DROPPED, 1);
    }

    void txDropped() {
        add(TX_DROPPED, 1);
    }

    /** A chain the device could not use: its frame is dropped as well. */
    void refused() {
        add(REFUSALS, 1);
    }

    void vringError() {
        add(VRING_ERRORS, 1);
    }

    long dropped() {
        return counts.getAcquire(RX_DROPPED) + counts.getAcquire(TX_DROPPED);
    }

    /** These counters, with the driver's ring violations on the pair's two queues. */
    NetDeviceCounters.Pair snapshot(long guestViolations) {
        return new NetDeviceCounters.Pair(
                Optional.of(new NetDeviceCounters.Traffic(
                        counts.getAcquire(RX_PACKETS), counts.getAcquire(RX_BYTES), counts.getAcquire(RX_DROPPED))),
                Optional.of(new NetDeviceCounters.Traffic(
                        counts.getAcquire(TX_PACKETS), counts.getAcquire(TX_BYTES), counts.getAcquire(TX_DROPPED))),
                guestViolations,
                counts.getAcquire(REFUSALS),
                counts.getAcquire(VRING_ERRORS));
    }
}
