package dev.vhostnet.ctl.emulated;

import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.unix.FileDescriptor;

/**
 * A descriptor this device watches on its Netty epoll loop (a kick eventfd, a tap queue) — not
 * owned: the eventfd or tap object owns the number, so {@link #close()} leaves it open.
 */
final class FdHandle implements EpollIoHandle {
    private final FileDescriptor fd;
    private final Runnable onReadable;

    FdHandle(FileDescriptor fd, Runnable onReadable) {
        this.fd = fd;
        this.onReadable = onReadable;
    }

    @Override
    public FileDescriptor fd() {
        return fd;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        onReadable.run();
    }

    @Override
    public void close() {
        // The descriptor belongs to its EventFd or TapQueue, which close it.
    }
}
