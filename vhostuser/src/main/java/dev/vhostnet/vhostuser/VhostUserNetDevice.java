package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.DeviceLifecycle;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.ctl.vhost.VringDatapath;
import dev.vhostnet.ctl.vhost.VringSetup;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio-net device whose datapath runs in a vhost-user back-end (DPDK, OVS-DPDK...): the
 * vhost-user counterpart of {@link dev.vhostnet.ctl.kernel.VhostNetDevice}, in QEMU's order
 * ({@code vhost_dev_start}, then {@code vhost_net_start}'s {@code SET_VRING_ENABLE}). Its rings are
 * set up and stopped by the same {@link VringSetup} steps as vhost-net's, over {@link VhostUserFrontend}.
 *
 * <p>A class of its own rather than {@code VhostNetDevice} with a vhost-user opener because there is
 * no tap: {@code NetDeviceConfig} requires one, and {@link Features#negotiate(dev.vhostnet.ctl.NetDeviceConfig, FeatureSet)}
 * takes the net offloads from the tap, whereas here the back-end offers them itself. So features are
 * {@link #negotiate}d from the back-end's offer alone, and the result is the same
 * {@link Features.Negotiated} the driver is built from (no tap offloads).
 *
 * <p>Queue pair {@code p} runs on vrings {@code 2p}, {@code 2p+1} of the one connection
 * ({@link VhostUserFrontend#queuePair(int)}).
 *
 * <p>Reconnection (QEMU's {@code reconnect=} / {@code server=on} chardev): {@link #reconnect} takes a
 * new connection from a {@link VhostUserEndpoint} and sends the whole set-up again, each vring from
 * the base {@link #stop} saved or, when the back-end could not be asked (it died), from the used
 * index in guest memory. {@link #reconnectOnHangUp} does that by itself when the back-end hangs up.
 */
public final class VhostUserNetDevice implements NetDevice {
    private static final Logger log = LoggerFactory.getLogger(VhostUserNetDevice.class);

    /** Net offloads the back-end may grant (both directions): it offers them, the driver asks, both agree. */
    public static final FeatureSet NET_OFFLOADS = Features.HOST_OFFLOADS.with(Features.GUEST_OFFLOAD_BITS);

    /** Ring and transport bits this library implements (no dirty log yet: LOG_SHMFD is not implemented). */
    public static final FeatureSet RING_BITS =
            Features.SUPPORTED_VHOST_BITS.without(VirtioFeature.LOG_ALL, VirtioFeature.VIRTIO_NET_HDR);

    private final MemoryTable memory;
    private final ImmutableList<QueuePair> queuePairs;
    private final FeatureSet driverFeatures;
    private final DeviceLifecycle lifecycle;
    /** From the first set-up; every later back-end must grant the same, since the driver runs with them. */
    private Features.Negotiated features;

    private VhostUserFrontend frontend;
    private List<VhostUserFrontend> pairs;
    private List<VringDatapath> datapaths;
    private MemoryTable.Lease lease;
    private int connections;
    private volatile boolean closing;
    private Thread watcher;
    private SysException reconnectFailure;
    /** Pairs {@code [0, enabledPairs)} have their vrings enabled ({@link #enablePairs}). */
    private int enabledPairs;

    private VhostUserNetDevice(
            MemoryTable memory, ImmutableList<QueuePair> queuePairs, FeatureSet driverFeatures, VringBases bases) {
        this.memory = memory;
        this.queuePairs = queuePairs;
        this.driverFeatures = driverFeatures;
        this.lifecycle = new DeviceLifecycle("vhost-user device", State.DISCONNECTED, bases);
        this.enabledPairs = queuePairs.size();
    }

    /**
     * The features of a device on a back-end offering {@code offer} for a driver asking {@code driver}:
     * ring bits and net offloads both offered and asked, with the spec's offload dependencies; {@code MAC}
     * is the device model's (as in QEMU) and not sent to the back-end. {@code vhost()} is what
     * {@code SET_FEATURES} carries (the front-end adds bit 30 itself).
     */
    public static Features.Negotiated negotiate(FeatureSet offer, FeatureSet driver) {
        FeatureSet vhost = Features.dropUnmetDependencies(offer.and(driver).and(RING_BITS.with(NET_OFFLOADS)));
        FeatureSet virtio = driver.has(VirtioFeature.MAC) ? vhost.with(VirtioFeature.MAC) : vhost;
        return new Features.Negotiated(virtio, vhost, ImmutableSet.of(), Features.vnetHeaderSize(vhost));
    }

    /**
     * Brings the device up on {@code frontend}'s connection with every vring at index 0. The
     * device takes the front-end: closing the device closes the connection.
     */
    public static VhostUserNetDevice start(
            VhostUserFrontend frontend, MemoryTable memory, List<QueuePair> queuePairs, FeatureSet driverFeatures)
            throws SysException, VhostStepException {
        return start(frontend, memory, queuePairs, driverFeatures, VringBases.zero(queuePairs.size()));
    }

    /** As {@link #start(VhostUserFrontend, MemoryTable, List, FeatureSet)}, each vring from its base in {@code bases}. */
    public static VhostUserNetDevice start(
            VhostUserFrontend frontend,
            MemoryTable memory,
            List<QueuePair> queuePairs,
            FeatureSet driverFeatures,
            VringBases bases)
            throws SysException, VhostStepException {
        Preconditions.checkArgument(!queuePairs.isEmpty(), "at least one queue pair");
        bases.checkPairs(queuePairs.size());
        for (int p = 0; p < queuePairs.size(); p++) {
            for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                queuePairs.get(p).vring(v).layout().checkIn(memory, "vring " + (2 * p + v));
            }
        }
        VhostUserNetDevice device =
                new VhostUserNetDevice(memory, ImmutableList.copyOf(queuePairs), driverFeatures, bases);
        device.lifecycle.lock();
        try {
            device.lease = memory.lease("vhost-user device on " + frontend.peer());
            device.setUp(frontend);
        } catch (SysException | VhostStepException | RuntimeException e) {
            frontend.close();
            if (device.lease != null) {
                device.lease.close();
            }
            throw e;
        } finally {
            device.lifecycle.unlock();
        }
        return device;
    }

    /**
     * The whole set-up on {@code fresh}: SET_OWNER, GET_FEATURES, SET_FEATURES (per pair),
     * SET_MEM_TABLE, then every vring from the saved bases, enabled. Called with the lock held.
     */
    private void setUp(VhostUserFrontend fresh) throws SysException, VhostStepException {
        List<VhostUserFrontend> views = new ArrayList<>();
        List<VringDatapath> paths = new ArrayList<>();
        for (int p = 0; p < queuePairs.size(); p++) {
            views.add(fresh.queuePair(p));
            paths.add(views.get(p).datapath());
        }
        VringSetup.step("SET_OWNER", "the device", fresh::setOwner);
        FeatureSet offer = FeatureSet.of(fresh.getFeatures());
        Features.Negotiated granted = negotiate(offer, driverFeatures);
        log.debug(
                "vhost-user features: driver {}, back-end offer {}, negotiated {}",
                driverFeatures,
                offer,
                granted.vhost());
        if (features != null && !granted.vhost().equals(features.vhost())) {
            throw VhostUserException.unsupported(
                    "GET_FEATURES on " + fresh.peer(),
                    String.format(
                            "the new back-end grants 0x%x, but the driver runs with 0x%x: start the back-end with the same "
                                    + "features, or reset the device",
                            granted.vhost().toLong(), features.vhost().toLong()));
        }
        for (VhostUserFrontend pair : views) {
            VringSetup.step(
                    "SET_FEATURES",
                    "queue pair " + pair.pair(),
                    () -> pair.setFeatures(granted.vhost().toLong()));
        }
        VringSetup.step("SET_MEM_TABLE", "the device", () -> fresh.setMemTable(memory));
        features = granted;
        frontend = fresh;
        pairs = views;
        datapaths = paths;
        lifecycle.start(this::attachAll, State.DISCONNECTED);
        connections++;
        lifecycle.signal();
    }

    /**
     * Per pair ({@link VringSetup#attach}): NUM, BASE, ADDR, KICK, CALL for each vring; then, the rings
     * being set up, ENABLE for each (the vhost-user form of attaching the datapath); then a kick each.
     */
    private void attachAll(VringBases bases) throws VhostStepException {
        for (int p = 0; p < pairs.size(); p++) {
            VringSetup.attach(
                    pairs.get(p),
                    p,
                    queuePairs.get(p),
                    memory,
                    bases,
                    null,
                    false,
                    p < enabledPairs ? datapaths.get(p) : DISABLED);
        }
    }

    /** The datapath step of a disabled pair: its vrings are set up and stay disabled. */
    private static final VringDatapath DISABLED = VringDatapath.none("SET_VRING_ENABLE (pair disabled)");

    /**
     * Moves packets on pairs {@code [0, count)} only: {@code SET_VRING_ENABLE} 0 on both vrings of a
     * pair disabled, 1 (and a kick) on one enabled again — QEMU's {@code vhost_set_vring_enable} from
     * {@code virtio_net_set_queue_pairs}. Without protocol features the back-end cannot be told: its
     * rings run as long as they are kicked.
     */
    @Override
    public void enablePairs(int count) throws VhostStepException {
        Preconditions.checkArgument(
                count >= 1 && count <= queuePairs.size(), "%s of %s queue pairs", count, queuePairs.size());
        lifecycle.lock();
        try {
            Preconditions.checkState(lifecycle.state() != State.CLOSED, "device is closed");
            boolean running = lifecycle.state() == State.RUNNING;
            for (int p = enabledPairs - 1; p >= count && running; p--) {
                VringDatapath path = datapaths.get(p);
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    VringSetup.step(path.request(), QueuePair.describe(p, v), () -> path.detach(vring));
                }
            }
            for (int p = enabledPairs; p < count && running; p++) {
                VringDatapath path = datapaths.get(p);
                QueuePair rings = queuePairs.get(p);
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    VringSetup.step(path.request(), QueuePair.describe(p, v), () -> path.attach(vring));
                    VringSetup.step(
                            "kick",
                            QueuePair.describe(p, v),
                            () -> rings.vring(vring).kick().signal());
                }
            }
            enabledPairs = count;
        } finally {
            lifecycle.unlock();
        }
    }

    @Override
    public int enabledPairs() {
        return lifecycle.read(() -> enabledPairs);
    }

    private VringSetup.Detached detachAll(VringBases bases) {
        return VringSetup.detachAll(pairs, queuePairs, datapaths, memory, bases);
    }

    /**
     * Disables every vring ({@code SET_VRING_ENABLE 0}, with protocol features) and stops it with
     * {@code GET_VRING_BASE}, whose answer is saved ({@link VringSetup#detachAll}); returns the bases.
     */
    @Override
    public VringBases stop() throws VhostStepException {
        VringSetup.Detached detached = lifecycle.stop(this::detachAll);
        detached.throwIfFailed();
        return detached.bases();
    }

    /** Sets the rings up again from the bases {@link #stop()} saved. */
    @Override
    public void restart() throws VhostStepException {
        lifecycle.start(this::attachAll);
    }

    /**
     * Lets go of the back-end and sets the device up on a new connection from {@code endpoint},
     * waiting for it up to {@code timeout}: protocol negotiation, SET_OWNER, features (the same as
     * before, or it fails), SET_MEM_TABLE, every vring, enable; the device then runs. Each vring resumes
     * from the base {@link #stop} saved when the device was stopped; from a running device the bases
     * are asked for first ({@code GET_VRING_BASE}), and where the back-end cannot answer (it died),
     * every vring resumes from its used index in guest memory — frames the back-end had taken but
     * not returned are lost, none is repeated. A failure leaves the device {@link State#DISCONNECTED}
     * (call again) and nothing of the new connection open.
     */
    public void reconnect(VhostUserEndpoint endpoint, Duration timeout) throws SysException, VhostStepException {
        lifecycle.lock();
        try {
            Preconditions.checkState(lifecycle.state() != State.CLOSED, "device is closed");
            disconnect();
        } finally {
            lifecycle.unlock();
        }
        VhostUserFrontend fresh = endpoint.open(timeout, () -> closing);
        lifecycle.lock();
        try {
            try {
                if (lifecycle.state() != State.DISCONNECTED) {
                    throw VhostUserEndpoint.cancelled("reconnect(" + endpoint.path() + ")");
                }
                setUp(fresh);
            } catch (SysException | VhostStepException | RuntimeException e) {
                fresh.close();
                throw e;
            }
        } finally {
            lifecycle.unlock();
        }
        log.info("vhost-user device running again on {} (connection {})", endpoint.path(), connections);
    }

    /** Saves the bases to resume from, closes the connection, and marks the device disconnected. */
    private void disconnect() {
        if (lifecycle.state() == State.RUNNING) {
            if (frontend.hasHungUp()) {
                // Nothing to ask: each GET_VRING_BASE then fails at once, and VringSetup.detach takes the used index.
                frontend.close();
            }
            VhostStepException failure = lifecycle.stop(this::detachAll).failure();
            if (failure != null) {
                log.warn(
                        "stopping the rings of the lost back-end: {}; resuming from {}",
                        failure.getMessage(),
                        lifecycle.bases());
            }
        }
        if (lifecycle.state() != State.DISCONNECTED) {
            frontend.close();
            lifecycle.moveTo(State.DISCONNECTED);
        }
    }

    /**
     * Watches the connection (every 50 ms, a peek that reads nothing) and, when the back-end of the
     * running device hangs up, {@link #reconnect}s through {@code endpoint} within {@code timeout}. If
     * that fails the watcher gives up: the failure is kept ({@link #awaitRunning} throws it). Closing the
     * device stops the watcher, also while it waits for a back-end.
     */
    public void reconnectOnHangUp(VhostUserEndpoint endpoint, Duration timeout) {
        reconnectOnHangUp(endpoint, timeout, connected -> {});
    }

    /**
     * As {@link #reconnectOnHangUp(VhostUserEndpoint, Duration)}, telling {@code listener} (on the
     * watcher's thread) when the back-end is lost and when the device runs again on a new one: QEMU's
     * {@code CHR_EVENT_CLOSED} and {@code CHR_EVENT_OPENED}, on which a device model sets its link down
     * and up ({@code net_vhost_user_event}).
     */
    public void reconnectOnHangUp(VhostUserEndpoint endpoint, Duration timeout, BackEndListener listener) {
        lifecycle.lock();
        try {
            Preconditions.checkState(lifecycle.state() != State.CLOSED, "device is closed");
            Preconditions.checkState(watcher == null || !watcher.isAlive(), "already watching");
            reconnectFailure = null;
            watcher = new Thread(
                    new HangUpWatcher(this, endpoint, timeout, listener), "vhost-user-reconnect " + endpoint.path());
            watcher.setDaemon(true);
            watcher.start();
        } finally {
            lifecycle.unlock();
        }
    }

    /** Told by {@link #reconnectOnHangUp} when the back-end goes and when a new one runs the device. */
    @FunctionalInterface
    public interface BackEndListener {
        /** False: the back-end hung up and the rings are being stopped; true: the device runs on a new one. */
        void backEnd(boolean connected);
    }

    /** Whether the running device's back-end is gone (for the watcher). */
    boolean hasLostBackEnd() {
        return lifecycle.read(() -> lifecycle.state() == State.RUNNING && frontend.hasHungUp());
    }

    boolean isClosing() {
        return closing;
    }

    /** The watcher gave up. */
    void reconnectFailed(SysException e) {
        lifecycle.lock();
        try {
            reconnectFailure = e;
            lifecycle.signal();
        } finally {
            lifecycle.unlock();
        }
    }

    /**
     * Waits up to {@code timeout} until the device runs on its {@code connection}-th connection (1: the
     * one it started on); false if it does not by then. Throws the failure of a reconnection given up.
     */
    public boolean awaitRunning(int connection, Duration timeout) throws SysException, InterruptedException {
        boolean running = lifecycle.await(
                () -> reconnectFailure != null
                        || lifecycle.state() == State.CLOSED
                        || (lifecycle.state() == State.RUNNING && connections >= connection),
                timeout);
        lifecycle.lock();
        try {
            if (reconnectFailure != null) {
                throw reconnectFailure;
            }
            return running && lifecycle.state() == State.RUNNING && connections >= connection;
        } finally {
            lifecycle.unlock();
        }
    }

    /** Connections the device was set up on: 1 at start, one more per reconnection. */
    public int connections() {
        return lifecycle.read(() -> connections);
    }

    @Override
    public BackendChoice.Kind kind() {
        return BackendChoice.Kind.VHOST_USER;
    }

    @Override
    public Features.Negotiated features() {
        return features;
    }

    /** The front-end of the current (or last) connection. */
    public VhostUserFrontend frontend() {
        return lifecycle.read(() -> frontend);
    }

    /** {@link State#DISCONNECTED} when the back-end is gone: {@link #reconnect} sets the device up again on a new one. */
    @Override
    public State state() {
        return lifecycle.state();
    }

    @Override
    public VringBases bases() {
        return lifecycle.bases();
    }

    /**
     * Nothing counted here: the back-end process moves the frames and vhost-user has no request to
     * read its counters (ask the back-end: {@code vhostnet status} for this project's), and this
     * front-end gives the back-end no err eventfd. One empty entry per queue pair, no tap.
     */
    @Override
    public NetDeviceCounters counters() {
        return new NetDeviceCounters(
                kind(),
                ImmutableList.copyOf(Collections.nCopies(queuePairs.size(), NetDeviceCounters.Pair.NONE)),
                Optional.empty());
    }

    /**
     * Stops reconnecting, stops the device if it runs, then closes the connection. Memory and eventfds
     * stay the caller's.
     */
    @Override
    public void close() {
        closing = true;
        Thread w;
        lifecycle.lock();
        try {
            w = watcher;
        } finally {
            lifecycle.unlock();
        }
        if (w != null && w != Thread.currentThread()) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        lifecycle.lock();
        try {
            if (lifecycle.state() == State.RUNNING && !frontend.isOpen()) {
                lifecycle.moveTo(State.DISCONNECTED);
            }
            lifecycle.close(this::detachAll, () -> {
                frontend.close();
                lease.close();
            });
        } finally {
            lifecycle.unlock();
        }
    }
}
