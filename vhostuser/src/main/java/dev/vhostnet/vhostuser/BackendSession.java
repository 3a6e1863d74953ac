package dev.vhostnet.vhostuser;

import com.google.common.collect.Sets;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapDevice;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The back-end's state for one front-end connection, as DPDK's {@code vhost_user.c} keeps it: the
 * features and protocol features agreed, the guest memory mapped from the front-end's fds, what each
 * of the two vrings of the one queue pair has been told, and the emulated device that serves them
 * on the tap once both are ready. Each request is checked before it changes anything; a request
 * that breaks the protocol is a {@link VhostUserException}, and the caller drops the connection.
 *
 * <p>The device runs while memory, features and both vrings are complete, both vrings started (a
 * kick) and enabled. A request that changes what a running device uses (memory, a ring, an
 * eventfd, the features) stops it first, keeping each vring's next available index as its base,
 * and the device starts again from there once the vrings are ready; {@code GET_VRING_BASE} stops
 * the vring it names until its next kick, as the spec says. Used on the connection's thread only.
 */
final class BackendSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackendSession.class);

    /** Protocol features this back-end offers: {@code MQ} (one queue pair) and {@code REPLY_ACK}. */
    static final Set<VhostUserProtocolFeature> PROTOCOL_OFFER =
            Sets.immutableEnumSet(VhostUserProtocolFeature.MQ, VhostUserProtocolFeature.REPLY_ACK);

    private final TapDevice tap;
    private final FeatureSet offer;
    private final String peer;
    private final BackendVring[] vrings = {new BackendVring(QueuePair.RX), new BackendVring(QueuePair.TX)};
    private FeatureSet acked = FeatureSet.NONE;
    private boolean featuresSet;
    private Set<VhostUserProtocolFeature> protocol = Set.of();
    private FrontendMemory memory;
    private EmulatedNetDevice device;
    private final BackendCounters counters;

    BackendSession(TapDevice tap, FeatureSet offer, String peer, BackendCounters counters) {
        this.tap = tap;
        this.offer = offer;
        this.peer = peer;
        this.counters = counters;
    }

    /** Whether the emulated device is serving the vrings. */
    boolean running() {
        return device != null;
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
                // Queue pairs, as QEMU's vhost-user net and DPDK read it (QEMU compares it with queues=).
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
                stopDevice();
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
                stopDevice();
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
                stopDevice();
                v.base = s.num();
                yield null;
            }
            case GET_VRING_BASE -> {
                FrontendRequest.VringState s = r.vringState();
                BackendVring v = vring(r, s.index());
                stopDevice();
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
                stopDevice();
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
                stopDevice();
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
                    stopDevice();
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
        startIfReady(r);
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
            throw r.violation("vring " + index + ": this back-end has one queue pair, vrings 0 (RX) and 1 (TX)");
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

    private void startIfReady(FrontendRequest r) throws VhostUserException, SysException {
        if (device != null || memory == null || !featuresSet || !vrings[0].ready() || !vrings[1].ready()) {
            return;
        }
        try {
            QueuePair pair = new QueuePair(virtqueue(vrings[0]), virtqueue(vrings[1]));
            NetDeviceConfig config = NetDeviceConfig.builder()
                    .memory(memory.table())
                    .tap(tap)
                    .queuePair(pair)
                    .driverFeatures(acked.without(VirtioFeature.PROTOCOL_FEATURES))
                    .build();
            device = EmulatedNetDevice.start(config, VringBases.of(vrings[0].base, vrings[1].base));
            counters.serving(device);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw r.violation("the device cannot start on these vrings: " + e.getMessage());
        }
        log.info(
                "vhost-user {}: device running (features {}, bases {}/{})",
                peer,
                device.features().virtio(),
                vrings[0].base,
                vrings[1].base);
    }

    private Virtqueue virtqueue(BackendVring v) {
        return new Virtqueue(v.layout(memory), v.kick, v.call);
    }

    private void stopDevice() {
        if (device == null) {
            return;
        }
        VringBases bases = device.stop();
        device.close();
        counters.closed(device);
        device = null;
        vrings[0].base = bases.get(0, QueuePair.RX);
        vrings[1].base = bases.get(0, QueuePair.TX);
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
