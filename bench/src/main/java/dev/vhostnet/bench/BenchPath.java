package dev.vhostnet.bench;

/** The path a cell's packets take between the guest side and the tap. */
public enum BenchPath {
    /** vhost-net: the kernel's worker thread moves packets between the rings and the tap. */
    KERNEL("kernel"),
    /**
     * The userspace device on Netty epoll: TX from the rings to the tap through a buffer of its own
     * (the double copy) or with one {@code writev} of the guest's buffers, as the run's
     * {@link BenchConfig#txCopy()} says; RX through its buffer.
     */
    EMULATED("emulated"),
    /** Ceiling: the tap fd written/read directly from Java (Netty's FileDescriptor), no virtqueue. */
    RAW_JAVA("raw tap (Java)"),
    /** Ceiling: the same loop in C, compiled with gcc at bench time. */
    RAW_C("raw tap (C)"),
    /**
     * vhost-user, TX only: this project's back-end ({@code VhostUserNetBackend}, the emulated device
     * served over a socket) in this process, fed by DPDK's virtio-user, into a tap ({@link VhostUserPeers}).
     */
    VHOST_USER("vhost-user: vhostnet"),
    /**
     * vhost-user, TX only: DPDK's vhost library as the back-end ({@code dpdk-testpmd}'s {@code net_vhost}
     * io-forwarding into {@code net_tap}), fed the same way: the C peer of {@link #VHOST_USER}.
     */
    VHOST_USER_DPDK("vhost-user: DPDK"),
    /**
     * vhost-net, TX only, DPDK's virtio-user as the driver ({@code net_virtio_user} on {@code
     * /dev/vhost-net}, testpmd's {@code txonly}), counted at its tap: the C peer of this project's
     * driver on {@link #KERNEL} ({@link VirtioUserKernel}).
     */
    KERNEL_VIRTIO_USER("DPDK virtio-user on vhost-net");

    private final String label;

    BenchPath(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** A virtio-net device whose CPU the bench measures apart from the driver's: the backends, and vhost-net under DPDK's driver. */
    public boolean isDevice() {
        return this == KERNEL || this == EMULATED || this == KERNEL_VIRTIO_USER;
    }

    /** A vhost-user back-end fed by DPDK's virtio-user and counted at the tap, measured apart from the rest. */
    public boolean isVhostUserPeer() {
        return this == VHOST_USER || this == VHOST_USER_DPDK;
    }
}
