package dev.vhostnet.ctl;

import com.google.common.collect.ImmutableList;

/**
 * An immutable 64-bit feature word: what a device offers, a driver asks for, or a negotiation
 * grants. Bits {@link VirtioFeature} does not name are kept as they came (a peer's newer features
 * survive a round trip) and print as {@code bit N}. The wire and ioctl layer takes the word
 * ({@link #toLong()}, {@link #of(long)}).
 */
public final class FeatureSet {
    public static final FeatureSet NONE = new FeatureSet(0);

    private final long word;

    private FeatureSet(long word) {
        this.word = word;
    }

    /** The features of a 64-bit word ({@code VHOST_GET_FEATURES}, a vhost-user reply). */
    public static FeatureSet of(long word) {
        return word == 0 ? NONE : new FeatureSet(word);
    }

    public static FeatureSet of(VirtioFeature... features) {
        return NONE.with(features);
    }

    public boolean has(VirtioFeature feature) {
        return (word & feature.mask()) != 0;
    }

    /** Whether any bit of {@code other} is set here. */
    public boolean hasAny(FeatureSet other) {
        return (word & other.word) != 0;
    }

    public boolean isEmpty() {
        return word == 0;
    }

    public FeatureSet with(VirtioFeature... features) {
        long w = word;
        for (VirtioFeature f : features) {
            w |= f.mask();
        }
        return of(w);
    }

    /** The union. */
    public FeatureSet with(FeatureSet other) {
        return of(word | other.word);
    }

    public FeatureSet without(VirtioFeature... features) {
        long w = word;
        for (VirtioFeature f : features) {
            w &= ~f.mask();
        }
        return of(w);
    }

    /** The bits set here and not in {@code other}. */
    public FeatureSet without(FeatureSet other) {
        return of(word & ~other.word);
    }

    /** The intersection. */
    public FeatureSet and(FeatureSet other) {
        return of(word & other.word);
    }

    /** The names of the bits set, lowest first ({@code VIRTIO_NET_F_}, {@code VIRTIO_F_} dropped); unknown bits as {@code bit N}. */
    public ImmutableList<String> names() {
        return VirtioFeature.names(word);
    }

    /** The 64-bit word, for the wire or an ioctl. */
    public long toLong() {
        return word;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureSet f && f.word == word;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(word);
    }

    /** The names, space-separated ({@code MRG_RXBUF EVENT_IDX VERSION_1}), or {@code none}. */
    @Override
    public String toString() {
        return word == 0 ? "none" : String.join(" ", names());
    }
}
