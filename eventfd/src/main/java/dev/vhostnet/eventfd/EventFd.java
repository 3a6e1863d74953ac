package dev.vhostnet.eventfd;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.EventfdUapi;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.PollUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import java.util.EnumSet;
import java.util.Set;

/**
 * An {@code eventfd(2)} counter ({@code <sys/eventfd.h>}): the kick, call and error notifiers of a
 * vring, and the fd KVM signals for an ioeventfd or reads for an irqfd.
 */
public final class EventFd implements AutoCloseable {
    /** Creation flags. */
    public enum Flag {
        /** {@code EFD_NONBLOCK}: a read of a zero counter returns 0 instead of blocking. */
        NONBLOCK(EventfdUapi.EFD_NONBLOCK),
        /** {@code EFD_SEMAPHORE}: a read takes 1 from the counter instead of all of it. */
        SEMAPHORE(EventfdUapi.EFD_SEMAPHORE),
        /** {@code EFD_CLOEXEC}: not inherited by a program this process executes. */
        CLOEXEC(EventfdUapi.EFD_CLOEXEC);

        private final int bits;

        Flag(int bits) {
            this.bits = bits;
        }
    }

    private final Fd fd;
    private final boolean nonBlocking;

    private EventFd(Fd fd, boolean nonBlocking) {
        this.fd = fd;
        this.nonBlocking = nonBlocking;
    }

    /** A non-blocking, close-on-exec eventfd: what vhost and KVM notifiers use. */
    public static EventFd create() throws SysException {
        return create(EnumSet.of(Flag.NONBLOCK, Flag.CLOEXEC));
    }

    public static EventFd create(Set<Flag> flags) throws SysException {
        int bits = 0;
        for (Flag f : flags) {
            bits |= f.bits;
        }
        return new EventFd(Syscalls.eventfd(0, bits), flags.contains(Flag.NONBLOCK));
    }

    /**
     * Takes an eventfd another process made and passed here (a vhost-user front-end's kick or call
     * notifier); closing this closes {@code fd}.
     */
    public static EventFd adopt(Fd fd) throws SysException {
        return new EventFd(fd, fd.isNonBlocking());
    }

    /** Adds 1 to the counter, waking a reader (or the kernel side listening). */
    public void signal() throws SysException {
        signal(1);
    }

    /** Adds {@code n} to the counter. */
    public void signal(long n) throws SysException {
        fd.writeU64(n);
    }

    /**
     * Reads the counter and resets it (in semaphore mode: takes 1). A non-blocking eventfd
     * returns 0 when nothing was signalled; a blocking one waits.
     */
    public long read() throws SysException {
        try {
            return fd.readU64();
        } catch (SysException e) {
            if (nonBlocking && e.is(Errno.EAGAIN)) {
                return 0;
            }
            throw e;
        }
    }

    /** Waits up to {@code timeoutMillis} for a signal; returns the counter read, 0 on timeout. */
    public long await(int timeoutMillis) throws SysException {
        return fd.poll(PollUapi.POLLIN, timeoutMillis) == 0 ? 0 : read();
    }

    /** Takes everything signalled so far without waiting; returns the total (0 if none). */
    public long drain() throws SysException {
        long total = 0;
        while (fd.poll(PollUapi.POLLIN, 0) != 0) {
            total += read();
        }
        return total;
    }

    /** The descriptor, to hand to KVM or vhost. */
    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
