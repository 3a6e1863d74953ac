package dev.vhostnet.ctl.kernel;

import com.sun.jna.Memory;
import dev.vhostnet.ctl.vhost.VringAddress;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Ioctl;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.sys.VhostUapi.VhostVringAddr;
import dev.vhostnet.sys.VhostUapi.VhostVringFile;
import dev.vhostnet.sys.VhostUapi.VhostVringState;
import dev.vhostnet.tap.TapQueue;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One vhost-net instance ({@code /dev/vhost-net}, {@code <linux/vhost.h>}): the kernel side of one
 * virtio-net queue pair. Each method issues the ioctl it is named after.
 */
public final class VhostNet implements VhostNetBackend {
    public static final Path DEVICE = Path.of("/dev/vhost-net");

    private final Fd fd;

    private VhostNet(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/vhost-net}; a missing or forbidden device fails with the fix. */
    public static VhostNet open() throws SysException {
        return new VhostNet(Fd.open(DEVICE.toString(), Fcntl.O_RDWR, VhostNet::hint));
    }

    /** Adopts a vhost-net fd opened elsewhere (handed over by a privileged broker). */
    public static VhostNet adopt(Fd fd) {
        return new VhostNet(fd);
    }

    private static String hint(int errno) {
        if (errno == Errno.ENOENT.number() || errno == Errno.ENODEV.number() || errno == Errno.ENXIO.number()) {
            return "vhost-net not loaded: modprobe vhost_net (the kernel needs CONFIG_VHOST_NET)";
        }
        if (errno == Errno.EACCES.number() || errno == Errno.EPERM.number()) {
            return "no permission on /dev/vhost-net: run as root, or have a privileged broker pass the fd";
        }
        return null;
    }

    /** Whether {@code /dev/vhost-net} can be opened by this process. */
    public static boolean isAvailable() {
        return unavailabilityCause() == null;
    }

    /** Why vhost-net cannot be used, with the fix; {@code null} when it can. */
    public static String unavailabilityCause() {
        if (!Files.exists(DEVICE)) {
            return "no /dev/vhost-net: " + hint(Errno.ENOENT.number());
        }
        try {
            open().close();
            return null;
        } catch (SysException e) {
            return e.getMessage();
        }
    }

    @Override
    public void setOwner() throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_OWNER);
    }

    @Override
    public void resetOwner() throws SysException {
        fd.ioctl(VhostUapi.VHOST_RESET_OWNER);
    }

    @Override
    public long getFeatures() throws SysException {
        return getU64(VhostUapi.VHOST_GET_FEATURES);
    }

    @Override
    public void setFeatures(long features) throws SysException {
        setU64(VhostUapi.VHOST_SET_FEATURES, features);
    }

    @Override
    public long getBackendFeatures() throws SysException {
        return getU64(VhostUapi.VHOST_GET_BACKEND_FEATURES);
    }

    @Override
    public void setBackendFeatures(long features) throws SysException {
        setU64(VhostUapi.VHOST_SET_BACKEND_FEATURES, features);
    }

    @Override
    public void setMemTable(MemoryTable memory) throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_MEM_TABLE, memory.toVhostMemory());
    }

    @Override
    public void setLogBase(long address) throws SysException {
        setU64(VhostUapi.VHOST_SET_LOG_BASE, address);
    }

    @Override
    public void setLogFd(EventFd eventFd) throws SysException {
        Memory value = new Memory(4);
        value.setInt(
                0, eventFd == null ? VhostUapi.VHOST_FILE_UNBIND : eventFd.fd().get());
        fd.ioctl(VhostUapi.VHOST_SET_LOG_FD, value);
    }

    @Override
    public void setVringNum(int index, int num) throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_VRING_NUM, new VhostVringState(index, num));
    }

    @Override
    public void setVringAddr(int index, VringAddress address) throws SysException {
        VhostVringAddr addr = new VhostVringAddr();
        addr.index = index;
        addr.flags = address.logged() ? 1 << VhostUapi.VHOST_VRING_F_LOG : 0;
        addr.desc_user_addr = address.desc();
        addr.used_user_addr = address.used();
        addr.avail_user_addr = address.avail();
        addr.log_guest_addr = address.logGuestAddress().orElse(0);
        fd.ioctl(VhostUapi.VHOST_SET_VRING_ADDR, addr);
    }

    @Override
    public void setVringBase(int index, int base) throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_VRING_BASE, new VhostVringState(index, base));
    }

    @Override
    public int getVringBase(int index) throws SysException {
        VhostVringState state = new VhostVringState(index, 0);
        fd.ioctl(VhostUapi.VHOST_GET_VRING_BASE, state);
        return state.num;
    }

    @Override
    public void setVringKick(int index, EventFd kick) throws SysException {
        setVringFile(VhostUapi.VHOST_SET_VRING_KICK, index, kick);
    }

    @Override
    public void setVringCall(int index, EventFd call) throws SysException {
        setVringFile(VhostUapi.VHOST_SET_VRING_CALL, index, call);
    }

    @Override
    public void setVringErr(int index, EventFd err) throws SysException {
        setVringFile(VhostUapi.VHOST_SET_VRING_ERR, index, err);
    }

    private void setVringFile(Ioctl request, int index, EventFd eventFd) throws SysException {
        fd.ioctl(
                request,
                new VhostVringFile(
                        index,
                        eventFd == null
                                ? VhostUapi.VHOST_FILE_UNBIND
                                : eventFd.fd().get()));
    }

    @Override
    public void setVringBusyloopTimeout(int index, int micros) throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_VRING_BUSYLOOP_TIMEOUT, new VhostVringState(index, micros));
    }

    @Override
    public int getVringBusyloopTimeout(int index) throws SysException {
        VhostVringState state = new VhostVringState(index, 0);
        fd.ioctl(VhostUapi.VHOST_GET_VRING_BUSYLOOP_TIMEOUT, state);
        return state.num;
    }

    @Override
    public void setVringEndian(int index, boolean bigEndian) throws SysException {
        fd.ioctl(
                VhostUapi.VHOST_SET_VRING_ENDIAN,
                new VhostVringState(
                        index, bigEndian ? VhostUapi.VHOST_VRING_BIG_ENDIAN : VhostUapi.VHOST_VRING_LITTLE_ENDIAN));
    }

    @Override
    public boolean getVringEndian(int index) throws SysException {
        VhostVringState state = new VhostVringState(index, 0);
        fd.ioctl(VhostUapi.VHOST_GET_VRING_ENDIAN, state);
        return state.num == VhostUapi.VHOST_VRING_BIG_ENDIAN;
    }

    @Override
    public void setBackend(int index, TapQueue queue) throws SysException {
        fd.ioctl(
                VhostUapi.VHOST_NET_SET_BACKEND,
                new VhostVringFile(index, queue.fd().get()));
    }

    @Override
    public void removeBackend(int index) throws SysException {
        fd.ioctl(VhostUapi.VHOST_NET_SET_BACKEND, new VhostVringFile(index, VhostUapi.VHOST_FILE_UNBIND));
    }

    private long getU64(Ioctl request) throws SysException {
        Memory value = new Memory(8);
        fd.ioctl(request, value);
        return value.getLong(0);
    }

    private void setU64(Ioctl request, long v) throws SysException {
        Memory value = new Memory(8);
        value.setLong(0, v);
        fd.ioctl(request, value);
    }

    /** The descriptor, to pass to another process or to a VMM that drives it itself. */
    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
