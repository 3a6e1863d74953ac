package dev.vhostnet.ctl.vhost;

import dev.vhostnet.ctl.QueuePair;

/**
 * Told when vhost-net signals a vring's error eventfd ({@code VHOST_SET_VRING_ERR}): the worker met
 * something it could not process — a descriptor outside the memory table, a malformed chain — and
 * stopped that vring until it is reset; or when the emulated device found a vring broken by the
 * driver. The device needs a reset (virtio's {@code DEVICE_NEEDS_RESET}). Called on the device's
 * own thread: do not block it.
 */
@FunctionalInterface
public interface VringErrorListener {
    /** {@code pair} and {@code vring} ({@link QueuePair#RX} or {@link QueuePair#TX}); {@code count} signals since the last call. */
    void onVringError(int pair, int vring, long count);
}
