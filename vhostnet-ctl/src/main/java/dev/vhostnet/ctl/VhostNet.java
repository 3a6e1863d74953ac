package dev.vhostnet.ctl;

import com.sun.jna.Memory;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One vhost-net instance ({@code /dev/vhost-net}, {@code <linux/vhost.h>}): the kernel side of one
 * virtio-net queue pair. Each method issues the ioctl it is named after.
 */
public final class VhostNet implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/vhost-net");

    private final Fd fd;

    private VhostNet(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/vhost-net}; a missing or forbidden device fails with the fix. */
    public static VhostNet open() throws SysException {
        return new VhostNet(Fd.open(DEVICE.toString(), Fcntl.O_RDWR, VhostNet::hint));
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
        try (VhostNet v = open()) {
            return null;
        } catch (SysException e) {
            return e.getMessage();
        }
    }

    /** {@code VHOST_SET_OWNER}: binds the device to this process and starts its worker. */
    public void setOwner() throws SysException {
        fd.ioctl(VhostUapi.VHOST_SET_OWNER);
    }

    /** {@code VHOST_GET_FEATURES}: the virtio and vhost feature bits the device offers. */
    public long getFeatures() throws SysException {
        Memory features = new Memory(8);
        fd.ioctl(VhostUapi.VHOST_GET_FEATURES, features);
        return features.getLong(0);
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
