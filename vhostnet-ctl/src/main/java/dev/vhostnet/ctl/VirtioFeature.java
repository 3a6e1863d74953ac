package dev.vhostnet.ctl;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.sys.VirtioUapi;

/**
 * The feature bits this library knows, each with its bit from the header mirror
 * ({@link VirtioUapi}: {@code <linux/virtio_net.h>}, {@code <linux/virtio_config.h>},
 * {@code <linux/virtio_ring.h>}; {@link VhostUapi}: {@code <linux/vhost.h>}) and its name. The
 * last three are not virtio bits but mean something in the same word on the way to a backend:
 * {@link #LOG_ALL} and {@link #VIRTIO_NET_HDR} in {@code VHOST_SET_FEATURES}, {@link #PROTOCOL_FEATURES}
 * in vhost-user's {@code SET_FEATURES}. {@code VIRTIO_NET_HDR} shares bit 27 with {@link #ANY_LAYOUT};
 * a word's names give the virtio one.
 */
public enum VirtioFeature implements FeatureBit {
    CSUM(Header.NET, VirtioUapi.VIRTIO_NET_F_CSUM),
    GUEST_CSUM(Header.NET, VirtioUapi.VIRTIO_NET_F_GUEST_CSUM),
    MAC(Header.NET, VirtioUapi.VIRTIO_NET_F_MAC),
    GUEST_TSO4(Header.NET, VirtioUapi.VIRTIO_NET_F_GUEST_TSO4),
    GUEST_TSO6(Header.NET, VirtioUapi.VIRTIO_NET_F_GUEST_TSO6),
    GUEST_ECN(Header.NET, VirtioUapi.VIRTIO_NET_F_GUEST_ECN),
    GUEST_UFO(Header.NET, VirtioUapi.VIRTIO_NET_F_GUEST_UFO),
    HOST_TSO4(Header.NET, VirtioUapi.VIRTIO_NET_F_HOST_TSO4),
    HOST_TSO6(Header.NET, VirtioUapi.VIRTIO_NET_F_HOST_TSO6),
    HOST_ECN(Header.NET, VirtioUapi.VIRTIO_NET_F_HOST_ECN),
    HOST_UFO(Header.NET, VirtioUapi.VIRTIO_NET_F_HOST_UFO),
    MRG_RXBUF(Header.NET, VirtioUapi.VIRTIO_NET_F_MRG_RXBUF),
    MQ(Header.NET, VirtioUapi.VIRTIO_NET_F_MQ),
    NOTIFY_ON_EMPTY(Header.CONFIG, VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY),
    ANY_LAYOUT(Header.CONFIG, VirtioUapi.VIRTIO_F_ANY_LAYOUT),
    INDIRECT_DESC(Header.RING, VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC),
    EVENT_IDX(Header.RING, VirtioUapi.VIRTIO_RING_F_EVENT_IDX),
    VERSION_1(Header.CONFIG, VirtioUapi.VIRTIO_F_VERSION_1),
    ACCESS_PLATFORM(Header.CONFIG, VirtioUapi.VIRTIO_F_ACCESS_PLATFORM),
    RING_PACKED(Header.CONFIG, VirtioUapi.VIRTIO_F_RING_PACKED),
    /** vhost: log every write to guest memory (dirty logging for live migration). */
    LOG_ALL(Header.VHOST, VhostUapi.VHOST_F_LOG_ALL),
    /** vhost-net: the device adds and strips the virtio-net header itself (a tap without one). */
    VIRTIO_NET_HDR(Header.VHOST_NET, VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR),
    /** vhost-user: the back-end speaks protocol features (the vhost-user spec; no kernel header has it). */
    PROTOCOL_FEATURES(Header.VHOST_USER, 30);

    /** Where a bit is defined: the prefix its C name has there. */
    enum Header {
        NET("VIRTIO_NET_F_"),
        CONFIG("VIRTIO_F_"),
        RING("VIRTIO_RING_F_"),
        VHOST("VHOST_F_"),
        VHOST_NET("VHOST_NET_F_"),
        VHOST_USER("VHOST_USER_F_");

        final String prefix;

        Header(String prefix) {
            this.prefix = prefix;
        }
    }

    private static final VirtioFeature[] ALL = values();

    private final Header header;
    private final int bit;

    VirtioFeature(Header header, int bit) {
        this.header = header;
        this.bit = bit;
    }

    @Override
    public int bit() {
        return bit;
    }

    /** The name the header gives it ({@code VIRTIO_NET_F_MRG_RXBUF}, {@code VHOST_F_LOG_ALL}). */
    public String cName() {
        return header.prefix + name();
    }

    /** The names of the bits in {@code word}, lowest first; unknown bits as {@code bit N}. */
    static ImmutableList<String> names(long word) {
        return FeatureBit.names(word, ALL);
    }
}
