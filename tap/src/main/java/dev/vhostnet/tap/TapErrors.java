package dev.vhostnet.tap;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.SysException;

/** The advice a failed tap or link call carries: what went wrong in tap terms and what to do. */
final class TapErrors {
    private TapErrors() {}

    static final String PERMISSION =
            "needs CAP_NET_ADMIN, or a persistent tap owned by this user: vhostnet tap create --owner";

    /** For {@code open(/dev/net/tun)}. */
    static final Hint OPEN_TUN = errno -> {
        if (errno == Errno.ENOENT.number() || errno == Errno.ENODEV.number() || errno == Errno.ENXIO.number()) {
            return "no tun device: modprobe tun (in a container, pass /dev/net/tun in or mknod /dev/net/tun c 10 200)";
        }
        if (errno == Errno.EACCES.number() || errno == Errno.EPERM.number()) {
            return "/dev/net/tun is not open to this user: " + PERMISSION;
        }
        return null;
    };

    /** For {@code TUNSETIFF} of {@code name} asking for {@code queues} queues. */
    static Hint tunSetIff(String name, int queues) {
        return errno -> {
            if (errno == Errno.EPERM.number() || errno == Errno.EACCES.number()) {
                return PERMISSION;
            }
            if (errno == Errno.EBUSY.number()) {
                return "tap " + name + " exists and another fd holds its only queue (it is not multiqueue):"
                        + " close that user or choose another name";
            }
            if (errno == Errno.EINVAL.number()) {
                return "an interface named " + name + " exists and does not match: not a tap, or "
                        + (queues > 1
                                ? "a single-queue tap where this asks for " + queues + " queues"
                                : "a multiqueue tap where this asks for one queue")
                        + " (see ip -d link show " + name + "); choose another name";
            }
            if (errno == Errno.E2BIG.number()) {
                return "a tap has at most " + TapConfig.MAX_QUEUES + " queues (MAX_TAP_QUEUES),"
                        + " counting those other fds hold: ask for fewer";
            }
            return null;
        };
    }

    /** For {@code SIOCS*} calls on interface {@code name}. */
    static Hint link(String name) {
        return errno -> {
            if (errno == Errno.EPERM.number() || errno == Errno.EACCES.number()) {
                return "changing link settings needs CAP_NET_ADMIN in the interface's network namespace";
            }
            if (errno == Errno.ENODEV.number()) {
                return "no interface " + name
                        + " in this thread's network namespace: was it moved (ip link set netns)?";
            }
            return null;
        };
    }

    /** For {@code SIOCSIFMTU} of {@code mtu} on {@code name}. */
    static Hint mtu(String name, int mtu) {
        Hint link = link(name);
        return errno -> errno == Errno.EINVAL.number()
                ? "MTU " + mtu + " is outside the range of " + name + ": ip -d link show " + name
                        + " prints its minmtu and maxmtu (a tap's maxmtu is 65521)"
                : link.forErrno(errno);
    }

    /** The failure with where it happened (a queue of a tap) added to the call, and the hint when there is one. */
    static SysException at(SysException e, String where, Hint hint) {
        String advice = hint.forErrno(e.errno());
        SysException out =
                new SysException(e.call() + " (" + where + ")", e.errno(), advice != null ? advice : e.hint());
        out.initCause(e);
        return out;
    }
}
