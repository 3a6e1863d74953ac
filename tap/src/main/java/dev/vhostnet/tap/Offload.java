package dev.vhostnet.tap;

import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.TunUapi;
import java.util.Set;

/**
 * The {@code TUN_F_*} offload flags of {@code <linux/if_tun.h>} a tap can take with
 * {@code TUNSETOFFLOAD}. {@code generation} orders them by age: generation 0 is as old as the
 * ioctl; a kernel that predates a newer generation refuses it with {@code EINVAL}, and the
 * bring-up then drops the newest generation and retries (as QEMU and crosvm do).
 */
public enum Offload {
    /** The tap takes and hands out packets with a partial checksum ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}). */
    CSUM(TunUapi.TUN_F_CSUM, 0),
    /** TCP segmentation offload over IPv4. */
    TSO4(TunUapi.TUN_F_TSO4, 0),
    /** TCP segmentation offload over IPv6. */
    TSO6(TunUapi.TUN_F_TSO6, 0),
    /** TSO with the ECN/CWR bit. */
    TSO_ECN(TunUapi.TUN_F_TSO_ECN, 0),
    /** UDP fragmentation offload (removed in Linux 4.14, accepted and ignored again later). */
    UFO(TunUapi.TUN_F_UFO, 1),
    /**
     * UDP segmentation offload over IPv4 ({@code TUN_F_USO4}, Linux 6.2). The macro is not in the
     * 6.1 headers this project builds against, so its value is written here and not header-checked.
     */
    USO4(0x20, 2),
    /** UDP segmentation offload over IPv6 ({@code TUN_F_USO6}, Linux 6.2); see {@link #USO4}. */
    USO6(0x40, 2);

    private final int flag;
    private final int generation;

    Offload(int flag, int generation) {
        this.flag = flag;
        this.generation = generation;
    }

    /** The {@code TUN_F_*} bit. */
    public int flag() {
        return flag;
    }

    /** 0 for the flags every tap takes; higher for flags newer kernels added. */
    public int generation() {
        return generation;
    }

    /** The {@code TUNSETOFFLOAD} argument for a set of offloads. */
    public static int flags(Set<Offload> offloads) {
        int flags = 0;
        for (Offload o : offloads) {
            flags |= o.flag;
        }
        return flags;
    }

    /** The offloads whose bits are set in {@code flags}. */
    public static ImmutableSet<Offload> fromFlags(int flags) {
        ImmutableSet.Builder<Offload> set = ImmutableSet.builder();
        for (Offload o : values()) {
            if ((flags & o.flag) != 0) {
                set.add(o);
            }
        }
        return set.build();
    }
}
