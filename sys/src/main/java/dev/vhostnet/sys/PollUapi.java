package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code <poll.h>}: the events {@link Fd#poll} waits for, and {@code struct pollfd}. */
public final class PollUapi {
    private PollUapi() {}

    public static final int POLLIN = 0x001;
    public static final int POLLOUT = 0x004;
    public static final int POLLERR = 0x008;
    public static final int POLLHUP = 0x010;

    @CExpr("offsetof(struct pollfd, events)")
    public static final int POLLFD_EVENTS = 4;

    @CExpr("offsetof(struct pollfd, revents)")
    public static final int POLLFD_REVENTS = 6;

    /** {@code struct pollfd}: one descriptor, the events asked for and those that happened. */
    @CExpr("struct pollfd")
    @FieldOrder({"fd", "events", "revents"})
    public static final class PollFd extends Structure {
        public static final int SIZE = 8;
        public int fd;
        public short events;
        public short revents;

        public PollFd() {}

        public PollFd(int fd, int events) {
            this.fd = fd;
            this.events = (short) events;
        }
    }
}
