package dev.vhostnet.sys;

/**
 * {@code <linux/virtio_config.h>}: the device status bits a transport keeps, and the one feature bit
 * every modern (virtio 1.x) transport requires. The rest of the header's feature bits are mirrored
 * beside the ring layout.
 */
public final class VirtioConfigUapi {
    private VirtioConfigUapi() {}

    public static final int VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
    public static final int VIRTIO_CONFIG_S_DRIVER = 2;
    public static final int VIRTIO_CONFIG_S_DRIVER_OK = 4;
    public static final int VIRTIO_CONFIG_S_FEATURES_OK = 8;
    public static final int VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
    public static final int VIRTIO_CONFIG_S_FAILED = 0x80;

    public static final int VIRTIO_F_VERSION_1 = 32;
}
