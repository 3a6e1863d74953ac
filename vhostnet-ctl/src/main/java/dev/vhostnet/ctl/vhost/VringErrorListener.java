package dev.vhostnet.ctl.vhost;

import dev.vhostnet.ctl.QueuePair;

/**
 * Told when vhost-net signals a vring's error eventfd ({@code VHOST_SET_VRING_ERR}): the worker met
 * something it could not process — a descriptor outside the memory table, a malformed chain — and
 * stopped that vring until it is reset.
 */
@FunctionalInterface
public interface VringErrorListener {
    /** {@code pair} and {@code vring} ({@link QueuePair#RX} or {@link QueuePair#TX}); {@code count} signals since the last call. */
    void onVringError(int pair, int vring, long count);
}
