package dev.vhostnet.ctl;

import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.kernel.VhostNetDevice;
import java.io.IOException;

/** Starts a virtio-net device on the backend a policy picks, or on a given one (to move rings between them). */
public final class NetDevices {
    private NetDevices() {}

    /**
     * Starts {@code config} on the backend {@code policy} chooses for this host: with
     * {@link BackendChoice.Policy#PREFER_KERNEL}, vhost-net where it can be used, else the emulated
     * device, the reason logged (QEMU's {@code vhost=on}).
     */
    public static NetDevice start(NetDeviceConfig config, BackendChoice.Policy policy) throws IOException {
        return start(
                config,
                BackendChoice.choose(policy).kind(),
                VringBases.zero(config.queuePairs().size()));
    }

    /**
     * Starts {@code config} on {@code kind} (the kernel or the emulated device), each vring from its base
     * in {@code bases}.
     */
    public static NetDevice start(NetDeviceConfig config, BackendChoice.Kind kind, VringBases bases)
            throws IOException {
        return switch (kind) {
            case KERNEL -> VhostNetDevice.start(config, bases);
            case EMULATED -> EmulatedNetDevice.start(config, bases);
            case VHOST_USER ->
                throw new IllegalArgumentException(
                        "a vhost-user device starts on its back-end's socket, "
                                + "not from a tap: VhostUserNetDevice.start(VhostUserDialer.of(path).open(...), memory, pairs, features)");
        };
    }
}
