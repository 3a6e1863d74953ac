package dev.vhostnet.virtio;

import java.util.List;

/**
 * The device side of a virtio device, as a transport drives it (rust-vmm's {@code VirtioDevice},
 * QEMU's {@code VirtioDeviceClass}). The transport owns everything the driver writes — status,
 * feature pages, queue registers, interrupt status — and calls the device only with values it has
 * already checked: features the device offered, config accesses inside {@link #configSize()}, queues
 * validated by {@link QueueConfig}. Calls come from the VMM's exit loop, one at a time.
 */
public interface VirtioDevice {
    /** The virtio device ID ({@code <linux/virtio_ids.h>}: 1 network, 2 block…). */
    int deviceType();

    /** How many virtqueues the device has. */
    int queueCount();

    /** The largest size the driver may give {@code queue} (a power of two, at most 32768). */
    int queueMaxSize(int queue);

    /** The feature bits the device offers; the transport adds {@code VIRTIO_F_VERSION_1}. */
    long deviceFeatures();

    /**
     * Whether the device can serve the driver's choice {@code features} (a subset of what it offered,
     * with {@code VERSION_1}): the virtio 1.x {@code FEATURES_OK} check. A subset it cannot serve
     * (say, a feature that needs another the driver left out) is refused, and the driver sees
     * {@code FEATURES_OK} stay clear.
     */
    default boolean featuresOk(long features) {
        return true;
    }

    /** The negotiated features, once {@link #featuresOk} accepted them. */
    void ackFeatures(long features);

    /** The size of the device configuration space in bytes. */
    int configSize();

    /** Copies {@code data.length} bytes from configuration offset {@code offset}; the transport has checked the bounds. */
    void readConfig(int offset, byte[] data);

    /** A driver write of {@code data} at {@code offset}, bounds checked; read-only bytes are the device's to ignore. */
    void writeConfig(int offset, byte[] data);

    /**
     * {@code DRIVER_OK}: start serving the enabled {@code queues} (ordered by index), kicked and
     * calling through {@code notifiers}. A failure marks the device {@code DEVICE_NEEDS_RESET} and
     * raises a configuration interrupt; nothing is thrown to the guest.
     */
    void activate(List<QueueConfig> queues, Notifiers notifiers) throws Exception;

    /** The driver reset the device: stop using the queues and guest memory, forget the features. */
    void reset();
}
