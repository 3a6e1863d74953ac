package dev.vhostnet.vhostuser;

import com.google.common.collect.Sets;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapQueue;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The back-end's state for one front-end connection, as DPDK's {@code vhost_user.c} keeps it: the
 * features and protocol features agreed, the guest memory mapped from the front-end's fds, what each
 * vring of the tap's queue pairs has been told (pair {@code p}: vrings {@code 2p} RX and {@code 2p+1}
 * TX), and the emulated device that serves them on the tap once they are ready. Each request is
 * checked before it changes anything; a request that breaks the protocol is a {@link
 * VhostUserException}, and the caller drops the connection.
 *
 * <p>The device runs on the leading queue pairs whose two vrings are complete (size, addresses,
 * kick, call), started (a kick) and enabled, once memory and features are there: pair 0 alone
 * until the front-end enables pair 1 ({@code SET_VRING_ENABLE}, which QEMU sends when the guest's
 * driver asks for more pairs), and so on, as DPDK's {@code virtio_is_ready} needs pair 0 and
 * serves the others as they are enabled. The tap queues of pairs not served are detached
 * ({@code TUNSETQUEUE}), so the tap steers no frame where nobody reads (QEMU's {@code peer_detach}).
 * A request that changes what a running device uses (memory, a ring, an eventfd, the features, the
 * pairs enabled) stops it first, keeping each vring's next available index as its base, and the
 * device starts again from there on the pairs then ready; {@code GET_VRING_BASE} stops the vring it
 * names until its next kick, as the spec says. Each device started is handed to the back-end's
 * {@link BackendCounters}, which keeps its counts once it stops. Used on the connection's thread
 * only, but for {@link #servedPairs}.
 */
final class BackendSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackendSession.class);

    /** Protocol features this back-end offers: {@code MQ} ({@code GET_QUEUE_NUM}: the tap's queues) and {@code REPLY_ACK}. */
    static final Set<VhostUserProtocolFeature> PROTOCOL_OFFER =
            Sets.immutableEnumSet(VhostUserProtocolFeature.MQ, VhostUserProtocolFeature.REPLY_ACK);

    private final TapDevice tap;
    private final FeatureSet offer;
    private final String peer;
    private final BackendVring[] vrings;
    private final BackendCounters counters;
    private final TxCopy txCopy;

    private FeatureSet acked = FeatureSet.NONE;
    private boolean featuresSet;
    private Set<VhostUserProtocolFeature> protocol = Set.of();
    private FrontendMemory memory;
    /** The device serving pairs {@code [0, servedPairs)}. */
    private EmulatedNetDevice device;

    /** The pairs the device serves, 0 while it is stopped; read by other threads in {@link #servedPairs}. */
    private volatile int servedPairs;

    BackendSession(TapDevice tap, FeatureSet offer, String peer) {
        this(tap, offer, peer, new BackendCounters(tap.queues().size()), TxCopy.DEFAULT);
    }

    /** A session whose devices count, per queue pair, into {@code counters} and send as {@code txCopy} says. */
    BackendSession(TapDevice tap, FeatureSet offer, String peer, BackendCounters counters, TxCopy txCopy) {
        this.tap = tap;
        this.txCopy = txCopy;
        this.offer = offer;
        this.peer = peer;
        this.counters = counters;
        this.vrings = new BackendVring[2 * tap.queues().size()];
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new BackendVring(i);
        }
    }

    /** Whether the emulated device is serving the vrings. */
    boolean running() {
        return device != null;
    }

    /** The queue pairs the device serves now (0 when it is not running). */
    int servedPairs() {
        return servedPairs;
    }

    /**
     * Handles {@code r}; returns the reply payload, or {@code null} when none is due. Fds the
     * request brought are taken or left in it for the caller to close.
     */
    byte[] handle(FrontendRequest r) throws VhostUserException, SysException {
        VhostUserRequest type = r.type();
        if (type == null) {
            throw r.violation("this back-end does not know the request");
        }
        byte[] reply = switch (type) {
            case GET_FEATURES -> {
                r.expectEmpty();
                yield VhostUserMessage.u64(offer.toLong());
            }
            case SET_FEATURES -> {
                setFeatures(r, FeatureSet.of(r.u64()));
                yield null;
            }
            case SET_OWNER -> {
                r.expectEmpty();
                yield null;
            }
            case RESET_OWNER -> {
                r.expectEmpty();
                reset();
                yield null;
            }
            case GET_PROTOCOL_FEATURES -> {
                r.expectEmpty();
                yield VhostUserMessage.u64(VhostUserProtocolFeature.mask(PROTOCOL_OFFER));
            }
            case SET_PROTOCOL_FEATURES -> {
                long p = r.u64();
                long offered = VhostUserProtocolFeature.mask(PROTOCOL_OFFER);
                if ((p & ~offered) != 0) {
                    throw r.violation(
                            String.format("asks for protocol features 0x%x; this back-end offers 0x%x", p, offered));
                }
                protocol = VhostUserProtocolFeature.of(p);
                yield null;
            }
            case GET_QUEUE_NUM -> {
                requireProtocol(r, VhostUserProtocolFeature.MQ);
                r.expectEmpty();
                // Queue pairs, as QEMU's vhost-user net and DPDK read it (QEMU's vhost_user_start refuses
                // queues= above it).
                yield VhostUserMessage.u64(vrings.length / 2);
            }
            case SET_MEM_TABLE -> {
                setMemTable(r);
                yield null;
            }
            case SET_VRING_NUM -> {
                FrontendRequest.VringState s = r.vringState();
                BackendVring v = vring(r, s.index());
                if (s.num() < 1 || s.num() > VringLayout.MAX_SIZE || Integer.bitCount(s.num()) != 1) {
                    throw r.violation("vring " + s.index() + " of size " + s.num()
                            + ": a split ring's size is a power of two from 1 to " + VringLayout.MAX_SIZE);
                }
                stopIfServed(v);
                v.num = s.num();
                yield null;
            }
            case SET_VRING_ADDR -> {
                FrontendRequest.VringAddress a = r.vringAddress();
                BackendVring v = vring(r, a.index());
                if (a.flags() != 0) {
                    throw r.violation(String.format(
                            "vring %d has flags 0x%x: dirty logging (VHOST_VRING_F_LOG) is "
                                    + "not offered by this back-end, and no other flag exists",
                            a.index(), a.flags()));
                }
                stopIfServed(v);
                v.address = a;
                yield null;
            }
            case SET_VRING_BASE -> {
                FrontendRequest.VringState s = r.vringState();
                BackendVring v = vring(r, s.index());
                if (s.num() < 0 || s.num() > 0xffff) {
                    throw r.violation("vring " + s.index() + " base " + Integer.toUnsignedString(s.num())
                            + ": a split ring's index is 16 bits");
                }
                stopIfServed(v);
                v.base = s.num();
                yield null;
            }
            case GET_VRING_BASE -> {
                FrontendRequest.VringState s = r.vringState();
                BackendVring v = vring(r, s.index());
                stopIfServed(v);
                v.started = false;
                yield VhostUserMessage.vringState(v.index, v.base);
            }
            case SET_VRING_KICK -> {
                FrontendRequest.VringFile f = r.vringFile();
                BackendVring v = vring(r, f.index(), f);
                if (f.fd() == null) {
                    throw r.violation("vring " + f.index() + " without a kick fd (NOFD): polling is not offered; "
                            + "this back-end waits on the kick eventfd");
                }
                stopIfServed(v);
                v.setKick(EventFd.adopt(f.fd()));
                v.started = true;
                if (!acked.has(VirtioFeature.PROTOCOL_FEATURES)) {
                    v.enabled = true;
                }
                yield null;
            }
            case SET_VRING_CALL -> {
                FrontendRequest.VringFile f = r.vringFile();
                BackendVring v = vring(r, f.index(), f);
                stopIfServed(v);
                // NOFD: the front-end polls the used ring; the device signals an eventfd nobody reads.
                v.setCall(f.fd() != null ? EventFd.adopt(f.fd()) : EventFd.create());
                yield null;
            }
            case SET_VRING_ERR -> {
                FrontendRequest.VringFile f = r.vringFile();
                BackendVring v = vring(r, f.index(), f);
                v.setErr(f.fd() != null ? EventFd.adopt(f.fd()) : null);
                yield null;
            }
            case SET_VRING_ENABLE -> {
                FrontendRequest.VringState s = r.vringState();
                BackendVring v = vring(r, s.index());
                if (!acked.has(VirtioFeature.PROTOCOL_FEATURES) && featuresSet) {
                    throw r.violation(
                            "VHOST_USER_F_PROTOCOL_FEATURES was not acknowledged: rings are enabled by their kick");
                }
                if (s.num() != 0 && s.num() != 1) {
                    throw r.violation("vring " + s.index() + " enable " + s.num() + ": 1 enables, 0 disables");
                }
                if (s.num() == 0) {
                    stopIfServed(v);
                }
                v.enabled = s.num() == 1;
                yield null;
            }
            default ->
                throw r.violation(String.format(
                        "not offered by this back-end (features 0x%x, protocol "
                                + "features 0x%x: no dirty log, RARP, MTU, config space or memory slots)",
                        offer.toLong(), VhostUserProtocolFeature.mask(PROTOCOL_OFFER)));
        };
        serveReadyPairs(r);
        if (reply == null && r.needReply() && protocol.contains(VhostUserProtocolFeature.REPLY_ACK)) {
            return VhostUserMessage.u64(0);
        }
        return reply;
    }

    private void setFeatures(FrontendRequest r, FeatureSet features) throws VhostUserException {
        FeatureSet unoffered = features.without(offer);
        if (!unoffered.isEmpty()) {
            throw r.violation(String.format(
                    "acknowledges features 0x%x that were not offered (offer 0x%x)",
                    unoffered.toLong(), offer.toLong()));
        }
        if (featuresSet && !features.equals(acked)) {
            stopDevice();
        }
        acked = features;
        featuresSet = true;
    }

    private void setMemTable(FrontendRequest r) throws VhostUserException {
        List<VhostUserMessage.MemRegion> regions = r.memTable();
        FrontendMemory mapped;
        try {
            mapped = FrontendMemory.map(regions, r.takeAll());
        } catch (SysException | IllegalArgumentException e) {
            throw r.violation("the regions do not map: " + e.getMessage());
        }
        stopDevice();
        if (memory != null) {
            memory.close();
        }
        memory = mapped;
        log.debug("vhost-user {}: memory table of {} regions mapped", peer, regions.size());
    }

    private void requireProtocol(FrontendRequest r, VhostUserProtocolFeature feature) throws VhostUserException {
        if (!protocol.contains(feature)) {
            throw r.violation("needs protocol feature " + feature + ", which was not negotiated");
        }
    }

    private BackendVring vring(FrontendRequest r, int index) throws VhostUserException {
        if (index < 0 || index >= vrings.length) {
            throw r.violation("vring " + index + ": this back-end has " + vrings.length / 2 + " queue pair"
                    + (vrings.length == 2 ? "" : "s") + ", vrings 0 to " + (vrings.length - 1));
        }
        return vrings[index];
    }

    /** As {@link #vring(FrontendRequest, int)}; closes the file's fd if the index is wrong. */
    private BackendVring vring(FrontendRequest r, int index, FrontendRequest.VringFile f) throws VhostUserException {
        try {
            return vring(r, index);
        } catch (VhostUserException e) {
            if (f.fd() != null) {
                f.fd().close();
            }
            throw e;
        }
    }

    /** The leading pairs whose two vrings are ready: those the device may serve. */
    private int readyPairs() {
        int pairs = 0;
        while (pairs < vrings.length / 2 && vrings[2 * pairs].ready() && vrings[2 * pairs + 1].ready()) {
            pairs++;
        }
        return pairs;
    }

    /**
     * Runs the device on the pairs ready now: starts it, or restarts it on more or fewer pairs
     * (from the bases the stop kept), or leaves it as it is.
     */
    private void serveReadyPairs(FrontendRequest r) throws VhostUserException, SysException {
        int ready = memory != null && featuresSet ? readyPairs() : 0;
        if (device != null && servedPairs == ready) {
            return;
        }
        stopDevice();
        if (ready == 0) {
            return;
        }
        steerTapTo(ready);
        try {
            NetDeviceConfig.Builder config = NetDeviceConfig.builder()
                    .memory(memory.table())
                    .tap(tap)
                    .txCopy(txCopy)
                    .driverFeatures(acked.without(VirtioFeature.PROTOCOL_FEATURES));
            int[] bases = new int[2 * ready];
            for (int p = 0; p < ready; p++) {
                config.queuePair(new QueuePair(virtqueue(vrings[2 * p]), virtqueue(vrings[2 * p + 1])));
                bases[2 * p] = vrings[2 * p].base;
                bases[2 * p + 1] = vrings[2 * p + 1].base;
            }
            device = EmulatedNetDevice.start(config.build(), VringBases.of(bases));
            servedPairs = ready;
            counters.serving(device);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw r.violation("the device cannot start on these vrings: " + e.getMessage());
        }
        log.info(
                "vhost-user {}: device running on {} of {} queue pairs (features {}, bases {})",
                peer,
                ready,
                vrings.length / 2,
                device.features().virtio(),
                device.bases());
    }

    /** Attaches the tap queues of pairs {@code [0, pairs)} and detaches the others: frames go only where they are read. */
    private void steerTapTo(int pairs) throws SysException {
        for (int p = 0; p < tap.queues().size(); p++) {
            TapQueue q = tap.queue(p);
            if (p < pairs && !q.isAttached()) {
                q.attach();
            } else if (p >= pairs && q.isAttached()) {
                q.detach();
            }
        }
    }

    private Virtqueue virtqueue(BackendVring v) {
        return new Virtqueue(v.layout(memory), v.kick, v.call);
    }

    /** Stops the device if it serves {@code v}: a vring of a pair not served changes nothing running. */
    private void stopIfServed(BackendVring v) {
        if (v.index < 2 * servedPairs) {
            stopDevice();
        }
    }

    private void stopDevice() {
        EmulatedNetDevice d = device;
        if (d == null) {
            return;
        }
        VringBases bases = d.stop();
        d.close();
        counters.closed(d);
        device = null;
        int stopped = servedPairs;
        servedPairs = 0;
        for (int p = 0; p < stopped; p++) {
            vrings[2 * p].base = bases.get(p, QueuePair.RX);
            vrings[2 * p + 1].base = bases.get(p, QueuePair.TX);
        }
        log.debug("vhost-user {}: device stopped at bases {}", peer, bases);
    }

    private void reset() {
        stopDevice();
        for (int i = 0; i < vrings.length; i++) {
            vrings[i].close();
            vrings[i] = new BackendVring(i);
        }
        featuresSet = false;
        acked = FeatureSet.NONE;
    }

    /** The device's frames dropped so far (0 when it is not running). */
    long dropped() {
        return device != null ? device.dropped() : 0;
    }

    /** Stops the device and closes the eventfds and the memory mappings; the tap stays the caller's. */
    @Override
    public void close() {
        stopDevice();
        for (BackendVring v : vrings) {
            v.close();
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
    }
}
