package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Netlink;
import dev.vhostnet.sys.SocketFile;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.UnixListener;
import dev.vhostnet.tap.NetInterface;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapQueue;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The privileged side: listens on a Unix socket and, for each client, checks its {@code SO_PEERCRED}
 * as it is accepted (a peer the {@link BrokerPolicy} does not admit is refused before a byte is
 * read), serves an admitted one on a thread of its own (at most {@link Builder#maxClients} at once and
 * {@link Builder#maxClientsPerUid} per uid), reads one {@link BrokerRequest} within one deadline for
 * the whole request, checks it against the policy, opens the vhost-net fds and the tap, and sends the
 * fds with {@code SCM_RIGHTS} on the {@link BrokerReply}. Every refusal is an error reply and, within a
 * log budget, a log line with the peer's text escaped; nothing a client sends stops the server.
 *
 * <p>A connection is a lease: the broker keeps its own fds on the tap while the client stays
 * connected. When the client disconnects, or the broker stops, a non-persistent tap the broker made
 * is deleted ({@code RTM_DELLINK}, even if the client still holds fds on it); a persistent one is left
 * and recorded in the {@link TapLedger}. On start, taps under the policy's prefixes that the ledger
 * does not list are deleted: leftovers of a broker that was killed with leases open.
 *
 * <p>An error of {@code accept} (say {@code EMFILE}) is retried with a backoff; the broker stops
 * accepting for good only when its socket is closed under it or its file is removed or replaced,
 * and then completes {@link #failed()}, so that a command can exit non-zero for its supervisor.
 */
public final class Broker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Broker.class);
    private static final Duration BUSY_LINGER = Duration.ofSeconds(1);
    /** Refused sockets kept open for {@link #BUSY_LINGER} at most at once; beyond, closed at once. */
    private static final int MAX_LINGERING = 64;
    /** How long accept() blocks before the loop checks the socket file. */
    private static final int ACCEPT_SLICE_MILLIS = 1000;

    private static final Duration LOG_WINDOW = Duration.ofSeconds(10);
    private static final int LOG_LINES_PER_WINDOW = 20;

    private final BrokerPolicy policy;
    private final Duration readTimeout;
    private final UnixListener listener;
    private final ClientSlots slots;
    private final TapLedger ledger;
    private final Thread acceptor;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong ids = new AtomicLong();
    private final BrokerCounters.Live counters = new BrokerCounters.Live();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final CompletableFuture<IOException> failed = new CompletableFuture<>();
    private final Object createLock = new Object();
    private final Set<AFUNIXSocket> lingering = ConcurrentHashMap.newKeySet();
    private final LogBudget peerLog =
            new LogBudget(LOG, "client refusal(s) and failure(s)", LOG_LINES_PER_WINDOW, LOG_WINDOW);
    private final LogBudget acceptLog = new LogBudget(LOG, "accept failure(s)", LOG_LINES_PER_WINDOW, LOG_WINDOW);
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "vhostnet-broker-timer");
        t.setDaemon(true);
        return t;
    });

    private Broker(Builder b, UnixListener listener, TapLedger ledger) {
        this.policy = b.policy;
        this.readTimeout = b.readTimeout;
        this.listener = listener;
        this.slots = new ClientSlots(b.maxClients, b.maxClientsPerUid);
        this.ledger = ledger;
        this.acceptor = new Thread(this::acceptLoop, "vhostnet-broker-accept");
        this.acceptor.setDaemon(true);
        timer.scheduleAtFixedRate(
                () -> {
                    peerLog.flush();
                    acceptLog.flush();
                },
                LOG_WINDOW.toMillis(),
                LOG_WINDOW.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    public static Builder builder(Path socket, BrokerPolicy policy) {
        return new Builder(socket, policy);
    }

    /** The socket clients connect to. */
    public Path socketPath() {
        return listener.file().path();
    }

    public BrokerPolicy policy() {
        return policy;
    }

    /**
     * Completes, with the cause, when the broker stops accepting for good on its own (its socket
     * closed under it, its socket file removed or replaced); never by {@link #close()}.
     */
    public CompletionStage<IOException> failed() {
        return failed;
    }

    /** The names of the taps leased to clients connected now. */
    public ImmutableSet<String> leasedTaps() {
        ImmutableSet.Builder<String> names = ImmutableSet.builder();
        for (Connection c : connections) {
            Lease lease = c.lease;
            if (lease != null) {
                names.add(lease.tap.name());
            }
        }
        return names.build();
    }

    /** Grants, refusals and leases so far: what {@code vhostnet status} shows of a broker. */
    public BrokerCounters counters() {
        return counters.snapshot(leasedTaps());
    }

    private void acceptLoop() {
        while (!stopped.get()) {
            Optional<AFUNIXSocket> socket;
            try {
                socket = listener.acceptOrBackOff(e -> acceptLog.warn(
                        "accept on {} failed: {}; retrying in {} ms",
                        socketPath(),
                        e.toString(),
                        listener.backoffMillis()));
            } catch (IOException e) {
                if (!stopped.get()) {
                    fail(e);
                }
                return;
            }
            if (socket.isPresent()) {
                admit(socket.get());
            } else if (!stopped.get() && !listener.file().isInPlace()) {
                fail(new IOException("the socket file " + socketPath() + " was removed, moved or replaced:"
                        + " clients can no longer reach this broker"));
                return;
            }
        }
    }

    private void fail(IOException cause) {
        LOG.error("the broker on {} stops accepting: {}", socketPath(), cause.toString());
        failed.complete(cause);
    }

    /**
     * Decides on a new connection before reading from it: a peer the policy does not admit, or one
     * over its uid's or the broker's share of slots, is refused at once; an admitted one gets a thread.
     */
    private void admit(AFUNIXSocket socket) {
        long id = ids.incrementAndGet();
        counters.accepted();
        AFUNIXSocketCredentials peer;
        try {
            peer = socket.getPeerCredentials();
        } catch (IOException e) {
            peerLog.warn("client #{}: no peer credentials: {}", id, e.toString());
            closeQuietly(socket);
            return;
        }
        long uid = peer.getUid();
        String who = "client #" + id + " (uid " + uid + " gid " + peer.getGid() + " pid " + peer.getPid() + ")";
        Optional<String> denied = policy.checkPeer(uid, peer.getGid());
        if (denied.isPresent()) {
            refuse(socket, who, BrokerReply.error(BrokerReply.Code.DENIED, denied.get()));
            return;
        }
        Optional<String> busy = slots.take(uid);
        if (busy.isPresent()) {
            refuse(socket, who, BrokerReply.error(BrokerReply.Code.BUSY, busy.get()));
            return;
        }
        Connection c = new Connection(socket, who);
        connections.add(c);
        Thread t = new Thread(
                () -> {
                    try {
                        c.serve();
                    } catch (Throwable e) {
                        LOG.error("{}: unexpected failure", who, e);
                    } finally {
                        connections.remove(c);
                        slots.give(uid);
                    }
                },
                "vhostnet-broker-client-" + id);
        t.setDaemon(true);
        c.thread = t;
        if (stopped.get()) {
            c.closeSocket();
        }
        t.start();
    }

    /**
     * Replies without a thread of its own and without reading: the reply is written at once, and the
     * socket closed a little later, so the client's request (sent right after its connect) still
     * finds the socket open instead of failing with EPIPE before it reads the reply. At most
     * {@value #MAX_LINGERING} sockets wait so; beyond, they are closed at once.
     */
    private void refuse(AFUNIXSocket socket, String who, BrokerReply reply) {
        counters.refused(reply.code());
        peerLog.warn("{}: refused: {} {}", who, reply.code(), PeerText.escape(reply.message()));
        try {
            socket.getOutputStream().write(reply.encode());
            socket.shutdownOutput();
        } catch (IOException e) {
            LOG.debug("{}: sending {} failed: {}", who, reply.code(), e.toString());
        }
        if (lingering.size() >= MAX_LINGERING) {
            closeQuietly(socket);
            return;
        }
        lingering.add(socket);
        try {
            timer.schedule(
                    () -> {
                        lingering.remove(socket);
                        closeQuietly(socket);
                    },
                    BUSY_LINGER.toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            lingering.remove(socket);
            closeQuietly(socket);
        }
    }

    private static void closeQuietly(AFUNIXSocket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("close: {}", e.toString());
        }
    }

    /**
     * Stops: no more clients, every connection closed, non-persistent taps this broker made deleted,
     * the socket file removed (if it is still this broker's). Idempotent.
     */
    @Override
    public void close() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        LOG.info("stopping: closing {} and {} connection(s)", socketPath(), connections.size());
        try {
            listener.close();
        } catch (IOException e) {
            LOG.warn("closing {}: {}", socketPath(), e.toString());
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
        peerLog.flush();
        acceptLog.flush();
        for (AFUNIXSocket s : lingering) {
            closeQuietly(s);
        }
        List<Connection> open = new ArrayList<>(connections);
        for (Connection c : open) {
            c.closeSocket();
        }
        for (Connection c : open) {
            Thread t = c.thread;
            try {
                if (t != null) {
                    t.join(TimeUnit.SECONDS.toMillis(10));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            c.release();
        }
        LOG.info("stopped");
    }

    /** What a client was given: the broker's own fds on the tap, until the lease ends. */
    private static final class Lease {
        final TapDevice tap;
        final int ifindex;
        final boolean persistent;

        Lease(TapDevice tap, int ifindex, boolean persistent) {
            this.tap = tap;
            this.ifindex = ifindex;
            this.persistent = persistent;
        }

        /** Deletes a non-persistent tap (if it is still ours, by name and index), then closes the fds. */
        void end(String who) {
            String name = tap.name();
            if (!persistent) {
                try (NetInterface link = NetInterface.open(name)) {
                    int index = link.index();
                    if (index == ifindex) {
                        Netlink.deleteLink(ifindex, name);
                        LOG.info("{}: deleted tap {}", who, name);
                    } else {
                        LOG.warn("{}: tap {} now has index {}, not {}: left alone", who, name, index, ifindex);
                    }
                } catch (SysException e) {
                    if (e.is(Errno.ENODEV)) {
                        LOG.info(
                                "{}: tap {} is no longer in the broker's namespace (moved or gone);"
                                        + " it goes when its last fd closes",
                                who,
                                name);
                    } else {
                        LOG.warn("{}: deleting tap {}: {}", who, name, e.getMessage());
                    }
                }
            } else {
                LOG.info("{}: persistent tap {} left in place", who, name);
            }
            tap.close();
        }
    }

    private final class Connection {
        final AFUNIXSocket socket;
        final String who;
        volatile Thread thread;
        volatile Lease lease;
        private final AtomicBoolean released = new AtomicBoolean();

        Connection(AFUNIXSocket socket, String who) {
            this.socket = socket;
            this.who = who;
        }

        void serve() {
            long uid = -1;
            try {
                uid = socket.getPeerCredentials().getUid();
                LOG.debug("{}: connected", who);
                BrokerRequest request = BrokerRequest.decode(Wire.read(new DeadlineInputStream(socket, readTimeout)));
                Optional<String> refusal = policy.checkRequest(uid, request);
                if (refusal.isPresent()) {
                    reply(BrokerReply.error(BrokerReply.Code.DENIED, refusal.get()), request);
                    return;
                }
                open(request, socket.getOutputStream());
                socket.setSoTimeout(0);
                holdUntilClosed(socket.getInputStream());
            } catch (ProtocolException e) {
                reply(BrokerReply.error(e.code(), e.getMessage()), null);
            } catch (SocketTimeoutException e) {
                reply(
                        BrokerReply.error(
                                BrokerReply.Code.TIMEOUT,
                                "no complete request within " + readTimeout.toMillis() + " ms"),
                        null);
            } catch (EOFException e) {
                peerLog.info("{}: disconnected without a request", who);
            } catch (Refusal e) {
                reply(e.reply, e.request);
            } catch (IOException e) {
                if (stopped.get()) {
                    LOG.debug("{}: connection closed by the broker's stop", who);
                } else {
                    peerLog.warn("{}: connection failed: {}", who, PeerText.escape(e.toString()));
                }
            } catch (RuntimeException e) {
                LOG.error("{}: internal error", who, e);
                reply(BrokerReply.error(BrokerReply.Code.FAILED, "internal broker error: " + e), null);
            } finally {
                closeSocket();
                release();
            }
        }

        /** Opens what {@code request} asks for and sends it; on any failure closes all of it. */
        private void open(BrokerRequest request, OutputStream out) throws IOException {
            List<VhostNet> vhosts = new ArrayList<>();
            TapDevice tap = null;
            boolean sent = false;
            try {
                for (int i = 0; i < request.vhostFds(); i++) {
                    try {
                        vhosts.add(VhostNet.open());
                    } catch (SysException e) {
                        throw new Refusal(
                                BrokerReply.error(BrokerReply.Code.VHOST_UNAVAILABLE, e.getMessage()), request);
                    }
                }
                String name = request.name();
                // One creation at a time, so two clients asking for the same name cannot both pass
                // the check and the second attach to the first one's tap.
                synchronized (createLock) {
                    if (!name.contains("%") && Files.exists(Path.of("/sys/class/net", name))) {
                        throw new Refusal(
                                BrokerReply.error(
                                        BrokerReply.Code.INVALID,
                                        "an interface named " + name
                                                + " exists already: the broker only hands out taps it creates"),
                                request);
                    }
                    try {
                        tap = TapDevice.open(request.tapConfig());
                    } catch (SysException e) {
                        throw new Refusal(BrokerReply.error(BrokerReply.Code.FAILED, e.getMessage()), request);
                    }
                }
                int ifindex;
                try (NetInterface link = NetInterface.open(tap.name())) {
                    ifindex = link.index();
                } catch (SysException e) {
                    throw new Refusal(BrokerReply.error(BrokerReply.Code.FAILED, e.getMessage()), request);
                }
                List<FileDescriptor> fds = new ArrayList<>();
                for (TapQueue q : tap.queues()) {
                    fds.add(FileDescriptorCast.unsafeUsing(q.rawFd()).getFileDescriptor());
                }
                for (VhostNet v : vhosts) {
                    fds.add(FileDescriptorCast.unsafeUsing(v.fd().get()).getFileDescriptor());
                }
                if (request.persistent()) {
                    try {
                        ledger.recordPersistent(tap.name(), ifindex);
                    } catch (IOException e) {
                        throw new Refusal(
                                BrokerReply.error(
                                        BrokerReply.Code.FAILED,
                                        "recording the persistent tap in " + ledger.file() + ": " + e.getMessage()),
                                request);
                    }
                }
                BrokerReply ok = BrokerReply.ok(
                        tap.name(), tap.queues().size(), vhosts.size(), request.vnetHeaderSize(), tap.offloads());
                lease = new Lease(tap, ifindex, request.persistent());
                socket.setOutboundFileDescriptors(fds.toArray(FileDescriptor[]::new));
                out.write(ok.encode());
                out.flush();
                sent = true;
                counters.granted(vhosts.size(), request.persistent());
                LOG.info(
                        "{}: {} -> tap {} ({} queue fd(s), {} vhost-net fd(s), offloads {}{})",
                        who,
                        request,
                        tap.name(),
                        tap.queues().size(),
                        vhosts.size(),
                        tap.offloads(),
                        request.persistent() ? ", persistent" : "");
            } finally {
                for (VhostNet v : vhosts) {
                    v.close();
                }
                if (!sent && tap != null) {
                    lease = null;
                    undo(tap, request);
                }
            }
        }

        private void undo(TapDevice tap, BrokerRequest request) {
            if (request.persistent()) {
                try {
                    tap.setPersist(false);
                } catch (SysException e) {
                    LOG.warn("{}: clearing persistence of {} after a failed send: {}", who, tap.name(), e.getMessage());
                }
            }
            tap.close();
        }

        /**
         * Waits for the client to close its end (the end of the lease); bytes it sends meanwhile are
         * ignored, and counted in one line when it leaves.
         */
        private void holdUntilClosed(InputStream in) throws IOException {
            byte[] sink = new byte[4096];
            long ignored = 0;
            int n;
            while ((n = in.read(sink)) >= 0) {
                ignored += n;
            }
            if (ignored > 0) {
                peerLog.warn("{}: ignored {} byte(s) sent after the reply (one tap per connection)", who, ignored);
            }
            LOG.info("{}: disconnected", who);
        }

        private void reply(BrokerReply reply, BrokerRequest request) {
            counters.refused(reply.code());
            peerLog.warn(
                    "{}: refused{}: {} {}",
                    who,
                    request == null ? "" : " " + request,
                    reply.code(),
                    PeerText.escape(reply.message()));
            try {
                socket.getOutputStream().write(reply.encode());
            } catch (IOException e) {
                LOG.debug("{}: sending the error reply failed: {}", who, e.toString());
            }
        }

        void closeSocket() {
            try {
                socket.close();
            } catch (IOException e) {
                LOG.debug("{}: close: {}", who, e.toString());
            }
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                Lease l = lease;
                lease = null;
                if (l != null) {
                    l.end(who);
                }
            }
        }
    }

    /** A refusal decided while opening: the reply to send, after closing what was opened. */
    private static final class Refusal extends IOException {
        private static final long serialVersionUID = 1L;
        final transient BrokerReply reply;
        final transient BrokerRequest request;

        Refusal(BrokerReply reply, BrokerRequest request) {
            super(reply.message());
            this.reply = reply;
            this.request = request;
        }
    }

    /** Where and how the broker listens. */
    public static final class Builder {
        /** The state directory unless one is given: the ledger of persistent taps goes there. */
        public static final Path DEFAULT_STATE_DIRECTORY = Path.of("/run/vhostnet");

        private final Path socket;
        private final BrokerPolicy policy;
        private Duration readTimeout = Duration.ofSeconds(5);
        private int maxClients = 64;
        private int maxClientsPerUid = 16;
        private Set<PosixFilePermission> socketMode = PosixFilePermissions.fromString("rw-rw----");
        private Optional<String> socketGroup = Optional.empty();
        private Path stateDirectory = DEFAULT_STATE_DIRECTORY;
        private UnixListener inherited;

        private Builder(Path socket, BrokerPolicy policy) {
            this.socket = Preconditions.checkNotNull(socket, "socket");
            this.policy = Preconditions.checkNotNull(policy, "policy");
        }

        /** How long a client has to send its whole request, however it spaces its bytes (5 s by default). */
        public Builder readTimeout(Duration timeout) {
            Preconditions.checkArgument(!timeout.isNegative() && !timeout.isZero(), "read timeout must be positive");
            this.readTimeout = timeout;
            return this;
        }

        /** Clients served at once, leases included (64 by default); more are refused with BUSY. */
        public Builder maxClients(int maxClients) {
            Preconditions.checkArgument(maxClients >= 1, "max clients must be 1 or more, not %s", maxClients);
            this.maxClients = maxClients;
            return this;
        }

        /** Clients of one uid served at once, leases included (16 by default); more are refused with BUSY. */
        public Builder maxClientsPerUid(int maxClientsPerUid) {
            Preconditions.checkArgument(
                    maxClientsPerUid >= 1, "max clients per uid must be 1 or more, not %s", maxClientsPerUid);
            this.maxClientsPerUid = maxClientsPerUid;
            return this;
        }

        /**
         * The socket file's mode ({@code rw-rw----} by default, as libvirt's {@code unix_sock_rw_perms}
         * with a group: who may connect at all is the file's business, who is served the policy's).
         */
        public Builder socketMode(String mode) {
            this.socketMode = SocketFile.Access.parseMode(mode);
            return this;
        }

        /** The socket file's group, a name or a gid (by default the broker's own group). */
        public Builder socketGroup(String group) {
            Preconditions.checkArgument(!group.isEmpty(), "socket group must not be empty");
            this.socketGroup = Optional.of(group);
            return this;
        }

        /**
         * Where the broker keeps what must outlive it (the ledger of persistent taps it left in place):
         * {@code /run/vhostnet} by default. Only root should be able to write there.
         */
        public Builder stateDirectory(Path directory) {
            this.stateDirectory = Preconditions.checkNotNull(directory, "directory");
            return this;
        }

        /**
         * Accepts on a socket already listening, handed to this process (systemd's socket activation:
         * {@link UnixListener#inherited}), instead of binding one: its mode and group are its
         * maker's ({@code SocketMode=}, {@code SocketGroup=}), and it stays when the broker stops.
         */
        public Builder inherited(UnixListener listener) {
            this.inherited = Preconditions.checkNotNull(listener, "listener");
            return this;
        }

        /**
         * Binds the socket by {@link SocketFile}'s rule (a stale socket replaced; a live one, or
         * anything that is not a socket, refused), deletes the taps a killed broker left under the
         * policy's prefixes, and starts accepting clients.
         */
        public Broker start() throws IOException {
            UnixListener listener = inherited != null
                    ? inherited
                    : UnixListener.bind(socket, new SocketFile.Access(Optional.of(socketMode), socketGroup), 64);
            try {
                listener.server().setSoTimeout(ACCEPT_SLICE_MILLIS);
                if (listener.file().replacedStale()) {
                    LOG.info("replaced the stale socket file {}", socket);
                }
                TapLedger ledger = new TapLedger(
                        stateDirectory.resolve(ledgerName(listener.file().path())));
                List<String> prefixes = new ArrayList<>(policy.prefixByUid().values());
                policy.defaultPrefix().ifPresent(prefixes::add);
                ledger.sweep(prefixes);
                Broker broker = new Broker(this, listener, ledger);
                LOG.info(
                        "serving {} ({}) with {}",
                        listener.file().path(),
                        inherited != null
                                ? "inherited: socket activation"
                                : "mode " + PosixFilePermissions.toString(socketMode)
                                        + socketGroup.map(g -> ", group " + g).orElse(""),
                        policy);
                broker.acceptor.start();
                return broker;
            } catch (IOException | RuntimeException e) {
                listener.close();
                throw e;
            }
        }

        /** One ledger per socket: {@code /run/a/b.sock} keeps {@code run-a-b.sock.taps}. */
        private static String ledgerName(Path socket) {
            return socket.toString().substring(1).replace('/', '-') + ".taps";
        }
    }
}
