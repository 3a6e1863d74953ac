package dev.vhostnet.sys;

/**
 * {@code <linux/virtio_mmio.h>}: the register offsets of a virtio-mmio device (version 2, the
 * non-legacy layout) and its interrupt status bits. Every register is 32 bits wide; the device
 * configuration space starts at {@link #VIRTIO_MMIO_CONFIG}.
 */
public final class VirtioMmioUapi {
    private VirtioMmioUapi() {}

    public static final int VIRTIO_MMIO_MAGIC_VALUE = 0x000;
    public static final int VIRTIO_MMIO_VERSION = 0x004;
    public static final int VIRTIO_MMIO_DEVICE_ID = 0x008;
    public static final int VIRTIO_MMIO_VENDOR_ID = 0x00c;
    public static final int VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
    public static final int VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
    public static final int VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
    public static final int VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
    /** Legacy (version 1) only: refused by a version 2 device. */
    public static final int VIRTIO_MMIO_GUEST_PAGE_SIZE = 0x028;

    public static final int VIRTIO_MMIO_QUEUE_SEL = 0x030;
    public static final int VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
    public static final int VIRTIO_MMIO_QUEUE_NUM = 0x038;
    /** Legacy (version 1) only. */
    public static final int VIRTIO_MMIO_QUEUE_ALIGN = 0x03c;
    /** Legacy (version 1) only. */
    public static final int VIRTIO_MMIO_QUEUE_PFN = 0x040;

    public static final int VIRTIO_MMIO_QUEUE_READY = 0x044;
    public static final int VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
    public static final int VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
    public static final int VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
    public static final int VIRTIO_MMIO_STATUS = 0x070;
    public static final int VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
    public static final int VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
    public static final int VIRTIO_MMIO_QUEUE_AVAIL_LOW = 0x090;
    public static final int VIRTIO_MMIO_QUEUE_AVAIL_HIGH = 0x094;
    public static final int VIRTIO_MMIO_QUEUE_USED_LOW = 0x0a0;
    public static final int VIRTIO_MMIO_QUEUE_USED_HIGH = 0x0a4;
    public static final int VIRTIO_MMIO_SHM_SEL = 0x0ac;
    public static final int VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
    public static final int VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
    public static final int VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
    public static final int VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
    public static final int VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
    public static final int VIRTIO_MMIO_CONFIG = 0x100;

    public static final int VIRTIO_MMIO_INT_VRING = 1 << 0;
    public static final int VIRTIO_MMIO_INT_CONFIG = 1 << 1;

    /** What {@link #VIRTIO_MMIO_MAGIC_VALUE} reads: "virt", as Linux's {@code virtio_mmio.c} checks it. */
    @CExpr("('v' | 'i' << 8 | 'r' << 16 | 't' << 24)")
    public static final int MAGIC = 0x74726976;
}
