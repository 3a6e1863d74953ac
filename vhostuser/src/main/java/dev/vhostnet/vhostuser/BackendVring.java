package dev.vhostnet.vhostuser;

import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;

/**
 * What the front-end has told this back-end of one vring so far: size, ring addresses (in the
 * front-end's address space), base, kick, call and error eventfds, and whether it is started (by a
 * kick, until {@code GET_VRING_BASE} stops it) and enabled ({@code SET_VRING_ENABLE}). Owns its
 * eventfds. Used on the connection's thread only.
 */
final class BackendVring implements AutoCloseable {
    final int index;
    int num;
    FrontendRequest.VringAddress address;
    int base;
    EventFd kick;
    EventFd call;
    EventFd err;
    boolean started;
    boolean enabled;

    BackendVring(int index) {
        this.index = index;
    }

    /** Whether the device may run this vring: described, kicked, with a call fd, enabled. */
    boolean ready() {
        return num > 0 && address != null && kick != null && call != null && started && enabled;
    }

    /** The rings in guest-physical addresses of {@code memory}. */
    VringLayout layout(FrontendMemory memory) {
        String ring = "vring " + index;
        return new VringLayout(
                num,
                memory.toGuestPhysical(address.desc(), VringLayout.descBytes(num), ring + "'s descriptor table"),
                memory.toGuestPhysical(address.avail(), VringLayout.availBytes(num), ring + "'s available ring"),
                memory.toGuestPhysical(address.used(), VringLayout.usedBytes(num), ring + "'s used ring"));
    }

    void setKick(EventFd fd) {
        close(kick);
        kick = fd;
    }

    void setCall(EventFd fd) {
        close(call);
        call = fd;
    }

    void setErr(EventFd fd) {
        close(err);
        err = fd;
    }

    private static void close(EventFd fd) {
        if (fd != null) {
            fd.close();
        }
    }

    @Override
    public void close() {
        setKick(null);
        setCall(null);
        setErr(null);
    }
}
