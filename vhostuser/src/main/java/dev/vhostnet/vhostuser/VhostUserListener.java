package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.UnixListener;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Server mode (QEMU's {@code -chardev socket,server=on}): this process listens on a Unix socket and
 * the back-end connects (DPDK's vhost PMD with {@code client=1}). Owns the listening socket; a stale
 * socket file at the path is replaced, and the file is removed on {@link #close}. Each
 * {@link #accept} takes one back-end, so after a back-end restarts the next one is accepted here.
 */
public final class VhostUserListener implements VhostUserEndpoint, AutoCloseable {
    /** How often a waiting {@link #open} looks at its {@code cancelled}. */
    static final int ACCEPT_SLICE_MILLIS = 200;

    private final Path path;
    private final Duration replyTimeout;
    private final UnixListener server;

    private VhostUserListener(Path path, Duration replyTimeout, UnixListener server) {
        this.path = path;
        this.replyTimeout = replyTimeout;
        this.server = server;
    }

    /** Listens on {@code path}; replies within {@link VhostUserFrontend#DEFAULT_REPLY_TIMEOUT}. */
    public static VhostUserListener bind(Path path) throws SysException {
        return bind(path, VhostUserFrontend.DEFAULT_REPLY_TIMEOUT);
    }

    /** Listens on {@code path}; a reply not there within {@code replyTimeout} fails its request. Refuses a path that is not a socket. */
    public static VhostUserListener bind(Path path, Duration replyTimeout) throws SysException {
        Preconditions.checkNotNull(replyTimeout, "replyTimeout");
        return new VhostUserListener(path, replyTimeout, ListeningSocket.bind(path, ACCEPT_SLICE_MILLIS));
    }

    @Override
    public Path path() {
        return path;
    }

    /** Waits up to {@code timeout} for a back-end to connect; the connection's protocol negotiated. */
    public VhostUserFrontend accept(Duration timeout) throws SysException {
        return open(timeout, () -> false);
    }

    @Override
    public VhostUserFrontend open(Duration timeout, BooleanSupplier cancelled) throws SysException {
        String call = "accept(" + path + ")";
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (cancelled.getAsBoolean()) {
                throw VhostUserEndpoint.cancelled(call);
            }
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw VhostUserException.timeout(
                        call,
                        String.format(
                                "no vhost-user back-end connected within %d ms — start the back-end as a client of this socket "
                                        + "(DPDK: --vdev net_vhost0,iface=%s,client=1), or, for one that listens, use a VhostUserDialer",
                                timeout.toMillis(), path));
            }
            AFUNIXSocket socket;
            try {
                server.server().setSoTimeout((int) Math.min(left, ACCEPT_SLICE_MILLIS));
                socket = server.server().accept();
            } catch (SocketTimeoutException e) {
                continue;
            } catch (IOException e) {
                if (server.server().isClosed()) {
                    throw VhostUserException.cancelled(call, e.getMessage() + ": the listener is closed");
                }
                throw VhostUserException.disconnected(call, e.getMessage());
            }
            return VhostUserFrontend.init(VhostUserConnection.of(socket, path.toString(), replyTimeout));
        }
    }

    /** Stops listening and removes the socket file; connections already accepted stay open. */
    @Override
    public void close() {
        closeQuietly(server);
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // nothing left to release: the descriptor is gone either way
            }
        }
    }

    @Override
    public String toString() {
        return "vhost-user listener on " + path;
    }
}
