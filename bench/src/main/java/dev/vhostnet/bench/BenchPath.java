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
    RAW_C("raw tap (C)");

    private final String label;

    BenchPath(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public boolean isDevice() {
        return this == KERNEL || this == EMULATED;
    }
}
