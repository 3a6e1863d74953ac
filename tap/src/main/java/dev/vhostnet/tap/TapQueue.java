package dev.vhostnet.tap;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.sys.TunUapi.Ifreq;

/**
 * One queue of a tap: a {@code /dev/net/tun} fd bound to the tap by {@code TUNSETIFF}
 * (a {@code tun_file} in {@code drivers/net/tun.c}). Owns its fd; the raw number leaves only
 * through {@link #rawFd()}. Opened non-blocking.
 */
public final class TapQueue implements AutoCloseable {
    private final Fd fd;
    private final String tapName;
    private final int index;
    private volatile boolean attached = true;

    private TapQueue(Fd fd, String tapName, int index) {
        this.fd = fd;
        this.tapName = tapName;
        this.index = index;
    }

    /**
     * Opens {@code /dev/net/tun} and binds it to tap {@code name} with {@code TUNSETIFF}
     * ({@code ifr_flags = iffFlags}); the fd is closed again when that fails.
     */
    static TapQueue open(String tunPath, String name, int iffFlags, int index, int queues) throws SysException {
        Fd fd = Tun.open(tunPath);
        try {
            Ifreq ifr = new Ifreq(name).flags(iffFlags);
            fd.ioctl(TunUapi.TUNSETIFF, ifr);
            return new TapQueue(fd, ifr.name(), index);
        } catch (SysException e) {
            fd.close();
            throw TapErrors.at(e, "queue " + index + " of tap " + name, TapErrors.tunSetIff(name, queues));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The kernel's name of the tap (a {@code %d} pattern filled in). */
    public String tapName() {
        return tapName;
    }

    /** This queue's position in its {@link TapDevice}. */
    public int index() {
        return index;
    }

    /** The fd number, to hand to {@code VHOST_NET_SET_BACKEND} or over {@code SCM_RIGHTS}; throws once closed. */
    public int rawFd() {
        return fd.get();
    }

    public boolean isOpen() {
        return fd.isOpen();
    }

    /** Whether the kernel sends frames to this queue (not detached with {@link #detach()}). */
    public boolean isAttached() {
        return attached;
    }

    /**
     * {@code TUNSETQUEUE(IFF_DETACH_QUEUE)}: the kernel stops sending frames to this queue and drops
     * those queued on it. Frames written to it still enter the stack, and device ioctls still work on it.
     */
    public void detach() throws SysException {
        setQueue(TunUapi.IFF_DETACH_QUEUE);
        attached = false;
    }

    /** {@code TUNSETQUEUE(IFF_ATTACH_QUEUE)}: the queue takes traffic again. */
    public void attach() throws SysException {
        setQueue(TunUapi.IFF_ATTACH_QUEUE);
        attached = true;
    }

    private void setQueue(int flag) throws SysException {
        try {
            fd.ioctl(TunUapi.TUNSETQUEUE, new Ifreq().flags(flag));
        } catch (SysException e) {
            throw TapErrors.at(
                    e,
                    where(),
                    errno -> errno == Errno.EINVAL.number()
                            ? "TUNSETQUEUE works on a multiqueue tap only (open it with queues > 1)"
                            : null);
        }
    }

    /** The owned descriptor, to pass to another process ({@code Spawn}, {@code SCM_RIGHTS}). */
    public Fd fd() {
        return fd;
    }

    String where() {
        return "queue " + index + " of tap " + tapName;
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "TapQueue[" + where() + ", " + fd + (attached ? "" : ", detached") + "]";
    }
}
