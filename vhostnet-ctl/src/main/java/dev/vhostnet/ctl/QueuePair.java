package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;

/** The receive and transmit virtqueues of one virtio-net queue pair (vring 0 and 1 of a vhost-net fd). */
public record QueuePair(Virtqueue rx, Virtqueue tx) {
    /** Index of the receive vring in a vhost-net instance. */
    public static final int RX = 0;
    /** Index of the transmit vring. */
    public static final int TX = 1;

    public QueuePair {
        Preconditions.checkNotNull(rx, "rx");
        Preconditions.checkNotNull(tx, "tx");
    }

    /** Vring {@link #RX} or {@link #TX}. */
    public Virtqueue vring(int index) {
        return index == RX ? rx : tx;
    }

    /** "queue 3 (TX) of pair 1": how errors name a vring. */
    public static String describe(int pair, int vring) {
        return String.format("queue %d (%s) of pair %d", pair * 2 + vring, vring == RX ? "RX" : "TX", pair);
    }
}
