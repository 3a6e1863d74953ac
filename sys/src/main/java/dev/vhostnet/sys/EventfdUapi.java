package dev.vhostnet.sys;

/** Flags of {@code <sys/eventfd.h>}. */
public final class EventfdUapi {
    private EventfdUapi() {}

    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
}
