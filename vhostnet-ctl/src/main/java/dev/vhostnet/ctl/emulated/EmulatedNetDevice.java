package dev.vhostnet.ctl.emulated;

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
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.device.QueueCounters;
import dev.vhostnet.ctl.vhost.VringSetup;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapStatistics;
import io.netty.channel.IoEventLoop;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;

/**
 * A virtio-net device served in this process — the fallback where vhost-net is missing and the
 * yardstick it is measured against. Each queue pair ({@link EmulatedQueuePair}) is served on one
 * Netty epoll event loop of a bounded set shared with other devices ({@link EmulatedLoops}), so a
 * device starts no thread; the same {@link NetDeviceConfig} as the kernel backend; stop returns
 * each vring's next available index, so rings can move to vhost-net and back.
 */
public final class EmulatedNetDevice implements NetDevice {
    /** What this device offers, as vhost-net's {@code VHOST_GET_FEATURES} does (no dirty log). */
    public static final FeatureSet OFFER = FeatureSet.of(
            VirtioFeature.VERSION_1,
            VirtioFeature.MRG_RXBUF,
            VirtioFeature.EVENT_IDX,
            VirtioFeature.INDIRECT_DESC,
            VirtioFeature.NOTIFY_ON_EMPTY,
            VirtioFeature.ANY_LAYOUT,
            VirtioFeature.VIRTIO_NET_HDR);

    private final EmulatedLoops loopSet;
    private final List<EmulatedQueuePair> pairs;
    private final List<IoEventLoop> loops;
    private final Features.Negotiated features;
    private final MemoryTable.Lease lease;
    private final DeviceLifecycle lifecycle;
    private final TapDevice tap;
    /** Pairs {@code [0, enabledPairs)} move packets; a parked one keeps its bases here ({@link #enablePairs}). */
    private int enabledPairs;

    private final int[][] parked;

    private EmulatedNetDevice(
            EmulatedLoops loopSet,
            List<EmulatedQueuePair> pairs,
            List<IoEventLoop> loops,
            Features.Negotiated features,
            MemoryTable.Lease lease,
            String name,
            VringBases bases,
            TapDevice tap) {
        this.tap = tap;
        this.enabledPairs = pairs.size();
        this.parked = new int[pairs.size()][];
        this.loopSet = loopSet;
        this.pairs = pairs;
        this.loops = loops;
        this.features = features;
        this.lease = lease;
        this.lifecycle = new DeviceLifecycle(name, State.STOPPED, bases);
    }

    /** Starts with every vring at index 0. */
    public static EmulatedNetDevice start(NetDeviceConfig config) throws SysException {
        return start(config, VringBases.zero(config.queuePairs().size()));
    }

    /** Starts with each vring's next available index from {@code bases}. */
    public static EmulatedNetDevice start(NetDeviceConfig config, VringBases bases) throws SysException {
        int count = config.queuePairs().size();
        bases.checkPairs(count);
        Preconditions.checkArgument(!config.dirtyLog(), "dirty logging needs the kernel backend (VHOST_F_LOG_ALL)");
        Features.Negotiated features = Features.negotiate(config, OFFER);
        String name = "emulated device on tap " + config.tap().name();
        MemoryTable.Lease lease = config.memory().lease(name);
        EmulatedLoops loopSet = config.loops();
        List<EmulatedQueuePair> pairs = new ArrayList<>();
        List<IoEventLoop> loops = new ArrayList<>();
        try {
            for (int p = 0; p < count; p++) {
                IoEventLoop loop = loopSet.acquire();
                loops.add(loop);
                pairs.add(new EmulatedQueuePair(
                        p,
                        config.memory(),
                        config.queuePairs().get(p),
                        config.tap().queue(p),
                        features,
                        config.tap().config().vnetHeader(),
                        config.txCopy(),
                        loop,
                        config.errorListener()));
            }
            EmulatedNetDevice device =
                    new EmulatedNetDevice(loopSet, pairs, loops, features, lease, name, bases, config.tap());
            device.restart();
            return device;
        } catch (SysException | RuntimeException e) {
            for (int p = 0; p < pairs.size(); p++) {
                EmulatedQueuePair pair = pairs.get(p);
                await(p, loops.get(p).submit(() -> {
                    pair.unregister();
                    pair.release();
                    return null;
                }));
            }
            loops.forEach(loopSet::release);
            lease.close();
            throw e;
        }
    }

    @Override
    public BackendChoice.Kind kind() {
        return BackendChoice.Kind.EMULATED;
    }

    @Override
    public Features.Negotiated features() {
        return features;
    }

    @Override
    public VringBases stop() {
        return lifecycle.stop(this::detachAll).bases();
    }

    private VringSetup.Detached detachAll(VringBases bases) {
        List<int[]> detached = onLoops(enabledPairs, p -> pairs.get(p)::detach);
        for (int p = 0; p < pairs.size(); p++) {
            int[] pairBases = p < enabledPairs ? detached.get(p) : parked[p];
            bases = bases.with(p, QueuePair.RX, pairBases[0]).with(p, QueuePair.TX, pairBases[1]);
        }
        return new VringSetup.Detached(bases, null);
    }

