package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.Sets;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.vhost.VhostBackend;
import dev.vhostnet.ctl.vhost.VringAddress;
import dev.vhostnet.ctl.vhost.VringDatapath;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.GuestRegion;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front-end (QEMU's side) of a vhost-user connection as a {@link VhostBackend}: each method
 * is one vhost-user request on the socket instead of one ioctl on {@code /dev/vhost-net}.
 *
 * <p>{@link #connect} does what QEMU's {@code vhost_user_backend_init} does: {@code GET_FEATURES};
 * when the back-end offers {@code VHOST_USER_F_PROTOCOL_FEATURES} (bit 30),
 * {@code GET_PROTOCOL_FEATURES} and {@code SET_PROTOCOL_FEATURES} with the offer ∩
 * {@link #SUPPORTED_PROTOCOL_FEATURES} ({@code MQ}, {@code REPLY_ACK}, {@code CONFIG}); with
 * {@code MQ}, {@code GET_QUEUE_NUM}. With {@code REPLY_ACK} negotiated, every request that has no
 * reply of its own is sent with {@code NEED_REPLY} and its status checked, so a refusal fails the
 * call that caused it (as an ioctl would).
 *
 * <p>Queue pairs. vhost-user carries all vrings on one connection: queue pair {@code p} is vrings
 * {@code 2p} (RX) and {@code 2p+1} (TX). {@link #connect} returns the view of pair 0; {@link #queuePair(int)}
 * returns the view of pair {@code p} on the same connection, whose methods take the pair-local vring
 * index 0/1 of {@link VhostBackend} and send {@code 2p + index}. As in QEMU's
 * {@code vhost_user_one_time_request}, only pair 0 sends {@code SET_OWNER}, {@code RESET_OWNER} and
 * {@code SET_MEM_TABLE}; the others skip them. Closing pair 0 closes the connection.
 *
 * <p>{@code VHOST_NET_SET_BACKEND} has no vhost-user form (the back-end owns its datapath): the
 * {@link #datapath()} step sends {@code SET_VRING_ENABLE} instead when protocol features were
 * negotiated (rings then start disabled, and this is the point where a set-up ring is enabled);
 * without them rings are enabled by their kick and it sends nothing. The kernel's own requests
 * (log base as an address, busy polling, IOTLB versions) have no vhost-user form and are not here.
 */
public final class VhostUserFrontend implements VhostBackend {
    private static final Logger log = LoggerFactory.getLogger(VhostUserFrontend.class);

    /** The protocol features this front-end implements. */
    public static final Set<VhostUserProtocolFeature> SUPPORTED_PROTOCOL_FEATURES = Sets.immutableEnumSet(
            VhostUserProtocolFeature.MQ, VhostUserProtocolFeature.REPLY_ACK, VhostUserProtocolFeature.CONFIG);

    private final VhostUserConnection connection;
    private final Session session;
    private final int pair;

    /** What every pair's view shares: the negotiated protocol and the back-end's offers. */
    private static final class Session {
        FeatureSet features = FeatureSet.NONE;
        boolean protocolFeatures;
        long protocolOffer;
        Set<VhostUserProtocolFeature> protocol = Set.of();
        int queueNum = 1;
    }

    private VhostUserFrontend(VhostUserConnection connection, Session session, int pair) {
        this.connection = connection;
        this.session = session;
        this.pair = pair;
    }

    /** How long a reply may take by default (QEMU waits for ever; a library should not). */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(10);

    /** Connects to a back-end listening on {@code socket} and negotiates the protocol; the view of queue pair 0. */
    public static VhostUserFrontend connect(Path socket) throws SysException {
        return connect(socket, DEFAULT_REPLY_TIMEOUT);
    }

    /** As {@link #connect(Path)}; a reply not there within {@code replyTimeout} fails its request and closes the connection. */
    public static VhostUserFrontend connect(Path socket, Duration replyTimeout) throws SysException {
        return init(VhostUserConnection.connect(socket, replyTimeout));
    }

    /** Takes a socket already connected to a back-end (a test's socket pair, a back-end that dialled in). */
    public static VhostUserFrontend over(org.newsclub.net.unix.AFUNIXSocket socket, String peer) throws SysException {
        return init(VhostUserConnection.of(socket, peer));
    }

    /** Negotiates the protocol on {@code connection}; closes it if that fails. */
    static VhostUserFrontend init(VhostUserConnection connection) throws SysException {
        VhostUserFrontend f = new VhostUserFrontend(connection, new Session(), 0);
        try {
            f.negotiateProtocol();
            return f;
        } catch (SysException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private void negotiateProtocol() throws SysException {
        session.features = FeatureSet.of(getFeatures());
        session.protocolFeatures = session.features.has(VirtioFeature.PROTOCOL_FEATURES);
        if (session.protocolFeatures) {
            session.protocolOffer = VhostUserMessage.decodeU64(
                    VhostUserRequest.GET_PROTOCOL_FEATURES,
                    connection.call(
                            VhostUserRequest.GET_PROTOCOL_FEATURES, VhostUserMessage.empty(), List.of(), false));
            session.protocol = VhostUserProtocolFeature.of(
                    session.protocolOffer & VhostUserProtocolFeature.mask(SUPPORTED_PROTOCOL_FEATURES));
            // REPLY_ACK cannot be used before the back-end knows it is on: this request goes without it.
            connection.call(
                    VhostUserRequest.SET_PROTOCOL_FEATURES,
                    VhostUserMessage.u64(VhostUserProtocolFeature.mask(session.protocol)),
                    List.of(),
                    false);
            if (hasProtocol(VhostUserProtocolFeature.MQ)) {
                long n = VhostUserMessage.decodeU64(
                        VhostUserRequest.GET_QUEUE_NUM,
                        connection.call(VhostUserRequest.GET_QUEUE_NUM, VhostUserMessage.empty(), List.of(), false));
                if (n < 1 || n > 256) {
                    throw VhostUserException.protocol(
                            VhostUserRequest.GET_QUEUE_NUM, "the back-end says " + n + " queues");
                }
                session.queueNum = (int) n;
            }
        }
        log.debug(
                "vhost-user {}: features {}, protocol offer {}, negotiated {}, {} queues",
                connection.peer(),
                session.features,
                VhostUserProtocolFeature.names(session.protocolOffer),
                session.protocol,
                session.queueNum);
    }

    /**
     * The view of queue pair {@code pair} on this connection (vrings {@code 2·pair}, {@code 2·pair+1}).
     * Pairs other than 0 need {@code MQ} and a back-end with enough queues.
     */
    public VhostUserFrontend queuePair(int pair) {
        Preconditions.checkArgument(pair >= 0, "queue pair %s", pair);
        if (pair == this.pair) {
            return this;
        }
        Preconditions.checkState(
                pair == 0 || hasProtocol(VhostUserProtocolFeature.MQ),
                "queue pair %s needs the MQ protocol feature, which the back-end at %s does not offer",
                pair,
                connection.peer());
        Preconditions.checkState(
                pair < session.queueNum,
                "queue pair %s needs %s queue pairs; the back-end at %s has %s",
                pair,
                pair + 1,
                connection.peer(),
                session.queueNum);
        return new VhostUserFrontend(connection, session, pair);
    }

    /** The queue pair this view drives. */
    public int pair() {
        return pair;
    }

    /** The back-end's {@code GET_FEATURES} offer, as read at connect (bit 30 included). */
    public FeatureSet offeredFeatures() {
        return session.features;
    }

    /** Whether {@code VHOST_USER_F_PROTOCOL_FEATURES} was negotiated. */
    public boolean protocolFeaturesNegotiated() {
        return session.protocolFeatures;
    }

    /**
     * The back-end's {@code GET_PROTOCOL_FEATURES} word (0 without protocol features), bits this
     * front-end does not know included ({@link VhostUserProtocolFeature#names} names them).
     */
    public long offeredProtocolFeatures() {
        return session.protocolOffer;
    }

    /** The protocol features negotiated. */
    public Set<VhostUserProtocolFeature> protocolFeatures() {
        return session.protocol;
    }

    public boolean hasProtocol(VhostUserProtocolFeature feature) {
        return session.protocol.contains(feature);
    }

    /**
     * Queue pairs the back-end supports: {@code GET_QUEUE_NUM} with {@code MQ}, else 1. For a net
     * device the answer counts queue pairs, as QEMU's vhost-user net (it compares it with {@code queues=})
     * and DPDK ({@code VHOST_MAX_QUEUE_PAIRS}) read it.
     */
    public int queueNum() {
        return session.queueNum;
    }

    /** The path or name of the back-end. */
    public String peer() {
        return connection.peer();
    }

    private int vring(int index) {
        Preconditions.checkArgument(index == 0 || index == 1, "vring %s of a queue pair: 0 (RX) or 1 (TX)", index);
        return 2 * pair + index;
    }

    private boolean ack() {
        return hasProtocol(VhostUserProtocolFeature.REPLY_ACK);
    }

    private void send(VhostUserRequest request, byte[] payload, List<Fd> fds) throws SysException {
        connection.call(request, payload, fds, ack());
    }

    private void send(VhostUserRequest request, byte[] payload) throws SysException {
        send(request, payload, List.of());
    }

    @Override
    public void setOwner() throws SysException {
        if (pair == 0) {
            send(VhostUserRequest.SET_OWNER, VhostUserMessage.empty());
        }
    }

    @Override
    public void resetOwner() throws SysException {
        if (pair == 0) {
            send(VhostUserRequest.RESET_OWNER, VhostUserMessage.empty());
        }
    }

    @Override
    public long getFeatures() throws SysException {
        return VhostUserMessage.decodeU64(
                VhostUserRequest.GET_FEATURES,
                connection.call(VhostUserRequest.GET_FEATURES, VhostUserMessage.empty(), List.of(), false));
    }

    /**
     * {@code SET_FEATURES}: {@code features} (virtio and vhost bits), plus bit 30 when protocol
     * features were negotiated — QEMU keeps it in what it acknowledges, and back-ends (DPDK) read
     * ring enabling from it.
     */
    @Override
    public void setFeatures(long features) throws SysException {
        long unoffered = features & ~session.features.toLong();
        if (unoffered != 0) {
            throw VhostUserException.unsupported(
                    VhostUserRequest.SET_FEATURES.specName(),
                    String.format(
                            "features 0x%x were not offered by the back-end (offer 0x%x)",
                            unoffered, session.features.toLong()));
        }
        long sent = features | (session.protocolFeatures ? VirtioFeature.PROTOCOL_FEATURES.mask() : 0);
        send(VhostUserRequest.SET_FEATURES, VhostUserMessage.u64(sent));
    }

    /**
     * {@code SET_MEM_TABLE}: every region as (guest address, size, address in this process, mmap
     * offset 0) with its memfd as SCM_RIGHTS, so the back-end maps the same pages. At most 8 regions.
     */
    @Override
    public void setMemTable(MemoryTable memory) throws SysException {
        if (pair != 0) {
            return;
        }
        ImmutableList<GuestRegion> regions = memory.regions();
        if (regions.size() > VhostUserMessage.MAX_MEM_REGIONS) {
            throw VhostUserException.unsupported(
                    VhostUserRequest.SET_MEM_TABLE.specName(),
                    regions.size() + " regions; SET_MEM_TABLE carries at most " + VhostUserMessage.MAX_MEM_REGIONS
                            + " (CONFIGURE_MEM_SLOTS / ADD_MEM_REG is not implemented)");
        }
        List<VhostUserMessage.MemRegion> table = new ArrayList<>();
        List<Fd> fds = new ArrayList<>();
        for (GuestRegion r : regions) {
            table.add(new VhostUserMessage.MemRegion(r.gpa(), r.size(), r.hva(), 0));
            fds.add(r.memfd());
        }
        send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memTable(table), fds);
    }

    @Override
    public void setLogFd(EventFd fd) throws SysException {
        Preconditions.checkArgument(fd != null, "SET_LOG_FD needs an eventfd (vhost-user has no NOFD form for it)");
        send(VhostUserRequest.SET_LOG_FD, VhostUserMessage.empty(), List.of(fd.fd()));
    }

    @Override
    public void setVringNum(int index, int num) throws SysException {
        send(VhostUserRequest.SET_VRING_NUM, VhostUserMessage.vringState(vring(index), num));
    }

    @Override
    public void setVringAddr(int index, VringAddress address) throws SysException {
        send(
                VhostUserRequest.SET_VRING_ADDR,
                VhostUserMessage.vringAddr(
                        vring(index),
                        address.logged() ? VhostUserMessage.VRING_F_LOG : 0,
                        address.desc(),
                        address.used(),
                        address.avail(),
                        address.logGuestAddress().orElse(0)));
    }

    @Override
    public void setVringBase(int index, int base) throws SysException {
        send(VhostUserRequest.SET_VRING_BASE, VhostUserMessage.vringState(vring(index), base));
    }

    /** {@code GET_VRING_BASE}: the back-end stops the ring and returns its next available index. */
    @Override
    public int getVringBase(int index) throws SysException {
        int v = vring(index);
        byte[] reply =
                connection.call(VhostUserRequest.GET_VRING_BASE, VhostUserMessage.vringState(v, 0), List.of(), false);
        try {
            int base = VhostUserMessage.decodeVringState(VhostUserRequest.GET_VRING_BASE, v, reply);
            if (base < 0 || base > 0xffff) {
                throw VhostUserException.protocol(
                        VhostUserRequest.GET_VRING_BASE, "vring " + v + " base " + base + " is not a 16-bit index");
            }
            return base;
        } catch (VhostUserException e) {
            connection.close(); // a wrong reply: the spec's answer is to close the connection
            throw e;
        }
    }

    @Override
    public void setVringKick(int index, EventFd kick) throws SysException {
        vringFile(VhostUserRequest.SET_VRING_KICK, index, kick);
    }

    @Override
    public void setVringCall(int index, EventFd call) throws SysException {
        vringFile(VhostUserRequest.SET_VRING_CALL, index, call);
    }

    @Override
    public void setVringErr(int index, EventFd err) throws SysException {
        vringFile(VhostUserRequest.SET_VRING_ERR, index, err);
    }

    private void vringFile(VhostUserRequest request, int index, EventFd fd) throws SysException {
        send(request, VhostUserMessage.vringFile(vring(index), fd == null), fd == null ? List.of() : List.of(fd.fd()));
    }

    /** {@code SET_VRING_ENABLE}: only with protocol features (the spec's rule). */
    public void setVringEnable(int index, boolean enable) throws SysException {
        if (!session.protocolFeatures) {
            throw unsupported(
                    VhostUserRequest.SET_VRING_ENABLE.specName(),
                    "the back-end did not negotiate VHOST_USER_F_PROTOCOL_FEATURES: its rings are enabled by their kick");
        }
        send(VhostUserRequest.SET_VRING_ENABLE, VhostUserMessage.vringState(vring(index), enable ? 1 : 0));
    }

    /**
     * {@code GET_CONFIG}: {@code size} bytes of the device config space from {@code offset}; needs the
     * {@code CONFIG} protocol feature. A zero-size reply is the back-end's refusal.
     */
    public byte[] getConfig(int offset, int size) throws SysException {
        if (!hasProtocol(VhostUserProtocolFeature.CONFIG)) {
            throw unsupported(
                    VhostUserRequest.GET_CONFIG.specName(), "the back-end does not offer the CONFIG protocol feature");
        }
        Preconditions.checkArgument(offset >= 0 && size > 0 && size <= 256, "config offset %s size %s", offset, size);
        byte[] reply = connection.call(
                VhostUserRequest.GET_CONFIG, VhostUserMessage.config(offset, 0, new byte[size]), List.of(), false);
        return VhostUserMessage.decodeConfig(VhostUserRequest.GET_CONFIG, offset, size, reply);
    }

    /**
     * The datapath step of {@code VringSetup} on this pair: {@code SET_VRING_ENABLE} 1 to attach and 0
     * to detach with protocol features; without them nothing (the kick enables a ring).
     */
    public VringDatapath datapath() {
        return new VringDatapath() {
            @Override
            public String request() {
                return VhostUserRequest.SET_VRING_ENABLE.specName();
            }

            @Override
            public void attach(int index) throws SysException {
                if (session.protocolFeatures) {
                    setVringEnable(index, true);
                }
            }

            @Override
            public void detach(int index) throws SysException {
                if (session.protocolFeatures) {
                    setVringEnable(index, false);
                }
            }
        };
    }

    /** Pair 0 closes the connection (the back-end then tears its device down); other pairs' views close nothing. */
    @Override
    public void close() {
        if (pair == 0) {
            connection.close();
        }
    }

    public boolean isOpen() {
        return !connection.isClosed();
    }

    /** Whether the back-end has gone (it hung up, or this side closed the connection after an error): time to reconnect. */
    public boolean hasHungUp() {
        return connection.hasHungUp();
    }

    private VhostUserException unsupported(String what, String why) {
        return VhostUserException.unsupported(what + " over vhost-user " + connection.peer(), why);
    }

    @Override
    public String toString() {
        return "vhost-user front-end to " + connection.peer() + ", queue pair " + pair;
    }
}
