package dev.vhostnet.bench;

/** The path a cell's packets take between the guest side and the tap. */
public enum BenchPath {
    /** vhost-net: the kernel's worker thread moves packets between the rings and the tap. */
    KERNEL("kernel"),
    /** The userspace device on Netty epoll: rings to a pooled buffer to the tap (the double copy). */
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
