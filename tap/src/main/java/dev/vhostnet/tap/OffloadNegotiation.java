package dev.vhostnet.tap;

import com.google.common.collect.ImmutableSet;
import com.google.common.collect.Sets;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import java.util.EnumSet;
import java.util.Set;

/**
 * The offload policy: ask for every wanted offload with {@code TUNSETOFFLOAD}; while the kernel
 * answers {@code EINVAL}, drop the newest generation still asked for ({@link Offload#generation()}:
 * USO, then UFO) and ask again. Generation 0 refused, or any other errno, is an error.
 */
final class OffloadNegotiation {
    private OffloadNegotiation() {}

    /** Issues {@code TUNSETOFFLOAD} with these {@code TUN_F_*} flags. */
    @FunctionalInterface
    interface Setter {
        void setOffload(int flags) throws SysException;
    }

    /** What the kernel took, and what was asked for but dropped. */
    record Result(ImmutableSet<Offload> accepted, ImmutableSet<Offload> refused) {}

    static Result negotiate(Set<Offload> wanted, Setter setter) throws SysException {
        Set<Offload> asking = EnumSet.noneOf(Offload.class);
        asking.addAll(wanted);
        while (true) {
            try {
                setter.setOffload(Offload.flags(asking));
                return new Result(ImmutableSet.copyOf(asking), ImmutableSet.copyOf(Sets.difference(wanted, asking)));
            } catch (SysException e) {
                int newest = asking.stream().mapToInt(Offload::generation).max().orElse(0);
                if (!e.is(Errno.EINVAL) || newest == 0) {
                    throw e.withHint("the kernel refused offloads " + asking
                            + (asking.equals(wanted)
                                    ? ""
                                    : " (after dropping " + Sets.difference(wanted, asking) + ")"));
                }
                asking.removeIf(o -> o.generation() == newest);
            }
        }
    }
}
