package dev.vhostnet.bench;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.emulated.TxCopy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;

/**
 * What a bench run measures: the backends (each is skipped with a reason where it is missing), the
 * directions, Ethernet frame sizes, queue pair counts, warm-up, repetitions and their length, and
 * where the report goes. Immutable; built once.
 *
 * <p>A repetition lasts {@link #repTime()}, or, when {@link #packetsPerRep()} is set, until that
 * many packets have been delivered (RR: that many round trips), so two backends can be compared
 * byte for byte. TX and RX keep at most {@link #window()} packets in flight between the sender and
 * the far end's counter, so nothing is lost to a full socket or tap queue and every delivered byte is
 * accounted for.
 */
public final class BenchConfig {
    /** The sizes of issue 7: 64, 512 and 1500-byte frames, and 64 KiB (TX with UFO; RX skipped). */
    public static final List<Integer> DEFAULT_SIZES = List.of(64, 512, 1500, 65536);

    private final ImmutableSet<BackendChoice.Kind> backends;
    private final ImmutableSet<Direction> directions;
    private final ImmutableList<Integer> sizes;
    private final ImmutableList<Integer> pairs;
    private final Duration warmUp;
    private final int repetitions;
    private final Duration repTime;
    private final long packetsPerRep;
    private final boolean javaCeiling;
    private final boolean cCeiling;
    private final int window;
    private final Path outputDir;
    private final TxCopy txCopy;
    private final TxCount txCount;
    private final boolean vhostUserPeers;
    private final boolean virtioUserPeer;

