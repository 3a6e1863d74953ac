package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.UnixListener;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapStatistics;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process as a vhost-user back-end: the emulated virtio-net device served to a front-end (QEMU's
 * {@code -netdev vhost-user}, or this library's {@link VhostUserNetDevice}) over a Unix socket, moving
 * packets between the front-end's guest memory and a tap — what DPDK's vhost library and OVS-DPDK
 * do. One queue pair.
 *
 * <p>It listens on the socket and serves one front-end at a time on a thread of its own; a second
 * one that connects meanwhile waits up to the patience for the first to end (a front-end that
 * reconnects at once may come before its old connection is torn down), then is refused (its
 * connection closed, the reason kept) rather than left waiting for replies that would not come. When the front-end goes, or breaks the protocol (a
 * malformed request, a wrong size, fds missing or surplus, memory that does not map, silence before
 * its first request or in the middle of one), its connection is dropped with the reason logged and
 * kept ({@link #drops()}), everything it brought is closed, and the next front-end is served — so
 * QEMU can reconnect. The offer: the emulated device's ring features, the net offloads the tap takes, and
 * {@code VHOST_USER_F_PROTOCOL_FEATURES} with {@code MQ} and {@code REPLY_ACK}.
 */
public final class VhostUserNetBackend implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VhostUserNetBackend.class);

    /** How often the accepting thread looks whether the back-end was closed (closing a listener under accept() is racy). */
    private static final int ACCEPT_POLL_MILLIS = 100;
    /** How long a front-end may take to send its first request, or the rest of one it began. */
    public static final Duration DEFAULT_PATIENCE = Duration.ofSeconds(10);

    private final Path path;
    private final TapDevice tap;
    private final FeatureSet offer;
    private final UnixListener server;
    private final Duration patience;
    private final Thread thread;
    private final List<String> drops = new ArrayList<>();
    private final BackendCounters counters = new BackendCounters();
    private AFUNIXSocket current;
    private int currentNumber;
    private Thread serving;
    private int connections;
    private boolean running;
    private boolean closed;

    private VhostUserNetBackend(Path path, TapDevice tap, FeatureSet offer, UnixListener server, Duration patience) {
        this.path = path;
        this.tap = tap;
        this.offer = offer;
        this.server = server;
        this.patience = patience;
        this.thread = new Thread(this::accept, "vhost-user-accept " + path.getFileName());
        thread.setDaemon(true);
    }

    /**
     * Listens on {@code socket} (a stale socket file there is replaced, anything else refused) and serves front-ends on {@code tap}: one
     * queue, opened with a vnet header. The tap stays the caller's; close the back-end first.
     */
    public static VhostUserNetBackend listen(Path socket, TapDevice tap) throws SysException {
        return listen(socket, tap, DEFAULT_PATIENCE);
    }

    /** As {@link #listen(Path, TapDevice)}; a front-end silent for {@code patience} before or within a request is dropped. */
    public static VhostUserNetBackend listen(Path socket, TapDevice tap, Duration patience) throws SysException {
        Preconditions.checkArgument(
                !patience.isNegative() && !patience.isZero(), "patience must be positive: %s", patience);
        Preconditions.checkArgument(
                tap.queues().size() == 1,
                "tap %s has %s queues; this back-end serves one queue pair",
                tap.name(),
                tap.queues().size());
        Preconditions.checkArgument(
                tap.config().vnetHeader(),
                "tap %s has no vnet header; open it with vnetHeader(12): the guest's virtio-net header goes to the tap",
                tap.name());
        FeatureSet offer = offer(tap.setOffloads(EnumSet.copyOf(Features.GUEST_OFFLOADS.values())));
        UnixListener server = ListeningSocket.bind(socket, ACCEPT_POLL_MILLIS);
        VhostUserNetBackend backend = new VhostUserNetBackend(socket, tap, offer, server, patience);
        backend.thread.start();
        log.info(
                "vhost-user back-end listening on {} for tap {} (features 0x{})",
                socket,
                tap.name(),
                Long.toHexString(offer.toLong()));
        return backend;
    }

    /** The features offered: ring bits of the emulated device, net offloads the tap took, protocol features. */
    private static FeatureSet offer(Set<Offload> tapAccepts) {
        FeatureSet offer = EmulatedNetDevice.OFFER.with(Features.HOST_OFFLOADS).with(VirtioFeature.PROTOCOL_FEATURES);
        for (Map.Entry<VirtioFeature, Offload> e : Features.GUEST_OFFLOADS.entrySet()) {
            if (tapAccepts.contains(e.getValue())) {
                offer = offer.with(e.getKey());
            }
        }
        return offer;
    }

    /** The socket front-ends connect to. */
    public Path socket() {
        return path;
    }

    /** What {@code VHOST_USER_GET_FEATURES} answers. */
    public FeatureSet offeredFeatures() {
        return offer;
    }

    /** What {@code VHOST_USER_GET_PROTOCOL_FEATURES} answers. */
    public Set<VhostUserProtocolFeature> offeredProtocolFeatures() {
        return BackendSession.PROTOCOL_OFFER;
    }

    /** Front-ends that connected so far, the refused ones included. */
    public synchronized int connections() {
        return connections;
    }

    /** Why each dropped connection was dropped, oldest first (a front-end that hung up is not a drop). */
    public synchronized ImmutableList<String> drops() {
        return ImmutableList.copyOf(drops);
    }

    /**
     * What the back-end moved for its front-ends so far, per queue pair (the device serving now and
     * every one before it, summed), and the tap's statistics; from any thread.
     */
    public NetDeviceCounters counters() {
        return new NetDeviceCounters(BackendChoice.Kind.EMULATED, counters.pairs(), TapStatistics.read(tap.name()));
    }

    /** Whether the device is serving a front-end's vrings now. */
    public synchronized boolean isRunning() {
        return running;
    }

    /** Waits until the device runs; false if it did not within {@code timeout}. */
    public synchronized boolean awaitRunning(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!running && !closed) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return running;
    }

    /** Waits until {@code count} connections have been dropped; false if not within {@code timeout}. */
    public synchronized boolean awaitDrops(int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (drops.size() < count) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /** Accepts front-ends until closed: the first one served on a thread of its own, others while it is served refused. */
    private void accept() {
        while (true) {
            AFUNIXSocket socket;
            try {
                Optional<AFUNIXSocket> accepted = server.acceptOrBackOff(e -> log.warn(
                        "accept on {} failed: {}; retrying in {} ms", path, e.toString(), server.backoffMillis()));
                if (accepted.isEmpty()) {
                    if (isClosed()) {
                        return;
                    }
                    continue;
                }
                socket = accepted.get();
            } catch (IOException e) {
                synchronized (this) {
                    if (!closed) {
                        log.error("vhost-user back-end on {} stopped accepting: {}", path, e.toString());
                    }
                }
                return;
            }
            synchronized (this) {
                if (closed) {
                    closeQuietly(socket);
                    return;
                }
                connections++;
                awaitEnded();
                if (current != null) {
                    refuse(
                            socket,
                            "front-end #" + connections + " refused: #" + currentNumber
                                    + " is being served (one at a time)");
                    continue;
                }
                current = socket;
                currentNumber = connections;
                String peer = path + " #" + connections;
                serving = new Thread(
                        () -> serve(socket, peer), "vhost-user-backend " + path.getFileName() + " #" + connections);
                serving.setDaemon(true);
                serving.start();
            }
        }
    }

    /**
     * Waits, up to the patience, for the front-end being served to end: one that reconnects at once
     * may come before its old connection has been torn down (its device stopped).
     */
    private void awaitEnded() {
        long deadline = System.nanoTime() + patience.toNanos();
        try {
            while (current != null && System.nanoTime() < deadline) {
                wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void refuse(AFUNIXSocket socket, String why) {
        closeQuietly(socket);
        log.warn("vhost-user {}: {}", path, why);
        drops.add(why);
        notifyAll();
    }

    /** Serves one front-end until it goes; returns why it was dropped ({@code null}: it left cleanly). */
    private String session(AFUNIXSocket socket, String peer) {
        String drop = null;
        try (BackendConnection connection = new BackendConnection(socket, patience);
                BackendSession session = new BackendSession(tap, offer, peer, counters)) {
            try {
                while (true) {
                    FrontendRequest request = connection.read();
                    if (request == null) {
                        log.info(
                                "vhost-user {}: {}",
                                peer,
                                isClosed() ? "the back-end is closing" : "the front-end closed the connection");
                        break;
                    }
                    try (request) {
                        log.debug(
                                "vhost-user {}: {} ({} fds{})",
                                peer,
                                request.name(),
                                request.fdCount(),
                                request.needReply() ? ", reply asked" : "");
                        byte[] reply = session.handle(request);
                        setRunning(session.running());
                        if (reply != null) {
                            connection.reply(request.id(), reply);
                        }
                    }
                }
            } catch (VhostUserException e) {
                // A front-end that went away (DISCONNECTED) may come back: QEMU reconnects; either way the next is
                // served.
                drop = e.shouldReconnect() ? "the front-end went away: " + e.getMessage() : e.getMessage();
            } catch (SysException e) {
                drop = "serving it failed: " + e.getMessage();
            } catch (IOException e) {
                if (!isClosed()) {
                    drop = "the socket failed: " + e.getMessage();
                }
            } catch (RuntimeException e) {
                drop = "serving it failed: " + e;
            }
        } catch (IOException e) {
            drop = "the socket failed: " + e.getMessage();
        }
        return drop;
    }

    /**
     * Serves one front-end, then lets the next in, whatever ended it — also an {@link Error} (seen: a
     * class that could not load while the process was out of descriptors), which would otherwise
     * leave the back-end refusing every later front-end as "being served".
     */
    private void serve(AFUNIXSocket socket, String peer) {
        String drop = "serving it failed";
        try {
            drop = session(socket, peer);
        } catch (Error e) {
            closeQuietly(socket);
            drop = "serving it failed: " + e;
            throw e;
        } finally {
            synchronized (this) {
                current = null;
                running = false;
                if (drop != null) {
                    log.warn("vhost-user {}: connection dropped: {}", peer, drop);
                    drops.add(drop);
                }
                notifyAll();
            }
        }
    }

    private synchronized void setRunning(boolean now) {
        if (running != now) {
            running = now;
            notifyAll();
        }
    }

    private synchronized boolean isClosed() {
        return closed;
    }

    /** Stops accepting, drops the front-end being served (stopping the device), removes the socket. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            notifyAll();
            if (current != null) {
                closeQuietly(current);
            }
        }
        Thread s;
        synchronized (this) {
            s = serving;
        }
        try {
            thread.join(30_000);
            if (s != null) {
                s.join(30_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(server);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.debug("closing: {}", e.toString());
        }
    }
}
