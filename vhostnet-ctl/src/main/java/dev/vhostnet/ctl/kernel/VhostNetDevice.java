package dev.vhostnet.ctl.kernel;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.DeviceLifecycle;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.vhost.VhostBackend;
import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.ctl.vhost.VringDatapath;
import dev.vhostnet.ctl.vhost.VringErrorListener;
import dev.vhostnet.ctl.vhost.VringSetup;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapStatistics;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio-net device whose datapath runs in the kernel: one vhost-net instance per queue pair,
 * brought up in QEMU's order ({@code vhost_dev_start}, {@code vhost_net_start}), stopped with the
 * rings' next indices saved, restartable from them, closed. A failure half-way through a start
 * closes every vhost-net fd it opened and names the step and queue.
 */
public final class VhostNetDevice implements NetDevice {
    private static final Logger log = LoggerFactory.getLogger(VhostNetDevice.class);

    private final NetDeviceConfig config;
    private final List<VhostNetBackend> backends;
    private final List<VringDatapath> datapaths;
    private final Features.Negotiated features;
    private final DirtyLog dirtyLog;
    private final VringErrorWatcher errors;
    private final MemoryTable.Lease lease;
    private final DeviceLifecycle lifecycle;
    /** Pairs {@code [0, enabledPairs)} move packets; the others are parked ({@link #enablePairs}). */
    private int enabledPairs;

    private VhostNetDevice(
            NetDeviceConfig config,
            List<VhostNetBackend> backends,
            Features.Negotiated features,
            DirtyLog dirtyLog,
            VringErrorWatcher errors,
            MemoryTable.Lease lease,
            VringBases bases) {
        this.config = config;
        this.backends = backends;
        this.features = features;
        this.dirtyLog = dirtyLog;
        this.errors = errors;
        this.lease = lease;
        this.datapaths = new ArrayList<>();
        for (int p = 0; p < backends.size(); p++) {
            datapaths.add(backends.get(p).datapath(config.tap().queue(p)));
        }
        this.lifecycle = new DeviceLifecycle(name(config), State.STOPPED, bases);
        this.enabledPairs = backends.size();
    }

    private static String name(NetDeviceConfig config) {
        return "vhost-net device on tap " + config.tap().name();
    }

    /** Starts with every vring at index 0. */
    public static VhostNetDevice start(NetDeviceConfig config) throws VhostStepException, SysException {
        return start(config, VringBases.zero(config.queuePairs().size()));
    }

    /**
     * Starts with each vring's next available index from {@code bases}: to take over rings another
     * backend ran, from the bases its stop returned.
     */
    public static VhostNetDevice start(NetDeviceConfig config, VringBases bases)
            throws VhostStepException, SysException {
        int pairs = config.queuePairs().size();
        bases.checkPairs(pairs);
        List<VhostNetBackend> backends = new ArrayList<>();
        DirtyLog dirtyLog = null;
        VringErrorWatcher errors = null;
        MemoryTable.Lease lease = config.memory().lease(name(config));
        try {
            for (int p = 0; p < pairs; p++) {
                backends.add(config.opener().open());
                VringSetup.step("SET_OWNER", device(p), backends.get(p)::setOwner);
            }
            FeatureSet offer = FeatureSet.of(backends.get(0).getFeatures());
            Features.Negotiated features = Features.negotiate(config, offer);
            log.debug(
                    "features: driver {}, vhost offer {}, negotiated {}, vhost {}, tap offloads {}",
                    config.driverFeatures(),
                    offer,
                    features.virtio(),
                    features.vhost(),
                    features.tapOffloads());
            if (config.dirtyLog()) {
                dirtyLog = DirtyLog.covering(config.memory());
            }
            errors = new VringErrorWatcher(pairs, config.errorListener());
            VhostNetDevice device = new VhostNetDevice(config, backends, features, dirtyLog, errors, lease, bases);
            for (int p = 0; p < pairs; p++) {
                VhostNetBackend b = backends.get(p);
                VringSetup.step(
                        "SET_FEATURES",
                        device(p),
                        () -> b.setFeatures(features.vhost().toLong()));
                VringSetup.step("SET_MEM_TABLE", device(p), () -> b.setMemTable(config.memory()));
                if (dirtyLog != null) {
                    long logAddress = dirtyLog.address();
                    VringSetup.step("SET_LOG_BASE", device(p), () -> b.setLogBase(logAddress));
                }
            }
            device.lifecycle.start(device::attachAll);
            errors.start();
            return device;
        } catch (VhostStepException | SysException | RuntimeException e) {
            if (errors != null) {
                errors.close();
            }
            if (dirtyLog != null) {
                dirtyLog.close();
            }
            backends.forEach(VhostBackend::close);
            lease.close();
            throw e;
        }
    }

