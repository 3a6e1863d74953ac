package dev.vhostnet.ctl.vhost;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.util.OptionalLong;

/**
 * Where a vring's three parts are, as addresses of this process ({@code struct vhost_vring_addr}'s
 * {@code desc_user_addr}, {@code used_user_addr}, {@code avail_user_addr}), and, when the vring's
 * writes are logged, the used ring's guest-physical address ({@code log_guest_addr} with
 * {@code VHOST_VRING_F_LOG}).
 */
public record VringAddress(long desc, long used, long avail, OptionalLong logGuestAddress) {
    public VringAddress {
        Preconditions.checkNotNull(logGuestAddress, "logGuestAddress");
    }

    /**
     * {@code ring}'s parts translated through {@code memory} (each must lie inside one region), with
     * the used ring's guest address as log address when {@code log}.
     */
    public static VringAddress of(VringLayout ring, MemoryTable memory, boolean log) {
        int n = ring.size();
        return new VringAddress(
                memory.translate(ring.descGpa(), VringLayout.descBytes(n)),
                memory.translate(ring.usedGpa(), VringLayout.usedBytes(n)),
                memory.translate(ring.availGpa(), VringLayout.availBytes(n)),
                log ? OptionalLong.of(ring.usedGpa()) : OptionalLong.empty());
    }

    /** Whether the vring's used-ring writes go to the dirty log. */
    public boolean logged() {
        return logGuestAddress.isPresent();
    }
}
