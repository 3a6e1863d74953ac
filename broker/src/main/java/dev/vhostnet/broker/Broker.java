package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.sys.Netlink;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.NetInterface;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapQueue;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The privileged side: listens on a Unix socket, and for each client (a thread of its own, at most
 * {@link Builder#maxClients} at once) reads one {@link BrokerRequest} within the read timeout,
 * checks the peer's {@code SO_PEERCRED} and the request against the {@link BrokerPolicy}, opens the
 * vhost-net fds and the tap, and sends the fds with {@code SCM_RIGHTS} on the {@link BrokerReply}.
 * Every refusal or failure is an error reply and a log line; nothing a client sends stops the server.
 *
 * <p>A connection is a lease: the broker keeps its own fds on the tap while the client stays
 * connected. When the client disconnects, or the broker stops, a non-persistent tap the broker made
 * is deleted ({@code RTM_DELLINK}, even if the client still holds fds on it); a persistent one is left.
 */
public final class Broker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Broker.class);

    private final Path socketPath;
    private final BrokerPolicy policy;
    private final Duration readTimeout;
    private final AFUNIXServerSocket server;
    private final Semaphore slots;
    private final Thread acceptor;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final Object createLock = new Object();
    private final Set<AFUNIXSocket> lingering = ConcurrentHashMap.newKeySet();
    private static final Duration BUSY_LINGER = Duration.ofSeconds(1);
    private final java.util.concurrent.ScheduledThreadPoolExecutor closer = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "vhostnet-broker-closer");
        t.setDaemon(true);
        return t;
    });

    private Broker(Builder b, AFUNIXServerSocket server) {
        this.socketPath = b.socket;
        this.policy = b.policy;
        this.readTimeout = b.readTimeout;
        this.server = server;
        this.slots = new Semaphore(b.maxClients);
        this.acceptor = new Thread(this::acceptLoop, "vhostnet-broker-accept");
        this.acceptor.setDaemon(true);
    }

    public static Builder builder(Path socket, BrokerPolicy policy) {
        return new Builder(socket, policy);
    }

    /** The socket clients connect to. */
    public Path socketPath() {
        return socketPath;
    }

    public BrokerPolicy policy() {
        return policy;
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

    private void acceptLoop() {
        while (!stopped.get()) {
            AFUNIXSocket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!stopped.get()) {
                    LOG.error("accept on {} failed; the broker stops accepting", socketPath, e);
                }
                return;
            }
            long id = ids.incrementAndGet();
            if (!slots.tryAcquire()) {
                LOG.warn("client #{}: refused, all client slots are busy", id);
                refuseBusy(socket);
                continue;
            }
            Connection c = new Connection(id, socket);
            connections.add(c);
            if (stopped.get()) {
                c.closeSocket();
            }
            Thread t = new Thread(() -> {
                try {
                    c.serve();
                } catch (Throwable e) {
                    LOG.error("client #{}: unexpected failure", id, e);
                } finally {
                    connections.remove(c);
                    slots.release();
                }
            }, "vhostnet-broker-client-" + id);
            t.setDaemon(true);
            c.thread = t;
            t.start();
        }
    }

    /**
     * Replies BUSY without a thread of its own: the reply is written at once, and the socket closed
     * a little later, so the client's request (sent right after its connect) still finds the
     * socket open instead of failing with EPIPE before it reads the reply.
     */
    private void refuseBusy(AFUNIXSocket socket) {
        try {
            socket.getOutputStream().write(BrokerReply.error(BrokerReply.Code.BUSY,
                    "the broker serves as many clients as it may: try again").encode());
            socket.shutdownOutput();
        } catch (IOException e) {
            LOG.debug("sending BUSY failed: {}", e.toString());
        }
        lingering.add(socket);
        try {
            closer.schedule(() -> {
                lingering.remove(socket);
                closeQuietly(socket);
            }, BUSY_LINGER.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
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
     * the socket file removed. Idempotent.
     */
    @Override
    public void close() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        LOG.info("stopping: closing {} and {} connection(s)", socketPath, connections.size());
        try {
            server.close();
        } catch (IOException e) {
            LOG.warn("closing {}: {}", socketPath, e.toString());
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closer.shutdownNow();
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
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.warn("removing {}: {}", socketPath, e.toString());
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
                        LOG.info("{}: tap {} is no longer in the broker's namespace (moved or gone);"
                                + " it goes when its last fd closes", who, name);
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
        final long id;
        final AFUNIXSocket socket;
        volatile Thread thread;
        volatile Lease lease;
        private final AtomicBoolean released = new AtomicBoolean();
        private String who;

        Connection(long id, AFUNIXSocket socket) {
            this.id = id;
            this.socket = socket;
            this.who = "client #" + id;
        }

        void serve() {
            try {
                AFUNIXSocketCredentials peer = socket.getPeerCredentials();
                long uid = peer.getUid();
                long gid = peer.getGid();
                who = "client #" + id + " (uid " + uid + " gid " + gid + " pid " + peer.getPid() + ")";
                LOG.debug("{}: connected", who);
                socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, readTimeout.toMillis()));
                InputStream in = socket.getInputStream();
                OutputStream out = socket.getOutputStream();
                BrokerRequest request = BrokerRequest.decode(Wire.read(in));
                Optional<String> refusal = policy.checkPeer(uid, gid).or(() -> policy.checkRequest(uid, request));
                if (refusal.isPresent()) {
                    reply(BrokerReply.error(BrokerReply.Code.DENIED, refusal.get()), request);
                    return;
                }
                open(request, out);
                socket.setSoTimeout(0);
                holdUntilClosed(in);
            } catch (ProtocolException e) {
                reply(BrokerReply.error(e.code(), e.getMessage()), null);
            } catch (SocketTimeoutException e) {
                reply(BrokerReply.error(BrokerReply.Code.TIMEOUT,
                        "no complete request within " + readTimeout.toMillis() + " ms"), null);
            } catch (EOFException e) {
                LOG.info("{}: disconnected without a request", who);
            } catch (Refusal e) {
                reply(e.reply, e.request);
            } catch (IOException e) {
                if (stopped.get()) {
                    LOG.debug("{}: connection closed by the broker's stop", who);
                } else {
                    LOG.warn("{}: connection failed: {}", who, e.toString());
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
                        throw new Refusal(BrokerReply.error(BrokerReply.Code.VHOST_UNAVAILABLE, e.getMessage()), request);
                    }
                }
                String name = request.name();
                // One creation at a time, so two clients asking for the same name cannot both pass
                // the check and the second attach to the first one's tap.
                synchronized (createLock) {
                    if (!name.contains("%") && Files.exists(Path.of("/sys/class/net", name))) {
                        throw new Refusal(BrokerReply.error(BrokerReply.Code.INVALID,
                                "an interface named " + name + " exists already: the broker only hands out taps it creates"), request);
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
                BrokerReply ok = BrokerReply.ok(tap.name(), tap.queues().size(), vhosts.size(),
                        request.vnetHeaderSize(), tap.offloads());
                lease = new Lease(tap, ifindex, request.persistent());
                socket.setOutboundFileDescriptors(fds.toArray(FileDescriptor[]::new));
                out.write(ok.encode());
                out.flush();
                sent = true;
                LOG.info("{}: {} -> tap {} ({} queue fd(s), {} vhost-net fd(s), offloads {}{})", who, request,
                        tap.name(), tap.queues().size(), vhosts.size(), tap.offloads(),
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

        /** Waits for the client to close its end (the end of the lease); bytes it sends meanwhile are ignored. */
        private void holdUntilClosed(InputStream in) throws IOException {
            byte[] sink = new byte[256];
            int n;
            while ((n = in.read(sink)) >= 0) {
                LOG.warn("{}: ignored {} byte(s) sent after the reply (one tap per connection)", who, n);
            }
            LOG.info("{}: disconnected", who);
        }

        private void reply(BrokerReply reply, BrokerRequest request) {
            LOG.warn("{}: refused{}: {} {}", who, request == null ? "" : " " + request, reply.code(), reply.message());
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
        private final Path socket;
        private final BrokerPolicy policy;
        private Duration readTimeout = Duration.ofSeconds(5);
        private int maxClients = 64;
        private Set<PosixFilePermission> socketMode = PosixFilePermissions.fromString("rw-rw-rw-");

        private Builder(Path socket, BrokerPolicy policy) {
            this.socket = Preconditions.checkNotNull(socket, "socket");
            this.policy = Preconditions.checkNotNull(policy, "policy");
        }

        /** How long a client has to send its whole request (5 s by default). */
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

        /**
         * The socket file's mode ({@code rw-rw-rw-} by default: who may connect is decided by the
         * policy on the peer's credentials, not by the file).
         */
        public Builder socketMode(String mode) {
            this.socketMode = PosixFilePermissions.fromString(mode);
            return this;
        }

        /**
         * Binds the socket (replacing a stale socket file no broker listens on; refusing when one
         * does) and starts accepting clients.
         */
        public Broker start() throws IOException {
            AFUNIXSocketAddress address = AFUNIXSocketAddress.of(socket);
            if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                try {
                    AFUNIXSocket.connectTo(address).close();
                    throw new IOException("a broker already serves " + socket + ": stop it first");
                } catch (SocketException e) {
                    LOG.info("removing stale socket file {}", socket);
                    Files.delete(socket);
                }
            }
            AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
            try {
                server.bind(address, 64);
                Files.setPosixFilePermissions(socket, socketMode);
            } catch (IOException | RuntimeException e) {
                server.close();
                throw e;
            }
            Broker broker = new Broker(this, server);
            LOG.info("serving {} with {}", socket, policy);
            broker.acceptor.start();
            return broker;
        }
    }
}