    /**
     * Serves the rings again from the saved bases. Every queue starts fresh: one the driver broke
     * (virtio's NEEDS_RESET), or a pair an fd failed under, is served again — the device reset a
     * VMM does when the driver resets the device.
     */
    @Override
    public void restart() {
        lifecycle.start(this::attachAll);
    }

    private void attachAll(VringBases bases) {
        for (int p = enabledPairs; p < pairs.size(); p++) {
            parked[p] = new int[] {bases.get(p, QueuePair.RX), bases.get(p, QueuePair.TX)};
        }
        onLoops(enabledPairs, p -> startTask(p, bases.get(p, QueuePair.RX), bases.get(p, QueuePair.TX)));
    }

    /**
     * Moves packets on pairs {@code [0, count)} only: a pair parked stops on its loop, keeps its
     * bases, and its tap queue is detached ({@code TUNSETQUEUE}) so the tap steers no frame to it
     * (QEMU's {@code peer_detach}); enabled again, its tap queue is attached and it starts from them.
     */
    @Override
    public void enablePairs(int count) throws SysException {
        Preconditions.checkArgument(count >= 1 && count <= pairs.size(), "%s of %s queue pairs", count, pairs.size());
        lifecycle.lock();
        try {
            Preconditions.checkState(lifecycle.state() != State.CLOSED, "the emulated device is closed");
            boolean running = lifecycle.state() == State.RUNNING;
            for (int p = enabledPairs - 1; p >= count; p--) {
                VringBases now = lifecycle.bases();
                parked[p] = running
                        ? onLoop(p, pairs.get(p)::detach)
                        : new int[] {now.get(p, QueuePair.RX), now.get(p, QueuePair.TX)};
                tap.queue(p).detach();
                enabledPairs = p;
            }
            for (int p = enabledPairs; p < count; p++) {
                tap.queue(p).attach();
                if (running) {
                    onLoop(p, startTask(p, parked[p][0], parked[p][1]));
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

    /** Registers pair {@code p}'s fds with its loop and starts it from the bases given; to run on that loop. */
    private Callable<Void> startTask(int p, int rxBase, int txBase) {
        EmulatedQueuePair pair = pairs.get(p);
        return () -> {
            pair.register();
            pair.start(rxBase, txBase);
            return null;
        };
    }

    private <T> T onLoop(int pair, Callable<T> task) {
        return await(pair, loops.get(pair).submit(task));
    }

    /**
     * Runs the task of each pair {@code [0, count)} on its loop, all at once (one hand-off per loop
     * and pair, not one after another), then waits for them; their results in pair order.
     */
    private <T> List<T> onLoops(int count, IntFunction<Callable<T>> task) {
        List<Future<T>> running = new ArrayList<>();
        for (int p = 0; p < count; p++) {
            running.add(loops.get(p).submit(task.apply(p)));
        }
        List<T> results = new ArrayList<>();
        for (int p = 0; p < count; p++) {
            results.add(await(p, running.get(p)));
        }
        return results;
    }

    private static <T> T await(int pair, Future<T> future) {
        try {
            return future.get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for queue pair " + pair, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("queue pair " + pair + ": " + e, e);
        }
    }

    @Override
    public State state() {
        return lifecycle.state();
    }

    @Override
    public VringBases bases() {
        return lifecycle.bases();
    }

    /** The guest-facing counters of vring {@code vring} ({@code 0} RX, {@code 1} TX) of {@code pair}: pops, hostile-ring rules. */
    public QueueCounters counters(int pair, int vring) {
        EmulatedQueuePair p = pairs.get(pair);
        return vring == 0 ? p.rxQueue().counters() : p.txQueue().counters();
    }

    /** Whether a queue of {@code pair} was broken by the guest (virtio's NEEDS_RESET); a restart clears it. */
    public boolean isBroken(int pair) {
        EmulatedQueuePair p = pairs.get(pair);
        return onLoop(pair, () -> p.rxQueue().isBroken() || p.txQueue().isBroken());
    }

    /**
     * Why {@code pair}, or one of its queues, stopped moving packets — a queue the driver broke, or
     * a descriptor that failed under it ("tap vt0 queue 0 reports EPOLLERR": the tap was deleted);
     * empty while it works. Logged once when it happens; a restart clears it.
     */
    public Optional<String> failure(int pair) {
        return onLoop(pair, pairs.get(pair)::failure);
    }

    /** Frames dropped: read from the tap with nowhere to put them, or not sendable. */
    public long dropped() {
        return pairs.stream().mapToLong(EmulatedQueuePair::dropped).sum();
    }

    /** Every frame this process moved, dropped or refused, per pair, and the tap's statistics. */
    @Override
    public NetDeviceCounters counters() {
        return new NetDeviceCounters(
                kind(),
                pairs.stream().map(EmulatedQueuePair::counters).collect(ImmutableList.toImmutableList()),
                TapStatistics.read(tap.name()));
    }

    /** The event loop of each queue pair, in pair order; pairs (and other devices) may share one. */
    public ImmutableList<IoEventLoop> loops() {
        return ImmutableList.copyOf(loops);
    }

    @Override
    public void close() {
        lifecycle.close(this::detachAll, () -> {
            onLoops(pairs.size(), p -> () -> {
                pairs.get(p).dropPending();
                pairs.get(p).release();
                return null;
            });
            loops.forEach(loopSet::release);
            lease.close();
        });
    }
}
