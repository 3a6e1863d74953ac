package dev.vhostnet.tap;

import com.sun.jna.ptr.IntByReference;
import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;

/**
 * The tun clone device, {@code /dev/net/tun}: whether this process can make taps, and which
 * {@code IFF_*} flags the kernel supports ({@code TUNGETFEATURES}). Availability is probed once,
 * in the style of Netty's {@code Epoll.ensureAvailability}.
 */
public final class Tun {
    /** The clone device every tap queue is opened from. */
    public static final String PATH = "/dev/net/tun";
    /** The flags a tap of this library needs at least. */
    static final int REQUIRED = TunUapi.IFF_TAP | TunUapi.IFF_NO_PI;

    private Tun() {}

    /** The {@code IFF_*} flags {@code TUNSETIFF} accepts on this kernel ({@code TUNGETFEATURES}). */
    public static int features() throws SysException {
        try (Fd tun = open(PATH)) {
            IntByReference features = new IntByReference();
            tun.ioctl(TunUapi.TUNGETFEATURES, features.getPointer());
            return features.getValue();
        }
    }

    /** Whether {@code flag} (an {@code IFF_*} bit) is among {@link #features()}. */
    public static boolean supports(int flag) throws SysException {
        return (features() & flag) == flag;
    }

    /** Whether taps can be made here: {@code /dev/net/tun} opens and supports {@code IFF_TAP|IFF_NO_PI}. */
    public static boolean isAvailable() {
        return Probe.CAUSE == null;
    }

    /** Why taps cannot be made here (with the fix in its message), or {@code null} when they can. */
    public static Throwable unavailabilityCause() {
        return Probe.CAUSE;
    }

    /** Throws {@link IllegalStateException} with the cause when taps cannot be made here. */
    public static void ensureAvailability() {
        if (Probe.CAUSE != null) {
            throw new IllegalStateException("tap devices are unavailable: " + Probe.CAUSE.getMessage(), Probe.CAUSE);
        }
    }

    /** Opens a tun fd (non-blocking, close-on-exec) from {@code path}; the hint says how to get the device. */
    static Fd open(String path) throws SysException {
        return Fd.open(path, Fcntl.O_RDWR | Fcntl.O_NONBLOCK, TapErrors.OPEN_TUN);
    }

    private static final class Probe {
        static final Throwable CAUSE = probe();

        private static Throwable probe() {
            try {
                int features = features();
                if ((features & REQUIRED) != REQUIRED) {
                    return new IllegalStateException(
                            "the kernel's tun driver lacks IFF_TAP|IFF_NO_PI (TUNGETFEATURES = 0x"
                                    + Integer.toHexString(features) + ")");
                }
                return null;
            } catch (SysException | RuntimeException e) {
                return e;
            }
        }
    }
}
