package dev.vhostnet.vhostuser;

import static dev.vhostnet.ctl.VirtioUapi.bit;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioUapi;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio-net device whose datapath runs in a vhost-user back-end (DPDK, OVS-DPDK...): the
 * vhost-user counterpart of {@link dev.vhostnet.ctl.VhostNetDevice}, in QEMU's order
 * ({@code vhost_dev_start}, then {@code vhost_net_start}'s {@code SET_VRING_ENABLE}).
 *
 * <p>A class of its own rather than {@code VhostNetDevice} with a vhost-user opener because there is
 * no tap: {@code NetDeviceConfig} requires one, and {@link Features#negotiate(dev.vhostnet.ctl.NetDeviceConfig, long)}
 * takes the net offloads from the tap, whereas here the back-end offers them itself. So features are
 * {@link #negotiate}d from the back-end's offer alone, and the result is the same
 * {@link Features.Negotiated} the driver is built from (no tap offloads).
 *
 * <p>Queue pair {@code p} runs on vrings {@code 2p}, {@code 2p+1} of the one connection
 * ({@link VhostUserFrontend#queuePair(int)}).
 */
public final class VhostUserNetDevice implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VhostUserNetDevice.class);

    /** Net offloads the back-end may grant (both directions): it offers them, the driver asks, both agree. */
    public static final long NET_OFFLOADS = Features.HOST_OFFLOADS | bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO);

    /** Ring and transport bits this library implements (no dirty log yet: LOG_SHMFD is not implemented). */
    public static final long RING_BITS = Features.SUPPORTED_VHOST_BITS & ~bit(dev.vhostnet.sys.VhostUapi.VHOST_F_LOG_ALL)
            & ~bit(dev.vhostnet.sys.VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);

    public enum State {
        RUNNING,
        STOPPED,
        CLOSED
    }

    private final VhostUserFrontend frontend;
    private final List<VhostUserFrontend> pairs;
    private final MemoryTable memory;
    private final ImmutableList<QueuePair> queuePairs;
    private final Features.Negotiated features;
    private final int[] bases;
    private State state;

    private VhostUserNetDevice(VhostUserFrontend frontend, List<VhostUserFrontend> pairs, MemoryTable memory,
            ImmutableList<QueuePair> queuePairs, Features.Negotiated features, int[] bases) {
        this.frontend = frontend;
        this.pairs = pairs;
        this.memory = memory;
        this.queuePairs = queuePairs;
        this.features = features;
        this.bases = bases;
    }

    /**
     * The features of a device on a back-end offering {@code offer} for a driver asking {@code driver}:
     * ring bits and net offloads both offered and asked, with the spec's offload dependencies; {@code MAC}
     * is the device model's (as in QEMU) and not sent to the back-end. {@code vhost()} is what
     * {@code SET_FEATURES} carries (the front-end adds bit 30 itself).
     */
    public static Features.Negotiated negotiate(long offer, long driver) {
        long vhost = offer & driver & (RING_BITS | NET_OFFLOADS);
        vhost = dropUnmetDependencies(vhost);
        long virtio = vhost | (driver & bit(VirtioUapi.VIRTIO_NET_F_MAC));
        boolean longHeader = (vhost & (bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF) | bit(VirtioUapi.VIRTIO_F_VERSION_1))) != 0;
        return new Features.Negotiated(virtio, vhost, ImmutableSet.of(),
                longHeader ? VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE : VirtioUapi.VIRTIO_NET_HDR_SIZE);
    }

    private static long dropUnmetDependencies(long f) {
        if ((f & bit(VirtioUapi.VIRTIO_NET_F_CSUM)) == 0) {
            f &= ~(bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6)
                    | bit(VirtioUapi.VIRTIO_NET_F_HOST_UFO) | bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN));
        }
        if ((f & (bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6))) == 0) {
            f &= ~bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN);
        }
        if ((f & bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)) == 0) {
            f &= ~(bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)
                    | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN));
        }
        if ((f & (bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6))) == 0) {
            f &= ~bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN);
        }
        return f;
    }

    /**
     * Brings the device up on {@code frontend}'s connection with every vring at index 0. The
     * device takes the front-end: closing the device closes the connection.
     */
    public static VhostUserNetDevice start(VhostUserFrontend frontend, MemoryTable memory, List<QueuePair> queuePairs,
            long driverFeatures) throws SysException {
        return start(frontend, memory, queuePairs, driverFeatures, new int[queuePairs.size() * 2]);
    }

    /** As {@link #start(VhostUserFrontend, MemoryTable, List, long)}, each vring from {@code bases[pair * 2 + vring]}. */
    public static VhostUserNetDevice start(VhostUserFrontend frontend, MemoryTable memory, List<QueuePair> queuePairs,
            long driverFeatures, int[] bases) throws SysException {
        Preconditions.checkArgument(!queuePairs.isEmpty(), "at least one queue pair");
        Preconditions.checkArgument(bases.length == queuePairs.size() * 2, "%s bases for %s vrings", bases.length,
                queuePairs.size() * 2);
        for (int p = 0; p < queuePairs.size(); p++) {
            for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                queuePairs.get(p).vring(v).layout().checkIn(memory, "vring " + (2 * p + v));
            }
        }
        try {
            List<VhostUserFrontend> pairs = new ArrayList<>();
            for (int p = 0; p < queuePairs.size(); p++) {
                pairs.add(frontend.queuePair(p));
            }
            step("SET_OWNER", "the device", frontend::setOwner);
            long offer = frontend.getFeatures();
            Features.Negotiated features = negotiate(offer, driverFeatures);
            log.debug("vhost-user features: driver 0x{}, back-end offer 0x{}, negotiated 0x{}",
                    Long.toHexString(driverFeatures), Long.toHexString(offer), Long.toHexString(features.vhost()));
            for (VhostUserFrontend pair : pairs) {
                step("SET_FEATURES", "queue pair " + pair.pair(), () -> pair.setFeatures(features.vhost()));
            }
            step("SET_MEM_TABLE", "the device", () -> frontend.setMemTable(memory));
            VhostUserNetDevice device = new VhostUserNetDevice(frontend, pairs, memory, ImmutableList.copyOf(queuePairs),
                    features, bases.clone());
            device.attachAll();
            return device;
        } catch (SysException | RuntimeException e) {
            frontend.close();
            throw e;
        }
    }

    /** Per vring: NUM, BASE, ADDR, KICK, CALL; then, the rings being set up, ENABLE for each; then a kick each. */
    private void attachAll() throws SysException {
        for (int p = 0; p < pairs.size(); p++) {
            VhostUserFrontend b = pairs.get(p);
            for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                int vring = v;
                String q = describe(p, v);
                Virtqueue queue = queuePairs.get(p).vring(v);
                VringLayout ring = queue.layout();
                int base = bases[p * 2 + v];
                step("SET_VRING_NUM", q, () -> b.setVringNum(vring, ring.size()));
                step("SET_VRING_BASE", q, () -> b.setVringBase(vring, base));
                step("SET_VRING_ADDR", q, () -> b.setVringAddr(vring,
                        memory.translate(ring.descGpa(), VringLayout.descBytes(ring.size())),
                        memory.translate(ring.usedGpa(), VringLayout.usedBytes(ring.size())),
                        memory.translate(ring.availGpa(), VringLayout.availBytes(ring.size())), false, 0));
                step("SET_VRING_KICK", q, () -> b.setVringKick(vring, queue.kick()));
                step("SET_VRING_CALL", q, () -> b.setVringCall(vring, queue.call()));
            }
        }
        if (frontend.protocolFeaturesNegotiated()) {
            for (int p = 0; p < pairs.size(); p++) {
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    VhostUserFrontend b = pairs.get(p);
                    step("SET_VRING_ENABLE", describe(p, v), () -> b.setVringEnable(vring, true));
                }
            }
        }
        for (int p = 0; p < pairs.size(); p++) {
            for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                Virtqueue queue = queuePairs.get(p).vring(v);
                step("kick", describe(p, v), () -> queue.kick().signal());
            }
        }
        state = State.RUNNING;
    }

    /**
     * Disables every vring ({@code SET_VRING_ENABLE 0}, with protocol features) and stops it with
     * {@code GET_VRING_BASE}, whose answer is saved; returns the bases, {@code pair * 2 + vring}.
     */
    public synchronized int[] stop() throws SysException {
        Preconditions.checkState(state == State.RUNNING, "device is %s, not running", state);
        if (frontend.protocolFeaturesNegotiated()) {
            for (int p = 0; p < pairs.size(); p++) {
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    VhostUserFrontend b = pairs.get(p);
                    step("SET_VRING_ENABLE", describe(p, v), () -> b.setVringEnable(vring, false));
                }
            }
        }
        for (int p = 0; p < pairs.size(); p++) {
            for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                int vring = v;
                VhostUserFrontend b = pairs.get(p);
                int[] got = new int[1];
                step("GET_VRING_BASE", describe(p, v), () -> got[0] = b.getVringBase(vring));
                bases[p * 2 + v] = got[0];
            }
        }
        state = State.STOPPED;
        return bases.clone();
    }

    /** Sets the rings up again from the bases {@link #stop()} saved. */
    public synchronized void restart() throws SysException {
        Preconditions.checkState(state == State.STOPPED, "device is %s, not stopped", state);
        attachAll();
    }

    public Features.Negotiated features() {
        return features;
    }

    public VhostUserFrontend frontend() {
        return frontend;
    }

    public synchronized State state() {
        return state;
    }

    public synchronized int[] bases() {
        return bases.clone();
    }

    /** Stops the device if it runs, then closes the connection. Memory and eventfds stay the caller's. */
    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        if (state == State.RUNNING && frontend.isOpen()) {
            try {
                stop();
            } catch (SysException | RuntimeException e) {
                log.warn("stopping before close: {}", e.getMessage());
            }
        }
        frontend.close();
        state = State.CLOSED;
    }

    static String describe(int pair, int vring) {
        return String.format("vring %d (%s) of pair %d", pair * 2 + vring, vring == QueuePair.RX ? "RX" : "TX", pair);
    }

    @FunctionalInterface
    private interface Step {
        void run() throws SysException;
    }

    /** Runs a step; a failure names the step and the vring. */
    private static void step(String name, String where, Step step) throws SysException {
        log.debug("{} on {}", name, where);
        try {
            step.run();
        } catch (VhostUserException e) {
            throw new VhostUserException(name + " on " + where, e.errno(), e.getMessage());
        }
    }
}
