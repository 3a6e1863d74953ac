package dev.vhostnet.vhostuser;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.Sets;
import dev.vhostnet.ctl.FeatureBit;
import java.util.Collection;
import java.util.EnumSet;
import java.util.Set;

/**
 * The protocol feature bits of {@code GET_PROTOCOL_FEATURES} / {@code SET_PROTOCOL_FEATURES}
 * ({@code VHOST_USER_PROTOCOL_F_*}: {@code docs/interop/vhost-user.rst}, "Protocol features";
 * no kernel header has them), each with its bit and name.
 */
public enum VhostUserProtocolFeature implements FeatureBit {
    MQ(0),
    LOG_SHMFD(1),
    RARP(2),
    REPLY_ACK(3),
    NET_MTU(4),
    BACKEND_REQ(5),
    CROSS_ENDIAN(6),
    CRYPTO_SESSION(7),
    PAGEFAULT(8),
    CONFIG(9),
    BACKEND_SEND_FD(10),
    HOST_NOTIFIER(11),
    INFLIGHT_SHMFD(12),
    RESET_DEVICE(13),
    INBAND_NOTIFICATIONS(14),
    CONFIGURE_MEM_SLOTS(15),
    STATUS(16),
    XEN_MMAP(17),
    SHARED_OBJECT(18),
    DEVICE_STATE(19);

    private static final VhostUserProtocolFeature[] ALL = values();

    private final int bit;

    VhostUserProtocolFeature(int bit) {
        this.bit = bit;
    }

    @Override
    public int bit() {
        return bit;
    }

    /** The word of {@code features}, for the wire. */
    public static long mask(Collection<VhostUserProtocolFeature> features) {
        long word = 0;
        for (VhostUserProtocolFeature f : features) {
            word |= f.mask();
        }
        return word;
    }

    /** The features named in {@code word}; bits this enum does not name are left out (see {@link #names}). */
    public static Set<VhostUserProtocolFeature> of(long word) {
        EnumSet<VhostUserProtocolFeature> set = EnumSet.noneOf(VhostUserProtocolFeature.class);
        for (VhostUserProtocolFeature f : ALL) {
            if ((word & f.mask()) != 0) {
                set.add(f);
            }
        }
        return Sets.immutableEnumSet(set);
    }

    /** The names of the bits in {@code word}, lowest first; unknown bits as {@code bit N}. */
    public static ImmutableList<String> names(long word) {
        return FeatureBit.names(word, ALL);
    }
}