    private BenchConfig(Builder b) {
        this.backends = ImmutableSet.copyOf(b.backends);
        this.directions = ImmutableSet.copyOf(b.directions);
        this.sizes = ImmutableList.copyOf(b.sizes);
        this.pairs = ImmutableList.copyOf(b.pairs);
        this.warmUp = b.warmUp;
        this.repetitions = b.repetitions;
        this.repTime = b.repTime;
        this.packetsPerRep = b.packetsPerRep;
        this.javaCeiling = b.javaCeiling;
        this.cCeiling = b.cCeiling;
        this.window = b.window;
        this.outputDir = b.outputDir;
        this.txCopy = b.txCopy;
        this.txCount = b.txCount;
        this.vhostUserPeers = b.vhostUserPeers;
        this.virtioUserPeer = b.virtioUserPeer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The CI run: both backends, TX/RX/RR at 64 and 1500 bytes, one pair, 0.3 s warm-up, 3
     * repetitions of 10,000 packets (RR: 1,000 round trips), the raw ceilings on. A repetition may
     * take up to 30 s, so a slow machine still delivers the whole count: every backend then moves
     * the same bytes, which is what CI checks — never the speed.
     */
    public static Builder quick() {
        return builder()
                .sizes(List.of(64, 1500))
                .pairs(List.of(1))
                .warmUp(Duration.ofMillis(300))
                .repetitions(3)
                .packetsPerRep(10_000)
                .repTime(Duration.ofSeconds(30));
    }

    public ImmutableSet<BackendChoice.Kind> backends() {
        return backends;
    }

    public ImmutableSet<Direction> directions() {
        return directions;
    }

    public ImmutableList<Integer> sizes() {
        return sizes;
    }

    public ImmutableList<Integer> pairs() {
        return pairs;
    }

    public Duration warmUp() {
        return warmUp;
    }

    public int repetitions() {
        return repetitions;
    }

    /** How long a repetition lasts, or the most it may last when {@link #packetsPerRep()} is set. */
    public Duration repTime() {
        return repTime;
    }

    /** Packets per repetition (RR: round trips), or 0 for repetitions of {@link #repTime()}. */
    public long packetsPerRep() {
        return packetsPerRep;
    }

    public boolean javaCeiling() {
        return javaCeiling;
    }

    public boolean cCeiling() {
        return cCeiling;
    }

    /** The most TX/RX packets in flight (a frame size's socket buffer may lower it: see {@link #window(int)}). */
    public int window() {
        return window;
    }

    /** The window for frames of {@code size}: at most {@link #window()}, and about 200 KB of frames, at least 2. */
    public int window(int size) {
        return Math.max(2, Math.min(window, 200_000 / (size + 700)));
    }

    public Path outputDir() {
        return outputDir;
    }

    /** How the emulated backend's TX moves a frame to the tap. */
    public TxCopy txCopy() {
        return txCopy;
    }

    /** Where TX repetitions count the frames delivered. */
    public TxCount txCount() {
        return txCount;
    }

    /**
     * Whether the run also compares this project's vhost-user back-end with DPDK's vhost library,
     * both fed by DPDK's virtio-user ({@link VhostUserPeers}).
     */
    public boolean vhostUserPeers() {
        return vhostUserPeers;
    }

    /**
     * Whether the run also measures DPDK's virtio-user over vhost-net, TX counted at its tap: the C
     * peer of this project's driver on the kernel backend ({@link VirtioUserKernel}).
     */
    public boolean virtioUserPeer() {
        return virtioUserPeer;
    }

    @Override
    public String toString() {
        return "backends " + backends + ", directions " + directions + ", sizes " + sizes + ", pairs " + pairs
                + ", warm-up " + warmUp.toMillis() + " ms, " + repetitions + " reps of "
                + (packetsPerRep > 0
                        ? packetsPerRep + " packets (at most " + repTime.toMillis() + " ms)"
                        : repTime.toMillis() + " ms")
                + ", window " + window + ", emulated TX copy " + txCopy + ", TX counted at the "
                + txCount.name().toLowerCase(Locale.ROOT) + ", ceilings " + (javaCeiling ? "Java " : "")
                + (cCeiling ? "C" : "") + (vhostUserPeers ? ", vhost-user peers (vhostnet and DPDK back-ends)" : "")
                + (virtioUserPeer ? ", DPDK's virtio-user over vhost-net" : "");
    }

    public static final class Builder {
        private Collection<BackendChoice.Kind> backends =
                EnumSet.of(BackendChoice.Kind.KERNEL, BackendChoice.Kind.EMULATED);
        private Collection<Direction> directions = EnumSet.allOf(Direction.class);
        private List<Integer> sizes = DEFAULT_SIZES;
        private List<Integer> pairs = List.of(1, 2);
        private Duration warmUp = Duration.ofSeconds(1);
        private int repetitions = 5;
        private Duration repTime = Duration.ofSeconds(2);
        private long packetsPerRep;
        private boolean javaCeiling = true;
        private boolean cCeiling = true;
        private int window = 128;
        private Path outputDir = Path.of("bench-out");
        private TxCopy txCopy = TxCopy.DEFAULT;
        private TxCount txCount = TxCount.SINK;
        private boolean vhostUserPeers;
        private boolean virtioUserPeer;

        private Builder() {}

        /** The kernel and/or the emulated backend (the vhost-user back-end is {@link #vhostUserPeers}'s). */
        public Builder backends(Collection<BackendChoice.Kind> backends) {
            com.google.common.base.Preconditions.checkArgument(
                    !backends.contains(BackendChoice.Kind.VHOST_USER),
                    "the bench measures the kernel and the emulated backend here; the vhost-user back-end is measured "
                            + "against DPDK's with vhostUserPeers(true)");
            this.backends = EnumSet.copyOf(backends);
            return this;
        }

        public Builder directions(Collection<Direction> directions) {
            this.directions = EnumSet.copyOf(directions);
            return this;
        }

        /** Ethernet frame sizes without FCS, 60 to 65536. */
        public Builder sizes(List<Integer> sizes) {
            this.sizes = List.copyOf(sizes);
            return this;
        }

        public Builder pairs(List<Integer> pairs) {
            this.pairs = List.copyOf(pairs);
            return this;
        }

        public Builder warmUp(Duration warmUp) {
            this.warmUp = warmUp;
            return this;
        }

        public Builder repetitions(int repetitions) {
            this.repetitions = repetitions;
            return this;
        }

        public Builder repTime(Duration repTime) {
            this.repTime = repTime;
            return this;
        }

        public Builder packetsPerRep(long packets) {
            this.packetsPerRep = packets;
            return this;
        }

        public Builder javaCeiling(boolean on) {
            this.javaCeiling = on;
            return this;
        }

        public Builder cCeiling(boolean on) {
            this.cCeiling = on;
            return this;
        }

        public Builder window(int window) {
            this.window = window;
            return this;
        }

        public Builder outputDir(Path dir) {
            this.outputDir = dir;
            return this;
        }

        public Builder txCopy(TxCopy txCopy) {
            this.txCopy = Preconditions.checkNotNull(txCopy, "txCopy");
            return this;
        }

        public Builder txCount(TxCount txCount) {
            this.txCount = Preconditions.checkNotNull(txCount, "txCount");
            return this;
        }

        /** Also run {@link VhostUserPeers} (needs dpdk-testpmd and free huge pages: the run fails without them). */
        public Builder vhostUserPeers(boolean on) {
            this.vhostUserPeers = on;
            return this;
        }

        /** Also run {@link VirtioUserKernel} (needs dpdk-testpmd and /dev/vhost-net: the run fails without them). */
        public Builder virtioUserPeer(boolean on) {
            this.virtioUserPeer = on;
            return this;
        }

        public BenchConfig build() {
            Preconditions.checkArgument(!directions.isEmpty(), "no direction to measure");
            Preconditions.checkArgument(!sizes.isEmpty(), "no frame size to measure");
            for (int size : sizes) {
                Preconditions.checkArgument(
                        size >= 60 && size <= 65536,
                        "a frame size is 60 (Ethernet minimum without FCS) to 65536 bytes, not %s",
                        size);
            }
            Preconditions.checkArgument(!pairs.isEmpty(), "no queue pair count");
            for (int p : pairs) {
                Preconditions.checkArgument(p >= 1 && p <= 8, "1 to 8 queue pairs, not %s", p);
            }
            Preconditions.checkArgument(repetitions >= 1, "at least one repetition, not %s", repetitions);
            Preconditions.checkArgument(!repTime.isNegative() && !repTime.isZero(), "a repetition lasts > 0");
            Preconditions.checkArgument(!warmUp.isNegative(), "warm-up >= 0");
            Preconditions.checkArgument(packetsPerRep >= 0, "packets per repetition >= 0");
            Preconditions.checkArgument(
                    window >= 1 && window <= 256, "window 1 to 256 (the ring size), not %s", window);
            Preconditions.checkNotNull(outputDir, "outputDir");
            return new BenchConfig(this);
        }
    }
}
