package dev.vhostnet.sys;

/** Constants of {@code <sys/socket.h>}, and {@code <sched.h>}'s namespace type for {@code setns(2)}. */
public final class SocketUapi {
    private SocketUapi() {}

    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int CLONE_NEWNET = 0x40000000;
}
