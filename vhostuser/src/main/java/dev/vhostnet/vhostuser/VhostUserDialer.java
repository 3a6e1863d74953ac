package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import dev.vhostnet.sys.SysException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Client mode: dials a back-end listening on a path, and while nothing accepts (no socket yet, or
 * a stale one left by a back-end that died) dials again with backoff — 50 ms doubling to 500 ms —
 * until the time given runs out.
 */
public final class VhostUserDialer implements VhostUserEndpoint {
    static final long FIRST_RETRY_MILLIS = 50;
    static final long MAX_RETRY_MILLIS = 500;

    private final Path path;
    private final Duration replyTimeout;

    private VhostUserDialer(Path path, Duration replyTimeout) {
        this.path = Preconditions.checkNotNull(path, "path");
        this.replyTimeout = Preconditions.checkNotNull(replyTimeout, "replyTimeout");
    }

    /** Dials {@code path}; replies within {@link VhostUserFrontend#DEFAULT_REPLY_TIMEOUT}. */
    public static VhostUserDialer of(Path path) {
        return of(path, VhostUserFrontend.DEFAULT_REPLY_TIMEOUT);
    }

    /** Dials {@code path}; a reply not there within {@code replyTimeout} fails its request. */
    public static VhostUserDialer of(Path path, Duration replyTimeout) {
        return new VhostUserDialer(path, replyTimeout);
    }

    @Override
    public Path path() {
        return path;
    }

    /** Dials until a back-end accepts; a back-end that accepts but breaks the protocol fails at once. */
    @Override
    public VhostUserFrontend open(Duration timeout, BooleanSupplier cancelled) throws SysException {
        String call = "connect(" + path + ")";
        long deadline = System.nanoTime() + timeout.toNanos();
        long delay = FIRST_RETRY_MILLIS;
        int attempts = 0;
        while (true) {
            if (cancelled.getAsBoolean()) {
                throw VhostUserEndpoint.cancelled(call);
            }
            VhostUserConnection connection;
            try {
                attempts++;
                connection = VhostUserConnection.connect(path, replyTimeout);
            } catch (VhostUserException e) {
                if (!e.shouldReconnect()) {
                    throw e;
                }
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw VhostUserException.timeout(
                            call,
                            String.format(
                                    "no vhost-user back-end accepted within %d ms (%d attempts; the last: %s) — start the back-end "
                                            + "listening there (DPDK: --vdev net_vhost0,iface=%s), or, for one that dials in "
                                            + "(client=1), use a VhostUserListener",
                                    timeout.toMillis(), attempts, e.hint(), path));
                }
                sleep(Math.min(delay, left), call);
                delay = Math.min(2 * delay, MAX_RETRY_MILLIS);
                continue;
            }
            return VhostUserFrontend.init(connection);
        }
    }

    private static void sleep(long millis, String call) throws VhostUserException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw VhostUserEndpoint.cancelled(call);
        }
    }

    @Override
    public String toString() {
        return "vhost-user client of " + path;
    }
}
