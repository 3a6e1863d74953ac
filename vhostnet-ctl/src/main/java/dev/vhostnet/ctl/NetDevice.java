package dev.vhostnet.ctl;

import dev.vhostnet.ctl.kernel.VhostNetDevice;

/**
 * A running virtio-net device, whichever backend moves its packets: the kernel's vhost-net
 * ({@link VhostNetDevice}), the emulated device in this process, or a vhost-user back-end in another
 * process ({@code dev.vhostnet.vhostuser.VhostUserNetDevice}). The first two take the same
 * {@link NetDeviceConfig}; all stop into {@link VringBases} and start from them — so a device can move from one backend to another under traffic.
 */
public interface NetDevice extends AutoCloseable {
    /**
     * Running: moving packets. Stopped: rings detached, bases saved. Disconnected (vhost-user): the
     * back-end went away, bases saved, the device can reconnect. Closed: resources released.
     */
    enum State {
        RUNNING,
        STOPPED,
        DISCONNECTED,
        CLOSED
    }

    /** Which backend this is. */
    BackendChoice.Kind kind();

    /** The negotiated features: what the driver gets, and the tap's offloads. */
    Features.Negotiated features();

    /** Whether {@code feature} was negotiated. */
    default boolean has(VirtioFeature feature) {
        return features().has(feature);
    }

    /**
     * Stops moving packets and returns each vring's next available index, what
     * {@code VHOST_GET_VRING_BASE} returns: another backend can start from them.
     */
    VringBases stop() throws java.io.IOException;

    /** Moves packets again from the bases {@link #stop()} saved. */
    void restart() throws java.io.IOException;

    /**
     * Moves packets on the first {@code count} queue pairs only; the others stop where they are and
     * take no traffic (their tap queues detached), and resume from there when enabled again — what
     * virtio-net's {@code VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET} asks of a running device (QEMU's
     * {@code virtio_net_set_queue_pairs}). A device starts with every pair enabled; a stop and
     * restart keeps the choice.
     */
    void enablePairs(int count) throws java.io.IOException;

    /** How many queue pairs move packets: all of them, unless {@link #enablePairs} said fewer. */
    int enabledPairs();

    State state();

    /** The bases saved at the last stop, or given at start. */
    VringBases bases();

    /**
     * What the device has moved and refused so far, and its tap's statistics: a snapshot, cheap
     * to take (no call into the data path's thread), from any thread, also after {@link #close()}.
     * What each backend can count: {@link NetDeviceCounters}.
     */
    NetDeviceCounters counters();

    /** Stops if running, then releases what the device opened; the tap, memory and eventfds stay the caller's. */
    @Override
    void close();
}
