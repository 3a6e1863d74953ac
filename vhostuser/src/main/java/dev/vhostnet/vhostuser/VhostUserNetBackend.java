package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.sys.SocketFile;
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
 * do. As many queue pairs as the tap has queues (QEMU's {@code -netdev vhost-user,queues=N}).
 *
 * <p>It listens on the socket ({@link Builder#listen}), or in client mode dials a front-end that
 * listens ({@link Builder#dial}: QEMU's {@code server=on}), and serves one front-end at a time on a
 * thread of its own; a second
 * one that connects meanwhile waits up to the patience for the first to end (a front-end that
 * reconnects at once may come before its old connection is torn down), then is refused (its
 * connection closed, the reason kept) rather than left waiting for replies that would not come. When the front-end goes, or breaks the protocol (a
 * malformed request, a wrong size, fds missing or surplus, memory that does not map, silence before
 * its first request or in the middle of one), its connection is dropped with the reason logged and
 * kept ({@link #drops()}), everything it brought is closed, and the next front-end is served — so
 * QEMU can reconnect. The offer: the emulated device's ring features, the net offloads the tap takes,
 * {@code VIRTIO_NET_F_MQ} on a multiqueue tap (QEMU masks the guest's MQ with the back-end's offer),
 * and {@code VHOST_USER_F_PROTOCOL_FEATURES} with {@code MQ} and {@code REPLY_ACK}.
 */
public final class VhostUserNetBackend implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VhostUserNetBackend.class);

    /** How often the accepting thread looks whether the back-end was closed (closing a listener under accept() is racy). */
    private static final int ACCEPT_POLL_MILLIS = 100;
    /** The first pause between dials in client mode; it doubles while dials fail or connections end at once. */
    static final long FIRST_DIAL_PAUSE_MILLIS = 50;
    /** The longest pause between dials (DPDK's reconnect thread tries every second). */
    static final long MAX_DIAL_PAUSE_MILLIS = 1000;
    /** A connection that ends sooner counts as a failed dial: a front-end that hangs up at once is not dialled at once again. */
    private static final long SHORT_CONNECTION_MILLIS = 1000;
    /** How long a front-end may take to send its first request, or the rest of one it began. */
    public static final Duration DEFAULT_PATIENCE = Duration.ofSeconds(10);

    private final Path path;
    private final TapDevice tap;
    private final FeatureSet offer;
    private final UnixListener server;
    private final Duration patience;
    private final TxCopy txCopy;
    private final Thread thread;
    private final List<String> drops = new ArrayList<>();
    /** What every device of every session moved, per queue pair: {@link #counters()}. */
    private final BackendCounters counters;

    private BackendSession session;
    private AFUNIXSocket current;
    private int currentNumber;
    private Thread serving;
    private int connections;
    private boolean running;
    private boolean closed;

    /** A back-end that accepts on {@code server}, or, without one, dials {@code path}. */
    private VhostUserNetBackend(
            Path path, TapDevice tap, FeatureSet offer, UnixListener server, Duration patience, TxCopy txCopy) {
        this.path = path;
        this.txCopy = txCopy;
        this.tap = tap;
        this.offer = offer;
        this.server = server;
        this.patience = patience;
        this.counters = new BackendCounters(tap.queues().size());
        this.thread = server != null
                ? new Thread(this::accept, "vhost-user-accept " + path.getFileName())
                : new Thread(this::dial, "vhost-user-dial " + path.getFileName());
        thread.setDaemon(true);
    }

    /**
     * Listens on {@code socket} (a stale socket file there is replaced, anything else refused) and serves front-ends on {@code tap},
     * opened with a vnet header: a queue pair per tap queue. The tap stays the caller's; close the back-end first.
     */
    public static VhostUserNetBackend listen(Path socket, TapDevice tap) throws SysException {
        return on(tap).listen(socket);
    }

    /** As {@link #listen(Path, TapDevice)}; a front-end silent for {@code patience} before or within a request is dropped. */
    public static VhostUserNetBackend listen(Path socket, TapDevice tap, Duration patience) throws SysException {
        return on(tap).patience(patience).listen(socket);
    }

    /**
     * A back-end on {@code tap} (opened with a vnet header; the tap stays the caller's: close the
     * back-end first), to listen or dial with.
     */
    public static Builder on(TapDevice tap) {
        return new Builder(tap);
    }

    /** How a back-end meets its front-ends. */
    public static final class Builder {
        private final TapDevice tap;
        private Duration patience = DEFAULT_PATIENCE;
        private SocketFile.Access access = SocketFile.Access.DEFAULT;
        private TxCopy txCopy = TxCopy.DEFAULT;

        private Builder(TapDevice tap) {
            this.tap = Preconditions.checkNotNull(tap, "tap");
        }

        /** A front-end silent for {@code patience} before or within a request is dropped ({@link #DEFAULT_PATIENCE}). */
        public Builder patience(Duration patience) {
            Preconditions.checkArgument(
                    !patience.isNegative() && !patience.isZero(), "patience must be positive: %s", patience);
            this.patience = patience;
            return this;
        }

        /** The listening socket file's mode and group (by default as {@code bind(2)} makes them). */
        public Builder socketAccess(SocketFile.Access access) {
            this.access = Preconditions.checkNotNull(access, "access");
            return this;
        }

        /** How the device moves a frame the front-end sends to the tap (default: {@link TxCopy#DEFAULT}). */
        public Builder txCopy(TxCopy txCopy) {
            this.txCopy = Preconditions.checkNotNull(txCopy, "txCopy");
            return this;
        }

        /**
         * Listens on {@code socket} (a stale socket file there is replaced, anything else refused),
         * and serves the front-ends that connect, one at a time.
         */
        public VhostUserNetBackend listen(Path socket) throws SysException {
            FeatureSet offer = checkTapAndOffer(tap);
            return start(socket, offer, ListeningSocket.bind(socket, access, ACCEPT_POLL_MILLIS));
        }

        /**
         * Client mode (DPDK's {@code RTE_VHOST_USER_CLIENT}, for a QEMU started with {@code
         * server=on}): dials {@code socket} and serves the front-end listening there; while nothing
         * listens (QEMU not started yet, or gone), and after each front-end ends, dials again, with
         * a pause from {@value VhostUserNetBackend#FIRST_DIAL_PAUSE_MILLIS} ms doubling to {@value
         * VhostUserNetBackend#MAX_DIAL_PAUSE_MILLIS} ms, until closed. The socket access does not apply: the file is the front-end's.
         */
        public VhostUserNetBackend dial(Path socket) throws SysException {
            return start(socket, checkTapAndOffer(tap), null);
        }

        private VhostUserNetBackend start(Path socket, FeatureSet offer, UnixListener server) {
            VhostUserNetBackend backend = new VhostUserNetBackend(socket, tap, offer, server, patience, txCopy);
            backend.thread.start();
            log.info(
                    "vhost-user back-end {} {} for tap {} with {} queue pairs (features 0x{})",
                    server != null ? "listening on" : "dialling",
                    socket,
                    tap.name(),
                    tap.queues().size(),
                    Long.toHexString(offer.toLong()));
            return backend;
        }
    }

    private static FeatureSet checkTapAndOffer(TapDevice tap) throws SysException {
        Preconditions.checkArgument(
                tap.config().vnetHeader(),
                "tap %s has no vnet header; open it with vnetHeader(12): the guest's virtio-net header goes to the tap",
                tap.name());
        FeatureSet offer = offer(tap.setOffloads(EnumSet.copyOf(Features.GUEST_OFFLOADS.values())));
        return tap.queues().size() > 1 ? offer.with(VirtioFeature.MQ) : offer;
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

    /** The queue pairs offered ({@code GET_QUEUE_NUM}): one per tap queue. */
    public int queuePairs() {
        return counters.queuePairs();
    }

    /** The queue pairs the device serves now: those the front-end has set up and enabled (0: not running). */
    public synchronized int servedPairs() {
        return session != null ? session.servedPairs() : 0;
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
     * What the back-end moved for its front-ends since it started, every front-end counted: one entry
     * per queue pair offered ({@link #queuePairs()}, a pair never served stays at zero), each the
     * device serving it now plus every device before it, summed; and the tap's statistics. From any
     * thread.
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
     * Client mode: dials until a front-end accepts, serves it on this thread until it ends, and
     * dials again, until closed. A failed dial is logged once per run of failures; after a failed
     * dial, or a connection that ended within a second, the pause before the next one doubles.
     */
    private void dial() {
        long pause = FIRST_DIAL_PAUSE_MILLIS;
        String failing = null;
        while (!isClosed() && !Thread.currentThread().isInterrupted()) {
            AFUNIXSocket socket;
            try {
                socket = VhostUserConnection.connectSocket(path);
            } catch (IOException e) {
                if (failing == null) {
                    failing = e.getMessage();
                    log.info(
                            "vhost-user {}: no front-end accepts ({}); dialling again, every {} ms at most, until one does",
                            path,
                            failing,
                            MAX_DIAL_PAUSE_MILLIS);
                }
                pause(pause);
                pause = Math.min(2 * pause, MAX_DIAL_PAUSE_MILLIS);
                continue;
            }
            failing = null;
            String peer;
            synchronized (this) {
                if (closed) {
                    closeQuietly(socket);
                    return;
                }
                connections++;
                current = socket;
                currentNumber = connections;
                peer = path + " #" + connections;
            }
            log.info("vhost-user {}: connected to the front-end", peer);
            long connected = System.nanoTime();
            serve(socket, peer);
            if (System.nanoTime() - connected < SHORT_CONNECTION_MILLIS * 1_000_000) {
                pause(pause);
                pause = Math.min(2 * pause, MAX_DIAL_PAUSE_MILLIS);
            } else {
                pause = FIRST_DIAL_PAUSE_MILLIS;
            }
        }
    }

    /** Waits {@code millis}, or less if the back-end is closed meanwhile. */
    private synchronized void pause(long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000;
        try {
            while (!closed && System.nanoTime() < deadline) {
                wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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
                BackendSession session = new BackendSession(tap, offer, peer, counters, txCopy)) {
            setSession(session);
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
                session = null;
                running = false;
                if (drop != null) {
                    log.warn("vhost-user {}: connection dropped: {}", peer, drop);
                    drops.add(drop);
                }
                notifyAll();
            }
        }
    }

    private synchronized void setSession(BackendSession s) {
        session = s;
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

    /** Stops accepting or dialling, drops the front-end being served (stopping the device), removes the listening socket. */
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
        if (server != null) {
            closeQuietly(server);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.debug("closing: {}", e.toString());
        }
    }
}
