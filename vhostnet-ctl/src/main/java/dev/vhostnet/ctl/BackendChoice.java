package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.kernel.VhostNet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which datapath a virtio-net device gets, and why: QEMU's {@code vhost=on} (prefer the kernel,
 * fall back to the emulated device, saying why) and {@code vhostforce} (the kernel or an error).
 */
public record BackendChoice(Kind kind, String reason) {
    private static final Logger log = LoggerFactory.getLogger(BackendChoice.class);

    /** The datapaths. A policy chooses between the first two; a vhost-user device is started on its socket. */
    public enum Kind {
        /** vhost-net: the datapath in the host kernel. */
        KERNEL,
        /** The userspace virtio-net device on Netty's epoll loop. */
        EMULATED,
        /** A vhost-user back-end in another process (DPDK, OVS-DPDK) over a Unix socket: module {@code vhostuser}. */
        VHOST_USER
    }

    /** What the user asked for. */
    public enum Policy {
        /** The kernel datapath, or an error naming what is missing (QEMU's {@code vhostforce}). */
        KERNEL,
        /** The kernel datapath where vhost-net can be used, else the emulated one (QEMU's {@code vhost=on}). */
        PREFER_KERNEL,
        /** The emulated datapath, whatever the host offers. */
        EMULATED
    }

    public BackendChoice {
        Preconditions.checkNotNull(kind, "kind");
        Preconditions.checkNotNull(reason, "reason");
    }

    /** Chooses for this host, asking {@link VhostNet#unavailabilityCause()}. */
    public static BackendChoice choose(Policy policy) {
        return choose(policy, VhostNet::unavailabilityCause);
    }

    /**
     * Chooses given why vhost-net cannot be used ({@code null}: it can). A fallback is logged with
     * its reason; {@link Policy#KERNEL} without vhost-net throws with the fix.
     */
    public static BackendChoice choose(Policy policy, Supplier<String> vhostUnavailable) {
        if (policy == Policy.EMULATED) {
            return new BackendChoice(Kind.EMULATED, "the emulated backend was asked for");
        }
        String cause = vhostUnavailable.get();
        if (cause == null) {
            return new BackendChoice(Kind.KERNEL, "vhost-net is available");
        }
        if (policy == Policy.KERNEL) {
            throw new IllegalStateException("the kernel backend was required, but " + cause);
        }
        log.info("vhost-net unavailable, using the emulated backend: {}", cause);
        return new BackendChoice(Kind.EMULATED, cause);
    }
}
