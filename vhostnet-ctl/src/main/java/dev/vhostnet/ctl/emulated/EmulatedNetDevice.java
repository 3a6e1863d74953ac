package dev.vhostnet.ctl.emulated;

import static dev.vhostnet.ctl.VirtioUapi.bit;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.VirtioUapi;
import dev.vhostnet.ctl.device.QueueCounters;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A virtio-net device served in this process — the fallback where vhost-net is missing and the
 * yardstick it is measured against. One Netty epoll event loop per queue pair
 * ({@link EmulatedQueuePair}); the same {@link NetDeviceConfig} as the kernel backend; stop
 * returns each vring's next available index, so rings can move to vhost-net and back.
 */
public final class EmulatedNetDevice implements NetDevice {
    /** What this device offers, as vhost-net's {@code VHOST_GET_FEATURES} does (no dirty log). */
    public static final long OFFER = bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX) | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
            | bit(VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY) | bit(VirtioUapi.VIRTIO_F_ANY_LAYOUT)
            | bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);

    private final MultiThreadIoEventLoopGroup group;
    private final List<EmulatedQueuePair> pairs;
    private final List<IoEventLoop> loops;
    private final Features.Negotiated features;
    private final int[] bases;
    private State state = State.STOPPED;

    private EmulatedNetDevice(MultiThreadIoEventLoopGroup group, List<EmulatedQueuePair> pairs, List<IoEventLoop> loops,
            Features.Negotiated features, int[] bases) {
        this.group = group;
        this.pairs = pairs;
        this.loops = loops;
        this.features = features;
        this.bases = bases;
    }

    /** Starts with every vring at index 0. */
    public static EmulatedNetDevice start(NetDeviceConfig config) throws SysException {
        return start(config, new int[config.queuePairs().size() * 2]);
    }

    /** Starts with each vring's next available index from {@code bases} ({@code pair * 2 + vring}). */
    public static EmulatedNetDevice start(NetDeviceConfig config, int[] bases) throws SysException {
        int count = config.queuePairs().size();
        Preconditions.checkArgument(bases.length == count * 2, "%s bases for %s vrings", bases.length, count * 2);
        for (int base : bases) {
            Preconditions.checkArgument(base >= 0 && base <= 0xffff, "a vring base is a 16-bit index, not %s", base);
        }
        Preconditions.checkArgument(!config.dirtyLog(), "dirty logging needs the kernel backend (VHOST_F_LOG_ALL)");
        Features.Negotiated features = Features.negotiate(config, OFFER);
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(count,
                new DefaultThreadFactory("vhostnet-emulated", true), EpollIoHandler.newFactory());
        List<EmulatedQueuePair> pairs = new ArrayList<>();
        List<IoEventLoop> loops = new ArrayList<>();
        try {
            for (int p = 0; p < count; p++) {
                IoEventLoop loop = group.next();
                loops.add(loop);
                pairs.add(new EmulatedQueuePair(p, config.memory(), config.queuePairs().get(p),
                        config.tap().queue(p), features, config.tap().config().vnetHeader(), loop));
            }
            EmulatedNetDevice device = new EmulatedNetDevice(group, pairs, loops, features, bases.clone());
            device.restart();
            return device;
        } catch (SysException | RuntimeException e) {
            pairs.forEach(EmulatedQueuePair::release);
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
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
    public synchronized int[] stop() {
        Preconditions.checkState(state == State.RUNNING, "device is %s, not running", state);
        for (int p = 0; p < pairs.size(); p++) {
            EmulatedQueuePair pair = pairs.get(p);
            int[] pairBases = onLoop(p, pair::detach);
            bases[2 * p] = pairBases[0];
            bases[2 * p + 1] = pairBases[1];
        }
        state = State.STOPPED;
        return bases.clone();
    }

    /**
     * Serves the rings again from the saved bases. Every queue starts fresh: one the driver broke
     * (virtio's NEEDS_RESET), or a pair an fd failed under, is served again — the device reset a
     * VMM does when the driver resets the device.
     */
    @Override
    public synchronized void restart() {
        Preconditions.checkState(state == State.STOPPED, "device is %s, not stopped", state);
        for (int p = 0; p < pairs.size(); p++) {
            EmulatedQueuePair pair = pairs.get(p);
            int rxBase = bases[2 * p];
            int txBase = bases[2 * p + 1];
            try {
                pair.register();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting queue pair " + p, e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("queue pair " + p + " could not watch its fds: " + e.getCause(), e.getCause());
            }
            onLoop(p, () -> {
                pair.start(rxBase, txBase);
                return null;
            });
        }
        state = State.RUNNING;
    }

    private <T> T onLoop(int pair, java.util.concurrent.Callable<T> task) {
        try {
            return loops.get(pair).submit(task).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for queue pair " + pair, e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("queue pair " + pair + ": " + e, e);
        }
    }

    @Override
    public synchronized State state() {
        return state;
    }

    /** The saved bases (at the last stop, or given at start). */
    public synchronized int[] bases() {
        return bases.clone();
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
        return pairs.stream().mapToLong(p -> p.rxDropped() + p.txDropped()).sum();
    }

    /** The event loop threads, one per queue pair (their CPU time is this backend's cost). */
    public ImmutableList<IoEventLoop> loops() {
        return ImmutableList.copyOf(loops);
    }

    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        if (state == State.RUNNING) {
            stop();
        }
        for (int p = 0; p < pairs.size(); p++) {
            EmulatedQueuePair pair = pairs.get(p);
            onLoop(p, () -> {
                pair.dropPending();
                pair.release();
                return null;
            });
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        state = State.CLOSED;
    }
}
