package dev.vhostnet.vhostuser;

import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread of {@link VhostUserNetDevice#reconnectOnHangUp}: looks every {@link #POLL_MILLIS} ms
 * whether the running device's back-end hung up and, if so, reconnects it. A new back-end that goes
 * away again during the set-up ({@link VhostUserException#shouldReconnect()}) is followed by another
 * attempt within the same time; any other failure, or the time running out, ends the watch. Ends when
 * the device closes.
 */
final class HangUpWatcher implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(HangUpWatcher.class);
    static final long POLL_MILLIS = 50;

    private final VhostUserNetDevice device;
    private final VhostUserEndpoint endpoint;
    private final Duration timeout;

    HangUpWatcher(VhostUserNetDevice device, VhostUserEndpoint endpoint, Duration timeout) {
        this.device = device;
        this.endpoint = endpoint;
        this.timeout = timeout;
    }

    @Override
    public void run() {
        try {
            while (!device.isClosing()) {
                Thread.sleep(POLL_MILLIS);
                if (device.isClosing() || !device.hasLostBackEnd()) {
                    continue;
                }
                log.warn(
                        "vhost-user back-end on {} hung up; reconnecting (for up to {} ms)",
                        endpoint.path(),
                        timeout.toMillis());
                SysException failure = reconnect();
                if (failure != null) {
                    if (!device.isClosing()) {
                        log.warn("giving up reconnecting: {}", failure.getMessage());
                        device.reconnectFailed(failure);
                    }
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Reconnects, again while the failure says so and time is left; the failure given up on, or null. */
    private SysException reconnect() {
        String call = "reconnect(" + endpoint.path() + ")";
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            SysException failure;
            try {
                device.reconnect(endpoint, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
                return null;
            } catch (VhostStepException e) {
                SysException cause = e.sysException();
                failure = cause instanceof VhostUserException v
                        ? v.during(call, e.getMessage())
                        : new SysException(call, cause.errno(), e.getMessage());
            } catch (SysException e) {
                failure = e;
            } catch (RuntimeException e) {
                log.warn("reconnecting failed", e);
                return new SysException(call, Errno.EIO.number(), String.valueOf(e.getMessage()));
            }
            if (device.isClosing()
                    || !(failure instanceof VhostUserException v && v.shouldReconnect())
                    || System.nanoTime() >= deadline) {
                return failure;
            }
            log.warn(
                    "the new back-end on {} went away during the set-up ({}); reconnecting again",
                    endpoint.path(),
                    failure.getMessage());
        }
    }
}
