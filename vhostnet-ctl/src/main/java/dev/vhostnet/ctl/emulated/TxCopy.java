package dev.vhostnet.ctl.emulated;

/**
 * How the emulated device moves a transmitted frame from guest memory to the tap. Both check the
 * chain the same way ({@link dev.vhostnet.ctl.device.DeviceQueue}) and count a refused one the same.
 */
public enum TxCopy {
    /**
     * The yardstick: the chain is gathered into a buffer of the device (copy 1), which is written to
     * the tap (copy 2, in the kernel) — the double copy of a userspace device that owns its buffers.
     */
    DOUBLE,
    /**
     * The chain's buffers, as host addresses of guest memory, are written to the tap with one
     * {@code writev(2)} (one buffer with {@code write(2)}: the kernel's copy only), as QEMU's
     * {@code virtio_net_flush_tx} hands the popped iovecs to {@code net/tap.c tap_receive_iov} and
     * Firecracker's {@code net/device.rs} writes its {@code IoVecBuffer}. A chain of more than
     * {@code IOV_MAX} buffers is copied.
     */
    SINGLE;

    /**
     * What a device gets unless told otherwise: the yardstick, which measured as fast at 64 and 1500
     * bytes here and faster for 64 KiB frames in many buffers ({@code docs/BENCHMARKS.md}).
     */
    public static final TxCopy DEFAULT = DOUBLE;
}
