package dev.vhostnet.vhostuser;

import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.sys.SysException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread of {@link VhostUserNetDevice#reconnectOnHangUp}: looks every {@link #POLL_MILLIS} ms
 * whether the running device's back-end hung up and, if so, reconnects it; gives up on the first
 * reconnection that fails, and ends when the device closes.
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
                log.warn("vhost-user back-end on {} hung up; reconnecting (for up to {} ms)", endpoint.path(), timeout.toMillis());
                device.reconnect(endpoint, timeout);
            }
        } catch (SysException e) {
            if (!device.isClosing()) {
                log.warn("giving up reconnecting: {}", e.getMessage());
                device.reconnectFailed(e);
            }
        } catch (VhostStepException e) {
            if (!device.isClosing()) {
                log.warn("giving up reconnecting: {}", e.getMessage());
                device.reconnectFailed(new VhostUserException("reconnect(" + endpoint.path() + ")",
                        e.sysException().errno(), e.getMessage()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            if (!device.isClosing()) {
                log.warn("reconnecting failed", e);
                device.reconnectFailed(new VhostUserException("reconnect(" + endpoint.path() + ")", VhostUserException.EIO,
                        String.valueOf(e.getMessage())));
            }
        }
    }
}
