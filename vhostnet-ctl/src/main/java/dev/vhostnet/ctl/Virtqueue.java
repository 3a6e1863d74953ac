package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;

/**
 * One virtqueue as the device is told of it: where its rings are, the eventfd the driver kicks
 * (a KVM ioeventfd in a VMM) and the eventfd the device calls (a KVM irqfd in a VMM).
 */
public record Virtqueue(VringLayout layout, EventFd kick, EventFd call) {
    public Virtqueue {
        Preconditions.checkNotNull(layout, "layout");
        Preconditions.checkNotNull(kick, "kick eventfd");
        Preconditions.checkNotNull(call, "call eventfd");
    }
}
