package dev.vhostnet.ctl.emulated;

import dev.vhostnet.sys.PollUapi;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import java.util.function.Consumer;

/**
 * A descriptor a queue pair watches on its Netty epoll loop (a kick eventfd, a tap queue). Readable
 * goes to {@code onReadable}; {@code EPOLLERR} or {@code EPOLLHUP} to {@code onFailure}, with what
 * happened: epoll reports those whatever was asked for, and level-triggered they come back at
 * every wait until the fd is no longer watched (a deleted tap's {@code tun_chr_poll} reports
 * {@code EPOLLERR} for good). The pair owns the descriptor and closes it; {@link #close()} does not.
 */
final class FdHandle implements EpollIoHandle {
    /** {@code EPOLLHUP} of {@code <sys/epoll.h>}, the bit of {@code POLLHUP}; Netty names no constant for it. */
    static final EpollIoOps EPOLLHUP = EpollIoOps.valueOf(PollUapi.POLLHUP);

    private final FileDescriptor fd;
    private final String name;
    private final Runnable onReadable;
    private final Consumer<String> onFailure;

    /** Watches {@code fd}, called {@code name} in failures ("tap vt0 queue 0"). */
    FdHandle(FileDescriptor fd, String name, Runnable onReadable, Consumer<String> onFailure) {
        this.fd = fd;
        this.name = name;
        this.onReadable = onReadable;
        this.onFailure = onFailure;
    }

    @Override
    public FileDescriptor fd() {
        return fd;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        EpollIoOps ops = ((EpollIoEvent) event).ops();
        boolean err = ops.contains(EpollIoOps.EPOLLERR);
        boolean hup = ops.contains(EPOLLHUP);
        if (err || hup) {
            onFailure.accept(name + " reports " + (err ? hup ? "EPOLLERR|EPOLLHUP" : "EPOLLERR" : "EPOLLHUP"));
        } else {
            onReadable.run();
        }
    }

    @Override
    public void close() {
        // The descriptor belongs to the queue pair, which closes it after the loop let it go.
    }
}
