package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioUapi.bit;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedNetDevice;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapQueue;
import dev.vhostnet.vhostuser.VhostUserEndpoint;
import dev.vhostnet.vhostuser.VhostUserFrontend;
import dev.vhostnet.vhostuser.VhostUserNetDevice;
import dev.vhostnet.virtio.Notifiers;
import dev.vhostnet.virtio.QueueConfig;
import dev.vhostnet.virtio.VirtioDevice;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio-net device as a guest sees it, for a transport ({@code VirtioMmioTransport},
 * {@code VirtioPciTransport}) to drive: what QEMU's {@code hw/net/virtio-net.c} is beside
 * {@code vhost_net.c}. Built from the VMM's choices (MAC, MTU, queue pairs, link, backend) and what
 * the backend and the tap can do, it
 * <ul>
 * <li>offers the backend's ring features ∩ the tap's offloads ∩ the VMM's allowance, with the device
 *     model's own (MAC, status, control queue, multiqueue, MTU, speed/duplex)
 *     ({@code virtio_net_get_features});
 * <li>refuses, at {@code FEATURES_OK}, a subset breaking virtio 1.x's dependencies (§5.1.3.1);
 * <li>shows {@code struct virtio_net_config} ({@code virtio_net_get_config});
 * <li>on {@code DRIVER_OK} starts the backend on the queues the driver set up — the kernel's
 *     vhost-net, the emulated device or a vhost-user back-end, through the {@code NetDevice}
 *     classes — and serves the control queue in this process ({@code virtio_net_set_status},
 *     {@code vhost_net_start});
 * <li>on reset stops the backend and the control queue and keeps nothing of the old rings, so the
 *     driver can initialise it again ({@code vhost_net_stop}, {@code virtio_net_reset});
 * <li>asks for a reset ({@code DEVICE_NEEDS_RESET} and a configuration interrupt) when the driver
 *     breaks a queue or vhost reports a vring error;
 * <li>when a vhost-user back-end hangs up, sets the link down (a configuration interrupt) and
 *     reconnects, resuming the rings from their used indexes, then sets the link up again — QEMU's
 *     {@code net_vhost_user_event} on {@code CHR_EVENT_CLOSED} / {@code CHR_EVENT_OPENED}; no reset.
 * </ul>
 * Calls from the transport come one at a time from the VMM's exit loop and never throw into it but
 * from {@link #activate}, which the transport turns into {@code DEVICE_NEEDS_RESET}; what the guest
 * gets wrong is counted ({@link #counters()}).
 */
public final class VirtioNetDevice implements VirtioDevice, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VirtioNetDevice.class);
    /** {@code VIRTIO_ID_NET}. */
    public static final int DEVICE_TYPE = 1;
    /** The control queue's size: QEMU's (64). */
    public static final int CONTROL_QUEUE_SIZE = 64;

    private final MemoryTable memory;
    private final TapDevice tap;
    private final VhostUserEndpoint vhostUser;
    private final TxCopy txCopy;
    private final Duration connectTimeout;
    /** The backend the next start uses and the running one, if any ({@link #switchBackend}). */
    private volatile BackendChoice.Kind kind;

    private final int maxPairs;
    private final int queueSize;
    private final long offer;
    private final NetConfigSpace config;
    private final VirtioNetCounters counters = new VirtioNetCounters();
    private final AtomicReference<RxFilter> rxFilter = new AtomicReference<>(RxFilter.RESET);
    private final AtomicInteger generation = new AtomicInteger();
    private final ExecutorService reporter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "virtio-net-needs-reset");
        t.setDaemon(true);
        return t;
    });
    private VhostUserFrontend firstConnection;
    private long features;
    /** The VMM's link state ({@link #setLinkUp}); the driver sees it and'ed with {@link #backEndUp}. */
    private volatile boolean linkUp;
    /** False while a vhost-user back-end is gone (QEMU's {@code link_down} set by {@code chr_closed_bh}). */
    private volatile boolean backEndUp = true;

    private volatile Notifiers notifiers;
    private volatile NetDevice backend;
    private ControlQueue control;
    /**
     * Held while the running backend changes or is told to change its pairs: by a switch, the
     * control queue's thread, a start and a stop. Never held while joining a thread, so a reset
     * (which joins the control queue's thread holding this device's monitor) cannot deadlock.
     */
    private final Object datapath = new Object();
    /** The running backend's rings, driver features and generation: what a switch starts the other on. */
    private List<QueuePair> rings = List.of();

    private long driverFeatures;
    private int runningGeneration;

    private VirtioNetDevice(Builder b, BackendChoice.Kind kind, long offer, VhostUserFrontend firstConnection) {
        this.memory = b.memory;
        this.tap = b.tap;
        this.vhostUser = b.vhostUser;
        this.connectTimeout = b.connectTimeout;
        this.txCopy = b.txCopy;
        this.kind = kind;
        this.maxPairs = b.maxPairs;
        this.queueSize = b.queueSize;
        this.offer = offer;
        this.firstConnection = firstConnection;
        this.linkUp = b.linkUp;
        this.config = new NetConfigSpace(b.mac, b.linkUp, b.maxPairs, b.mtu, b.speed, b.duplex, offer);
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---- VirtioDevice ----

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    /** {@code 2·max_virtqueue_pairs} data queues, then the control queue when offered. */
    @Override
    public int queueCount() {
        return 2 * maxPairs + ((offer & NetFeatures.CTRL_VQ) != 0 ? 1 : 0);
    }

    @Override
    public int queueMaxSize(int queue) {
        return queue == 2 * maxPairs ? CONTROL_QUEUE_SIZE : queueSize;
    }

    @Override
    public long deviceFeatures() {
        return offer;
    }

    @Override
    public boolean featuresOk(long driver) {
        String unmet = NetFeatures.unmetDependency(driver);
        if (unmet != null) {
            counters.count(Refusal.FEATURES, "features 0x" + Long.toHexString(driver) + ": " + unmet);
            return false;
        }
        return true;
    }

    @Override
    public void ackFeatures(long driver) {
        features = driver;
    }

    @Override
    public int configSize() {
        return config.size();
    }

    @Override
    public void readConfig(int offset, byte[] data) {
        config.read(offset, data);
    }

    /**
     * Refused and counted: with virtio 1.x the whole space is read-only to the driver (QEMU's
     * {@code virtio_net_set_config} writes only a legacy driver's MAC; the MAC is changed with
     * {@code CTRL_MAC_ADDR}).
     */
    @Override
    public void writeConfig(int offset, byte[] data) {
        counters.count(Refusal.CONFIG_WRITE, data.length + " bytes at config offset " + offset);
    }

    /**
     * {@code DRIVER_OK}: the rings of pair {@code p} are queues {@code 2p} (RX) and {@code 2p+1} (TX)
     * of {@code max_virtqueue_pairs} pairs with {@code MQ}, of one without; the control queue follows
     * them (index 2N, virtio 1.x §5.1.2). Every queue of those pairs must be enabled and inside guest
     * memory before the backend is asked. With {@code MQ} the device starts on one pair, as QEMU
     * ({@code curr_queue_pairs = 1}) until the driver sends {@code VQ_PAIRS_SET}.
     */
    @Override
    public void activate(List<QueueConfig> queues, Notifiers notifiers) throws Exception {
        long f = features;
        int pairs = (f & NetFeatures.MQ) != 0 ? maxPairs : 1;
        QueueConfig[] byIndex = new QueueConfig[queueCount()];
        queues.forEach(q -> byIndex[q.index()] = q);
        List<QueuePair> rings = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            rings.add(new QueuePair(
                    virtqueue(byIndex[2 * p], 2 * p, notifiers), virtqueue(byIndex[2 * p + 1], 2 * p + 1, notifiers)));
        }
        QueueConfig ctrl = (f & NetFeatures.CTRL_VQ) != 0 ? byIndex[2 * pairs] : null;
        if (ctrl != null) {
            checkInside(ctrl);
        }
        int gen = generation.get();
        NetDevice device;
        synchronized (datapath) {
            try {
                device = startBackend(kind, rings, f & ~NetFeatures.MODEL_BITS, gen, VringBases.zero(rings.size()));
            } catch (IOException | RuntimeException e) {
                counters.count(Refusal.BACKEND_START, kind + ": " + e.getMessage());
                throw e;
            }
            try {
                detachTapQueuesFrom(pairs);
                if (pairs > 1) {
                    device.enablePairs(1);
                }
            } catch (IOException | RuntimeException e) {
                counters.count(Refusal.BACKEND_START, kind + ": " + e.getMessage());
                stop(device);
                throw e;
            }
            this.backend = device;
            this.rings = List.copyOf(rings);
            this.driverFeatures = f & ~NetFeatures.MODEL_BITS;
            this.runningGeneration = gen;
        }
        try {
            if (ctrl != null) {
                ControlCommands commands =
                        new ControlCommands(f, maxPairs, config, rxFilter, counters, commandTarget());
                control = new ControlQueue(
                        memory,
                        layout(ctrl),
                        f,
                        ctrl.index(),
                        notifiers.kick(ctrl.index()),
                        notifiers.call(ctrl.index()),
                        commands,
                        counters,
                        () -> needsReset(gen));
                control.start();
            }
        } catch (IOException | RuntimeException e) {
            counters.count(Refusal.BACKEND_START, "control queue: " + e.getMessage());
            closeControlQueue();
            synchronized (datapath) {
                stop(backend);
                backend = null;
            }
            throw e;
        }
        this.notifiers = notifiers;
        if (device instanceof VhostUserNetDevice vu) {
            vu.reconnectOnHangUp(vhostUser, connectTimeout, connected -> backEndLink(gen, connected));
        }
        showLink(notifiers);
        counters.activated();
        log.debug(
                "virtio-net device running on {} with features 0x{}, {} of {} pairs set up, control queue {}",
                kind,
                Long.toHexString(f),
                pairs,
                maxPairs,
                ctrl == null ? "none" : ctrl.index());
    }

    private Virtqueue virtqueue(QueueConfig q, int index, Notifiers notifiers) {
        if (q == null) {
            String what = "queue " + index + " is not enabled: a driver enables every queue of the pairs it uses";
            counters.count(Refusal.QUEUES, what);
            throw new IllegalStateException(what);
        }
        checkInside(q);
        return new Virtqueue(layout(q), notifiers.kick(index), notifiers.call(index));
    }

    private void checkInside(QueueConfig q) {
        try {
            q.checkInside(memory);
        } catch (IllegalArgumentException e) {
            counters.count(Refusal.QUEUES, e.getMessage());
            throw e;
        }
    }

    private static VringLayout layout(QueueConfig q) {
        return new VringLayout(q.size(), q.descTable(), q.availRing(), q.usedRing());
    }

    private NetDevice startBackend(
            BackendChoice.Kind kind, List<QueuePair> rings, long driver, int gen, VringBases bases) throws IOException {
        if (kind == BackendChoice.Kind.VHOST_USER) {
            VhostUserFrontend connection =
                    firstConnection != null ? firstConnection : vhostUser.open(connectTimeout, () -> false);
            firstConnection = null;
            VhostUserNetDevice device = VhostUserNetDevice.start(connection, memory, rings, FeatureSet.of(driver));
            if ((device.features().virtio().toLong() & driver) != driver) {
                device.close();
                throw new IllegalStateException(String.format(
                        "the vhost-user back-end grants 0x%x of the 0x%x the driver " + "took",
                        device.features().virtio().toLong() & driver, driver));
            }
            return device;
        }
        NetDeviceConfig.Builder b = NetDeviceConfig.builder()
                .memory(memory)
                .tap(tap)
                .txCopy(txCopy)
                .driverFeatures(FeatureSet.of(driver))
                .requireAll(true)
                .onVringError((pair, vring, count) -> {
                    counters.count(Refusal.VRING_ERROR, QueuePair.describe(pair, vring) + " (" + count + " times)");
                    needsReset(gen);
                });
        rings.forEach(b::queuePair);
        return NetDevices.start(b.build(), kind, bases);
    }

    /**
     * Moves the datapath to {@code target}, the kernel's vhost-net or the emulated device, under the
     * guest's traffic and without its driver knowing: the running backend stops and hands over where
     * each vring stands ({@code VHOST_GET_VRING_BASE}), and {@code target} starts from there on the
     * same rings, eventfds and tap, with the pairs the driver enabled; nothing is lost or used twice.
     * The control queue keeps running. If {@code target} cannot start (no vhost-net; a feature the
     * driver took that it lacks) the old backend resumes from the same bases, or, if it cannot either,
     * the driver is asked for a reset; the error is thrown.
     * Before {@code DRIVER_OK} it only picks the backend the next start uses. Not for vhost-user.
     */
    public void switchBackend(BackendChoice.Kind target) throws IOException {
        synchronized (datapath) {
            moveTo(target);
        }
    }

    private void moveTo(BackendChoice.Kind target) throws IOException {
        Preconditions.checkArgument(
                target == BackendChoice.Kind.KERNEL || target == BackendChoice.Kind.EMULATED,
                "a device switches between KERNEL and EMULATED, not to %s",
                target);
        Preconditions.checkState(tap != null, "a vhost-user device has no tap to switch backends on");
        NetDevice from = backend;
        BackendChoice.Kind before = kind;
        if (target == before) {
            return;
        }
        kind = target;
        if (from == null) {
            return;
        }
        int enabled = from.enabledPairs();
        VringBases bases = from.stop();
        from.close();
        attachTapQueues();
        detachTapQueuesFrom(rings.size());
        NetDevice to;
        try {
            to = startBackend(target, rings, driverFeatures, runningGeneration, bases);
        } catch (IOException | RuntimeException e) {
            counters.count(Refusal.BACKEND_START, target + ": " + e.getMessage());
            kind = before;
            backend = resume(before, bases, enabled, e);
            throw e;
        }
        enable(to, enabled);
        backend = to;
        log.info("virtio-net device moved from {} to {} at {}", before, target, bases);
    }

    /**
     * The old backend again, from the bases the failed move started from; if it cannot start either,
     * no backend and a reset asked of the driver ({@code DEVICE_NEEDS_RESET}), the reason added to
     * {@code failure}.
     */
    private NetDevice resume(BackendChoice.Kind before, VringBases bases, int enabled, Exception failure) {
        NetDevice resumed = null;
        try {
            resumed = startBackend(before, rings, driverFeatures, runningGeneration, bases);
            enable(resumed, enabled);
            return resumed;
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
            counters.count(Refusal.BACKEND_START, before + " again: " + e.getMessage());
            if (resumed != null) {
                resumed.close();
            }
            needsReset(runningGeneration);
            return null;
        }
    }

    private void enable(NetDevice device, int pairs) throws IOException {
        if (pairs < rings.size()) {
            device.enablePairs(pairs);
        }
    }

    /** A driver without {@code MQ} uses one pair: the tap steers nothing to the other queues (QEMU's {@code peer_detach}). */
    private void detachTapQueuesFrom(int pairs) throws SysException {
        if (tap != null) {
            for (int q = pairs; q < tap.queues().size(); q++) {
                tap.queue(q).detach();
            }
        }
    }

    /** What the control queue changes: the backend running when a command comes, whichever that is. */
    private ControlCommands.Target commandTarget() {
        return new ControlCommands.Target() {
            @Override
            public void enablePairs(int count) throws IOException {
                synchronized (datapath) {
                    NetDevice device = backend;
                    if (device != null) {
                        device.enablePairs(count);
                    }
                }
            }

            /** {@code virtio_net_apply_guest_offloads}: {@code TUNSETOFFLOAD} with what the driver allows now. */
            @Override
            public void setGuestOffloads(long offloads) throws IOException {
                Set<Offload> wanted = EnumSet.noneOf(Offload.class);
                for (Map.Entry<VirtioFeature, Offload> e : Features.GUEST_OFFLOADS.entrySet()) {
                    if ((offloads & bit(e.getKey().bit())) != 0) {
                        wanted.add(e.getValue());
                    }
                }
                Set<Offload> took = tap.setOffloads(wanted);
                if (!took.equals(wanted)) {
                    throw new IOException("tap " + tap.name() + " took offloads " + took + " of " + wanted);
                }
            }
        };
    }

    /**
     * Asks the transport for a reset from another thread (the control queue's, a vhost error
     * watcher's, an event loop's) without blocking it: a reset may be joining that thread. The
     * request is dropped if the driver reset the device since {@code gen} started; the transport's
     * {@link Notifiers} serialise with its register accesses, so the check and the request are one
     * step against a reset.
     */
    private void needsReset(int gen) {
        whileRunning(gen, Notifiers::requestReset);
    }

    /**
     * The vhost-user back-end went ({@code chr_closed_bh}: {@code qmp_set_link(false)}) or a new one
     * runs the rings ({@code CHR_EVENT_OPENED}: {@code qmp_set_link(true)}): the driver sees the link
     * follow, with a configuration interrupt.
     */
    private void backEndLink(int gen, boolean connected) {
        log.info("vhost-user back-end {}: link {}", connected ? "back" : "gone", connected ? "up" : "down");
        whileRunning(gen, n -> {
            backEndUp = connected;
            showLink(n);
        });
    }

    /** Runs {@code action} on the reporter thread, unless the driver reset the device since {@code gen} started. */
    private void whileRunning(int gen, Consumer<Notifiers> action) {
        try {
            reporter.execute(() -> {
                Notifiers n = notifiers;
                if (n == null) {
                    return;
                }
                synchronized (n) {
                    if (generation.get() == gen && notifiers == n) {
                        action.accept(n);
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            log.debug("device closed: nothing to tell the driver");
        }
    }

    /**
     * The driver wrote 0 to the status: the control queue's thread is stopped and joined, the backend
     * stopped and closed (vhost workers gone, tap queues released by vhost), the tap's queues attached
     * again, and the device model's state back to its reset values ({@code virtio_net_reset}): the
     * configured MAC, no announcement, promiscuous, an empty MAC table, the tap's offloads as the next
     * start negotiates them. Nothing of the old rings is kept.
     */
    @Override
    public void reset() {
        generation.incrementAndGet();
        notifiers = null;
        closeControlQueue();
        synchronized (datapath) {
            NetDevice device = backend;
            backend = null;
            stop(device);
        }
        features = 0;
        config.reset();
        backEndUp = true;
        showLink(null);
        rxFilter.set(RxFilter.RESET);
        counters.reset();
    }

    /** Stops the control queue and joins its thread, which may be waiting for {@link #datapath}. */
    private void closeControlQueue() {
        ControlQueue c = control;
        control = null;
        if (c != null) {
            c.close();
        }
    }

    /** Closes {@code device} and gives the tap its queues back; the control queue is already closed. */
    private void stop(NetDevice device) {
        if (device != null) {
            device.close();
        }
        rings = List.of();
        attachTapQueues();
    }

    /** Every tap queue attached again, as a new backend or a new start expects them. */
    private void attachTapQueues() {
        if (tap != null) {
            for (TapQueue q : tap.queues()) {
                if (!q.isAttached()) {
                    try {
                        q.attach();
                    } catch (SysException e) {
                        log.warn("attaching {} again after a reset: {}", q, e.getMessage());
                    }
                }
            }
        }
    }

    // ---- the VMM's side ----

    /**
     * The link goes up or down ({@code virtio_net_set_link_status}): the status bit changes and, if
     * the driver runs with {@code STATUS}, a configuration interrupt tells it.
     */
    public void setLinkUp(boolean up) {
        linkUp = up;
        showLink(notifiers);
    }

    /** {@code virtio_net_set_link_status}: the status bit is the VMM's link and the back-end's; a change interrupts a driver with {@code STATUS}. */
    private void showLink(Notifiers n) {
        int before = config.status();
        config.setStatusBit(VirtioNetUapi.VIRTIO_NET_S_LINK_UP, linkUp && backEndUp);
        if (n != null && before != config.status() && (features & bit(VirtioNetUapi.VIRTIO_NET_F_STATUS)) != 0) {
            n.signalConfigChange();
        }
    }

    /**
     * Asks the driver to announce itself (gratuitous ARP after a migration: {@code virtio_net_announce}):
     * with {@code GUEST_ANNOUNCE} negotiated, sets {@code VIRTIO_NET_S_ANNOUNCE} and raises a
     * configuration interrupt; the driver acknowledges with {@code VIRTIO_NET_CTRL_ANNOUNCE_ACK}.
     * Returns whether it was asked.
     */
    public boolean announce() {
        Notifiers n = notifiers;
        if (n == null || (features & bit(VirtioNetUapi.VIRTIO_NET_F_GUEST_ANNOUNCE)) == 0) {
            return false;
        }
        config.setStatusBit(VirtioNetUapi.VIRTIO_NET_S_ANNOUNCE, true);
        n.signalConfigChange();
        return true;
    }

    /** The backend this device runs on, or starts on at the next {@code DRIVER_OK}: chosen at build, moved by {@link #switchBackend}. */
    public BackendChoice.Kind kind() {
        return kind;
    }

    /** The running backend, while the driver has the device running. */
    public Optional<NetDevice> backend() {
        return Optional.ofNullable(backend);
    }

    /** The MAC the driver sees: the configured one, or the driver's own after {@code MAC_ADDR_SET}. */
    public MacAddress mac() {
        return config.mac();
    }

    /** What the driver asked of receive filtering. */
    public RxFilter rxFilter() {
        return rxFilter.get();
    }

    /** The features the driver accepted (0 before {@code FEATURES_OK} and after a reset). */
    public long negotiatedFeatures() {
        return features;
    }

    public VirtioNetCounters counters() {
        return counters;
    }

    /**
     * Stops a running device (as a reset would) and the thread that asks for resets. The memory,
     * tap and transport stay the caller's: close the transport first, which resets the device.
     */
    @Override
    public void close() {
        if (backend != null || control != null) {
            reset();
        }
        if (firstConnection != null) {
            firstConnection.close();
            firstConnection = null;
        }
        reporter.shutdownNow();
        try {
            reporter.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The VMM's choices. */
    public static final class Builder {
        private MemoryTable memory;
        private TapDevice tap;
        private VhostUserEndpoint vhostUser;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private BackendChoice.Policy policy = BackendChoice.Policy.PREFER_KERNEL;
        private TxCopy txCopy = TxCopy.DEFAULT;
        private MacAddress mac;
        private int mtu;
        private int maxPairs;
        private boolean linkUp = true;
        private int speed = NetConfigSpace.SPEED_UNKNOWN;
        private int duplex = NetConfigSpace.DUPLEX_UNKNOWN;
        private int queueSize = 256;
        private long allowed = -1L;

        private Builder() {}

        /** Guest RAM, where the rings and buffers are. */
        public Builder memory(MemoryTable memory) {
            this.memory = memory;
            return this;
        }

        /** The tap of the kernel and emulated backends: one queue per queue pair. */
        public Builder tap(TapDevice tap) {
            this.tap = tap;
            return this;
        }

        /** Which of the kernel and emulated backends: QEMU's {@code vhost=on} ({@code PREFER_KERNEL}, the default), {@code vhostforce}, or emulated. */
        public Builder backend(BackendChoice.Policy policy) {
            this.policy = Preconditions.checkNotNull(policy, "policy");
            return this;
        }

        /** How the emulated backend moves a frame the guest sends to the tap (default: {@link TxCopy#DEFAULT}). */
        public Builder txCopy(TxCopy txCopy) {
            this.txCopy = Preconditions.checkNotNull(txCopy, "txCopy");
            return this;
        }

        /**
         * A vhost-user back-end instead of a tap, connected to now (for its features) and at each
         * {@code DRIVER_OK} after a reset, each within {@code connectTimeout}; one that hangs up under a
         * running device is waited for as long (the link down meanwhile), after which the link stays
         * down until the driver resets the device.
         */
        public Builder vhostUser(VhostUserEndpoint endpoint, Duration connectTimeout) {
            this.vhostUser = Preconditions.checkNotNull(endpoint, "endpoint");
            this.connectTimeout = Preconditions.checkNotNull(connectTimeout, "connectTimeout");
            return this;
        }

        public Builder mac(MacAddress mac) {
            this.mac = mac;
            return this;
        }

        /** Offers {@code VIRTIO_NET_F_MTU} with this MTU advice (68..65535); 0, the default: not offered. */
        public Builder mtu(int mtu) {
            this.mtu = mtu;
            return this;
        }

        /** {@code max_virtqueue_pairs}, 1..0x8000; more than 1 offers {@code MQ}. Default: the tap's queues (1 with vhost-user). */
        public Builder maxQueuePairs(int pairs) {
            this.maxPairs = pairs;
            return this;
        }

        /** The link's state at start ({@code VIRTIO_NET_S_LINK_UP}); default up. */
        public Builder linkUp(boolean up) {
            this.linkUp = up;
            return this;
        }

        /** Speed in Mb/s and duplex, shown with {@code SPEED_DUPLEX}; default unknown. */
        public Builder speedDuplex(int speedMbps, boolean fullDuplex) {
            Preconditions.checkArgument(speedMbps >= 0, "speed %s Mb/s", speedMbps);
            this.speed = speedMbps;
            this.duplex = fullDuplex ? 1 : 0;
            return this;
        }

        /** The largest data queue the driver may set up (a power of two, at most 32768); default 256. */
        public Builder queueSize(int size) {
            this.queueSize = size;
            return this;
        }

        /** The VMM's policy: only these feature bits may be offered (default: all the device can serve). */
        public Builder allowFeatures(long mask) {
            this.allowed = mask;
            return this;
        }

        /**
         * Checks the choices, picks the backend ({@link BackendChoice#choose}) and asks it what it
         * offers: vhost-net's {@code VHOST_GET_FEATURES} from an instance opened and closed here
         * (QEMU's {@code vhost_net_init}), the emulated device's {@code OFFER}, a vhost-user back-end's
         * {@code GET_FEATURES} on a connection kept for the first start; and probes the tap's offloads.
         */
        public VirtioNetDevice build() throws IOException {
            Preconditions.checkArgument(memory != null, "guest memory is required");
            Preconditions.checkArgument(mac != null, "a MAC is required");
            Preconditions.checkArgument(mac.isUnicast() && !mac.isZero(), "MAC %s is not a unicast address", mac);
            Preconditions.checkArgument(
                    (tap == null) != (vhostUser == null), "a tap or a vhost-user back-end, one of them");
            Preconditions.checkArgument(mtu == 0 || (mtu >= 68 && mtu <= 65535), "MTU %s is outside 68..65535", mtu);
            Preconditions.checkArgument(
                    queueSize > 0 && queueSize <= QueueConfig.MAX_SIZE && Integer.bitCount(queueSize) == 1,
                    "queue size %s is not a power of two in 1..32768",
                    queueSize);
            if (maxPairs == 0) {
                maxPairs = tap != null ? tap.queues().size() : 1;
            }
            Preconditions.checkArgument(
                    maxPairs >= 1 && maxPairs <= VirtioNetUapi.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX,
                    "%s queue pairs is outside 1..32768",
                    maxPairs);
            Preconditions.checkArgument(
                    tap == null || tap.queues().size() == maxPairs,
                    "%s queue pairs need a tap with %s queues, but tap %s has %s",
                    maxPairs,
                    maxPairs,
                    tap == null ? "" : tap.name(),
                    tap == null ? 0 : tap.queues().size());
            if (vhostUser != null) {
                VhostUserFrontend connection = vhostUser.open(connectTimeout, () -> false);
                try {
                    long backendOffer = connection.getFeatures();
                    long ring = backendOffer & VhostUserNetDevice.RING_BITS.toLong();
                    long net = backendOffer & VhostUserNetDevice.NET_OFFLOADS.toLong();
                    // No CTRL_GUEST_OFFLOADS: a vhost-user back-end has no tap to switch them on.
                    long model = NetFeatures.MODEL_BITS & ~bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
                    return new VirtioNetDevice(
                            this, BackendChoice.Kind.VHOST_USER, offer(ring | net, model), connection);
                } catch (IOException | RuntimeException e) {
                    connection.close();
                    throw e;
                }
            }
            BackendChoice.Kind kind = BackendChoice.choose(policy).kind();
            long backendOffer;
            if (kind == BackendChoice.Kind.KERNEL) {
                try (VhostNet probe = VhostNet.open()) {
                    backendOffer = probe.getFeatures();
                }
            } else {
                backendOffer = EmulatedNetDevice.OFFER.toLong();
            }
            // VHOST_NET_F_VIRTIO_NET_HDR is bit 27, VIRTIO_F_ANY_LAYOUT's: neither is offered (implied by VERSION_1).
            long ring = backendOffer
                    & Features.SUPPORTED_VHOST_BITS.toLong()
                    & ~bit(VhostUapi.VHOST_F_LOG_ALL)
                    & ~bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);
            long net = 0;
            long model = NetFeatures.MODEL_BITS & ~bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
            if (tap.config().vnetHeader()) {
                net = Features.HOST_OFFLOADS.toLong();
                Set<Offload> accepted = tap.setOffloads(EnumSet.copyOf(Features.GUEST_OFFLOADS.values()));
                for (Map.Entry<VirtioFeature, Offload> e : Features.GUEST_OFFLOADS.entrySet()) {
                    if (accepted.contains(e.getValue())) {
                        net |= bit(e.getKey().bit());
                    }
                }
                model |= bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
            }
            return new VirtioNetDevice(this, kind, offer(ring | net, model), null);
        }

        private long offer(long backend, long model) {
            if (maxPairs == 1) {
                model &= ~NetFeatures.MQ;
            }
            if (mtu == 0) {
                model &= ~bit(VirtioNetUapi.VIRTIO_NET_F_MTU);
            }
            return NetFeatures.closed((backend | model) & allowed) | bit(VirtioUapi.VIRTIO_F_VERSION_1);
        }
    }
}
