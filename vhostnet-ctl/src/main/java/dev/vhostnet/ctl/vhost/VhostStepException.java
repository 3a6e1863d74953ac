package dev.vhostnet.ctl.vhost;

import dev.vhostnet.sys.SysException;
import java.io.IOException;

/**
 * A step of a vhost-net bring-up or teardown failed: names the step, the queue and the system
 * call's error, e.g. {@code SET_VRING_ADDR on queue 1 (TX) of pair 0: ioctl ... EINVAL}.
 */
public final class VhostStepException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String step;
    private final String queue;

    VhostStepException(String step, String queue, SysException cause) {
        super(step + " on " + queue + ": " + cause.getMessage(), cause);
        this.step = step;
        this.queue = queue;
    }

    /** The step's name, the vhost request without its prefix ({@code SET_VRING_ADDR}). */
    public String step() {
        return step;
    }

    /** The queue it was for, or the device. */
    public String queue() {
        return queue;
    }

    /** The failed call. */
    public SysException sysException() {
        return (SysException) getCause();
    }
}
