package dev.vhostnet.ctl;

import com.google.common.collect.ImmutableList;

/**
 * One bit of a 64-bit feature word, with its name: what rust-vmm's {@code bitflags} types give
 * ({@code VhostUserVirtioFeatures}, {@code VhostUserProtocolFeatures}). Implemented by enums.
 */
public interface FeatureBit {
    /** The bit's number, 0..63. */
    int bit();

    /** The short name printed for it ({@code MRG_RXBUF}), the header's name without its prefix. */
    String name();

    /** The bit in a feature word. */
    default long mask() {
        return 1L << bit();
    }

    /**
     * The names of the bits set in {@code word}, lowest bit first: per bit the first of
     * {@code known} with that bit, else {@code bit N} (a bit the peer sent that this library does
     * not name).
     */
    static ImmutableList<String> names(long word, FeatureBit[] known) {
        ImmutableList.Builder<String> names = ImmutableList.builder();
        for (long rest = word; rest != 0; rest &= rest - 1) {
            int b = Long.numberOfTrailingZeros(rest);
            String name = "bit " + b;
            for (FeatureBit f : known) {
                if (f.bit() == b) {
                    name = f.name();
                    break;
                }
            }
            names.add(name);
        }
        return names.build();
    }
}
