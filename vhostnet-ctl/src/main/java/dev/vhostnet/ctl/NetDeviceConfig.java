package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.ctl.kernel.VhostNetBackend;
import dev.vhostnet.ctl.vhost.VringErrorListener;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * What a virtio-net device is made of, whichever backend runs it: guest memory, a tap with one queue per queue pair, the
 * queue pairs' rings and eventfds, the features the driver wants, and whether to log dirty pages.
 * Immutable; checked at {@link Builder#build()} in plain Java, before any ioctl.
 */
public final class NetDeviceConfig {
    /** Opens the vhost-net control plane of one queue pair (the kernel's by default; tests: a fake). */
    @FunctionalInterface
    public interface BackendOpener {
        VhostNetBackend open() throws SysException;
    }

    private final MemoryTable memory;
    private final TapDevice tap;
    private final ImmutableList<QueuePair> queuePairs;
    private final FeatureSet driverFeatures;
    private final boolean requireAll;
    private final boolean dirtyLog;
    private final BackendOpener opener;
    private final VringErrorListener errorListener;
    private final EmulatedLoops loops;
    private final TxCopy txCopy;

    private NetDeviceConfig(Builder b) {
        this.memory = b.memory;
        this.tap = b.tap;
        this.queuePairs = ImmutableList.copyOf(b.queuePairs);
        this.driverFeatures = b.driverFeatures;
        this.requireAll = b.requireAll;
        this.dirtyLog = b.dirtyLog;
        this.opener = b.opener;
        this.errorListener = b.errorListener;
        this.loops = b.loops;
        this.txCopy = b.txCopy;
    }

    public static Builder builder() {
        return new Builder();
    }

    public MemoryTable memory() {
        return memory;
    }

    public TapDevice tap() {
        return tap;
    }

    public ImmutableList<QueuePair> queuePairs() {
        return queuePairs;
    }

    /** The feature bits the driver asks for. */
    public FeatureSet driverFeatures() {
        return driverFeatures;
    }

    /** Whether a feature the driver asked for but cannot have fails the start instead of being dropped. */
    public boolean requireAll() {
        return requireAll;
    }

    public boolean dirtyLog() {
        return dirtyLog;
    }

    /** How the kernel backend opens a vhost-net instance per queue pair (tests: a fake). */
    public BackendOpener opener() {
        return opener;
    }

    /** Who hears of vring errors; {@code null}: they are only logged. */
    public VringErrorListener errorListener() {
        return errorListener;
    }

    /** The event loops the emulated backend serves the pairs on: those given, else {@link EmulatedLoops#shared()}. */
    public EmulatedLoops loops() {
        return loops != null ? loops : EmulatedLoops.shared();
    }

    /** How the emulated backend moves a transmitted frame to the tap; the kernel backend ignores it. */
    public TxCopy txCopy() {
        return txCopy;
    }

    /** Builds a {@link NetDeviceConfig}. */
    public static final class Builder {
        private MemoryTable memory;
        private TapDevice tap;
        private final List<QueuePair> queuePairs = new ArrayList<>();
        private FeatureSet driverFeatures = FeatureSet.NONE;
        private boolean requireAll;
        private boolean dirtyLog;
        private BackendOpener opener = VhostNet::open;
        private VringErrorListener errorListener;
        private EmulatedLoops loops;
        private TxCopy txCopy = TxCopy.DEFAULT;

        private Builder() {}

        public Builder memory(MemoryTable memory) {
            this.memory = memory;
            return this;
        }

        /**
         * The tap, opened with at least as many queues as there are queue pairs; pair {@code p} uses
         * queue {@code p}, and a queue beyond the pairs is the caller's to detach (a driver that left
         * multiqueue out).
         */
        public Builder tap(TapDevice tap) {
            this.tap = tap;
            return this;
        }

        public Builder queuePair(QueuePair pair) {
            queuePairs.add(Preconditions.checkNotNull(pair, "queue pair"));
            return this;
        }

        public Builder driverFeatures(FeatureSet features) {
            this.driverFeatures = Preconditions.checkNotNull(features, "features");
            return this;
        }

        /** Fail the start when a feature the driver asked for cannot be granted (QEMU's {@code vhostforce} spirit). */
        public Builder requireAll(boolean requireAll) {
            this.requireAll = requireAll;
            return this;
        }

        /** Log the pages the device writes ({@code VHOST_F_LOG_ALL}), for live migration. */
        public Builder dirtyLog(boolean dirtyLog) {
            this.dirtyLog = dirtyLog;
            return this;
        }

        /** Where each queue pair's control plane comes from; tests pass a fake. */
        public Builder opener(BackendOpener opener) {
            this.opener = Preconditions.checkNotNull(opener, "opener");
            return this;
        }

        /** Called, on a watcher thread, when vhost-net signals a vring's error eventfd. */
        public Builder onVringError(VringErrorListener listener) {
            this.errorListener = listener;
            return this;
        }

        /** The event loops the emulated backend uses (default: {@link EmulatedLoops#shared()}, made at first use). */
        public Builder loops(EmulatedLoops loops) {
            this.loops = Preconditions.checkNotNull(loops, "loops");
            return this;
        }

        /** How the emulated backend moves a transmitted frame to the tap (default: {@link TxCopy#DEFAULT}). */
        public Builder txCopy(TxCopy txCopy) {
            this.txCopy = Preconditions.checkNotNull(txCopy, "txCopy");
            return this;
        }

        /** Checks the configuration: memory and tap given, a tap queue for each pair, every ring inside guest memory. */
        public NetDeviceConfig build() {
            Preconditions.checkArgument(memory != null, "guest memory is required");
            Preconditions.checkArgument(tap != null, "a tap is required");
            Preconditions.checkArgument(!queuePairs.isEmpty(), "at least one queue pair is required");
            Preconditions.checkArgument(
                    tap.queues().size() >= queuePairs.size(),
                    "%s queue pairs need a tap with %s queues (or more), but tap %s has %s: open it with queues(%s)",
                    queuePairs.size(),
                    queuePairs.size(),
                    tap.name(),
                    tap.queues().size(),
                    queuePairs.size());
            for (int p = 0; p < queuePairs.size(); p++) {
                for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
                    queuePairs.get(p).vring(v).layout().checkIn(memory, QueuePair.describe(p, v));
                }
            }
            return new NetDeviceConfig(this);
        }
    }
}
