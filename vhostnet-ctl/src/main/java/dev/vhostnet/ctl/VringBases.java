package dev.vhostnet.ctl;

import com.google.common.base.Preconditions;
import java.util.Arrays;

/**
 * The next available index of every vring of a device, {@code pair * 2 + vring}: what
 * {@code VHOST_GET_VRING_BASE} returns at a stop and {@code VHOST_SET_VRING_BASE} takes at a start.
 * A device stops into one and starts from one, so rings can move between backends. Immutable.
 */
public final class VringBases {
    private final int[] bases;

    private VringBases(int[] bases) {
        for (int b : bases) {
            Preconditions.checkArgument(b >= 0 && b <= 0xffff, "a vring base is a 16-bit index, not %s", b);
        }
        this.bases = bases;
    }

    /** Every vring of {@code pairs} queue pairs at index 0: a fresh device. */
    public static VringBases zero(int pairs) {
        Preconditions.checkArgument(pairs > 0, "at least one queue pair, not %s", pairs);
        return new VringBases(new int[pairs * 2]);
    }

    /** The bases in vring order: RX of pair 0, TX of pair 0, RX of pair 1... */
    public static VringBases of(int... bases) {
        Preconditions.checkArgument(
                bases.length > 0 && bases.length % 2 == 0, "two bases per queue pair, not %s", bases.length);
        return new VringBases(bases.clone());
    }

    /** Queue pairs covered. */
    public int pairs() {
        return bases.length / 2;
    }

    /** The base of {@code vring} ({@link QueuePair#RX} or {@link QueuePair#TX}) of {@code pair}. */
    public int get(int pair, int vring) {
        return bases[index(pair, vring)];
    }

    /** These bases with {@code vring} of {@code pair} at {@code base}. */
    public VringBases with(int pair, int vring, int base) {
        int[] copy = bases.clone();
        copy[index(pair, vring)] = base;
        return new VringBases(copy);
    }

    /** Checks that these bases are for a device of {@code pairs} queue pairs. */
    public VringBases checkPairs(int pairs) {
        Preconditions.checkArgument(pairs() == pairs, "%s bases for %s vrings", bases.length, pairs * 2);
        return this;
    }

    /** A copy in vring order. */
    public int[] toArray() {
        return bases.clone();
    }

    private int index(int pair, int vring) {
        Preconditions.checkElementIndex(pair, pairs(), "queue pair");
        Preconditions.checkArgument(vring == QueuePair.RX || vring == QueuePair.TX, "vring %s of a pair", vring);
        return pair * 2 + vring;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VringBases other && Arrays.equals(bases, other.bases);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bases);
    }

    @Override
    public String toString() {
        return Arrays.toString(bases);
    }
}