    /**
     * Per pair: both vrings programmed, the tap attached, a kick each ({@link VringSetup#attach}); a
     * parked pair is programmed without its tap. A tap queue whose interface was deleted fails here,
     * named, rather than being attached to move packets into nothing (vhost-net would take it: the
     * fd is still a tun file).
     */
    private void attachAll(VringBases bases) throws VhostStepException {
        for (int p = 0; p < enabledPairs; p++) {
            VringSetup.step(
                    "TUNGETIFF",
                    "tap queue " + p + " of pair " + p,
                    config.tap().queue(p)::checkInterface);
        }
        for (int p = 0; p < backends.size(); p++) {
            VringSetup.attach(
                    backends.get(p),
                    p,
                    config.queuePairs().get(p),
                    config.memory(),
                    bases,
                    new EventFd[] {errors.eventFd(p * 2), errors.eventFd(p * 2 + 1)},
                    dirtyLog != null,
                    p < enabledPairs ? datapaths.get(p) : PARKED);
        }
    }

    /** The datapath step of a parked pair: its vrings stay without a tap queue. */
    private static final VringDatapath PARKED = VringDatapath.none("NET_SET_BACKEND (pair parked)");

    /**
     * Moves packets on pairs {@code [0, count)} only. A pair parked: {@code NET_SET_BACKEND} -1 on both
     * vrings (the worker stops; the vrings keep their indices), then its tap queue detached
     * ({@code TUNSETQUEUE}), so the tap steers no frame to it — QEMU's {@code peer_detach}. Enabled
     * again: the tap queue attached, {@code NET_SET_BACKEND} with it, a kick each.
     */
    @Override
    public void enablePairs(int count) throws VhostStepException, SysException {
        Preconditions.checkArgument(
                count >= 1 && count <= backends.size(), "%s of %s queue pairs", count, backends.size());
        lifecycle.lock();
        try {
            Preconditions.checkState(lifecycle.state() != State.CLOSED, "%s is closed", name(config));
            boolean running = lifecycle.state() == State.RUNNING;
            for (int p = enabledPairs - 1; p >= count; p--) {
                VringDatapath path = datapaths.get(p);
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    if (running) {
                        VringSetup.step(path.request(), QueuePair.describe(p, v), () -> path.detach(vring));
                    }
                }
                config.tap().queue(p).detach();
                enabledPairs = p;
            }
            for (int p = enabledPairs; p < count; p++) {
                VringDatapath path = datapaths.get(p);
                QueuePair rings = config.queuePairs().get(p);
                config.tap().queue(p).attach();
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    int vring = v;
                    if (running) {
                        VringSetup.step(path.request(), QueuePair.describe(p, v), () -> path.attach(vring));
                        VringSetup.step(
                                "kick",
                                QueuePair.describe(p, v),
                                () -> rings.vring(vring).kick().signal());
                    }
                }
                enabledPairs = p + 1;
            }
        } finally {
            lifecycle.unlock();
        }
    }

    @Override
    public int enabledPairs() {
        return lifecycle.read(() -> enabledPairs);
    }

    private VringSetup.Detached detachAll(VringBases bases) {
        return VringSetup.detachAll(backends, config.queuePairs(), datapaths, config.memory(), bases);
    }

    /**
     * Detaches the tap from every vring and saves each vring's next available index
     * ({@link VringSetup#detach}: {@code VHOST_GET_VRING_BASE}, or the used index in guest memory where
     * that fails, as QEMU does), and returns them.
     */
    @Override
    public VringBases stop() throws VhostStepException {
        VringSetup.Detached detached = lifecycle.stop(this::detachAll);
        detached.throwIfFailed();
        return detached.bases();
    }

    /** Starts a stopped device again from the bases {@link #stop()} saved. */
    @Override
    public void restart() throws VhostStepException {
        lifecycle.start(this::attachAll);
    }

    @Override
    public BackendChoice.Kind kind() {
        return BackendChoice.Kind.KERNEL;
    }

    /** The negotiated features: what the driver gets, what vhost-net was told, the tap's offloads. */
    @Override
    public Features.Negotiated features() {
        return features;
    }

    /** The dirty log, when {@link NetDeviceConfig#dirtyLog()} asked for one. */
    public DirtyLog dirtyLog() {
        Preconditions.checkState(dirtyLog != null, "dirty logging was not asked for: NetDeviceConfig.dirtyLog(true)");
        return dirtyLog;
    }

    @Override
    public State state() {
        return lifecycle.state();
    }

    @Override
    public VringBases bases() {
        return lifecycle.bases();
    }

    /**
     * The vring errors vhost-net signalled on each pair's err eventfds, and the tap's statistics
     * for the traffic: the vhost worker exposes no counters of its own (Linux 6.1 has no ioctl or
     * sysfs file for them), so pairs carry no traffic; the tap's counters are what the worker moved
     * (its {@code rx} the guest's TX, its {@code tx} the guest's RX, its {@code txDropped} frames the
     * worker did not take in time).
     */
    @Override
    public NetDeviceCounters counters() {
        List<NetDeviceCounters.Pair> pairs = new ArrayList<>();
        for (int p = 0; p < backends.size(); p++) {
            pairs.add(new NetDeviceCounters.Pair(Optional.empty(), Optional.empty(), 0, 0, errors.signalled(p)));
        }
        return new NetDeviceCounters(
                kind(),
                ImmutableList.copyOf(pairs),
                TapStatistics.read(config.tap().name()));
    }

    /** The control planes, one per queue pair (to hand a vhost-net fd to another process). */
    public ImmutableList<VhostNetBackend> backends() {
        return ImmutableList.copyOf(backends);
    }

    /** Stops the device if it runs, then closes every vhost-net fd. The tap, memory and eventfds stay the caller's. */
    @Override
    public void close() {
        lifecycle.close(this::detachAll, () -> {
            errors.close();
            backends.forEach(VhostBackend::close);
            if (dirtyLog != null) {
                dirtyLog.close();
            }
            lease.close();
        });
    }

    private static String device(int pair) {
        return "queue pair " + pair;
    }

    /** The error eventfds of every vring, and the thread that tells the listener when one is signalled. */
    private static final class VringErrorWatcher implements AutoCloseable {
        private final List<EventFd> fds = new ArrayList<>();
        /** Signals read from each vring's err eventfd (an eventfd counts the signals between reads). */
        private final AtomicLongArray signals;

        private final EventFd wakeup;
        private final VringErrorListener listener;
        private final Thread thread;
        private volatile boolean closed;

        VringErrorWatcher(int pairs, VringErrorListener listener) throws SysException {
            this.listener = listener;
            this.signals = new AtomicLongArray(pairs * 2);
            try {
                for (int i = 0; i < pairs * 2; i++) {
                    fds.add(EventFd.create());
                }
                wakeup = EventFd.create();
            } catch (SysException e) {
                fds.forEach(EventFd::close);
                throw e;
            }
            thread = new Thread(this::watch, "vhost-net-vring-errors");
            thread.setDaemon(true);
        }

        EventFd eventFd(int vring) {
            return fds.get(vring);
        }

        void start() {
            thread.start();
        }

        /** The error signals seen on both vrings of {@code pair}. */
        long signalled(int pair) {
            return signals.get(pair * 2) + signals.get(pair * 2 + 1);
        }

        private void watch() {
            List<dev.vhostnet.sys.Fd> all = new ArrayList<>();
            fds.forEach(e -> all.add(e.fd()));
            all.add(wakeup.fd());
            try {
                while (!closed) {
                    int[] ready = dev.vhostnet.sys.Fd.pollAll(all, dev.vhostnet.sys.PollUapi.POLLIN, -1);
                    for (int i = 0; i < fds.size(); i++) {
                        if (ready[i] != 0) {
                            long count = fds.get(i).read();
                            signals.addAndGet(i, count);
                            log.warn(
                                    "vhost-net reported an error on {} ({} times): the vring is stopped until reset",
                                    QueuePair.describe(i / 2, i % 2),
                                    count);
                            if (listener != null) {
                                listener.onVringError(i / 2, i % 2, count);
                            }
                        }
                    }
                }
            } catch (SysException | IllegalStateException e) {
                if (!closed) {
                    log.warn("vring error watcher stopped: {}", e.getMessage());
                }
            }
        }

        @Override
        public void close() {
            closed = true;
            try {
                wakeup.signal();
                thread.join(5000);
            } catch (SysException | IllegalStateException e) {
                log.debug("waking the error watcher: {}", e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            fds.forEach(EventFd::close);
            wakeup.close();
        }
    }
}
