package dev.vhostnet.ctl;

import dev.vhostnet.sys.VirtioUapi;
import static dev.vhostnet.sys.VirtioUapi.bit;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapDevice;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * virtio-net feature negotiation in QEMU's two halves. Ring and transport features are decided by
 * vhost-net's offer ∩ the driver's ∩ what this library supports. Net offloads come from the tap:
 * the guest may send partial checksums and GSO ({@code CSUM}, {@code HOST_*}) when the tap has a
 * vnet header; it may receive them ({@code GUEST_*}) when the tap accepts the matching
 * {@code TUNSETOFFLOAD} flag, which is then set to match.
 */
public final class Features {
    /** Bits vhost-net decides: only these go to {@code VHOST_SET_FEATURES}. */
    public static final long VHOST_BITS = bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)
            | bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX) | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
            | bit(VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY) | bit(VirtioUapi.VIRTIO_F_ANY_LAYOUT)
            | bit(VirtioUapi.VIRTIO_F_ACCESS_PLATFORM) | bit(VirtioUapi.VIRTIO_F_RING_PACKED)
            | bit(VhostUapi.VHOST_F_LOG_ALL) | bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);

    /** What this library implements: no IOTLB ({@code ACCESS_PLATFORM}), no packed rings. */
    public static final long SUPPORTED_VHOST_BITS = VHOST_BITS
            & ~bit(VirtioUapi.VIRTIO_F_ACCESS_PLATFORM) & ~bit(VirtioUapi.VIRTIO_F_RING_PACKED);

    /** Offloads the guest may send: allowed whenever the tap has a vnet header. */
    public static final long HOST_OFFLOADS = bit(VirtioUapi.VIRTIO_NET_F_CSUM) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4)
            | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6) | bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN)
            | bit(VirtioUapi.VIRTIO_NET_F_HOST_UFO);

    /** Offloads the guest may receive, each needing the tap offload it maps to. */
    public static final ImmutableMap<Integer, Offload> GUEST_OFFLOADS = ImmutableMap.of(
            VirtioUapi.VIRTIO_NET_F_GUEST_CSUM, Offload.CSUM,
            VirtioUapi.VIRTIO_NET_F_GUEST_TSO4, Offload.TSO4,
            VirtioUapi.VIRTIO_NET_F_GUEST_TSO6, Offload.TSO6,
            VirtioUapi.VIRTIO_NET_F_GUEST_ECN, Offload.TSO_ECN,
            VirtioUapi.VIRTIO_NET_F_GUEST_UFO, Offload.UFO);

    private static final ImmutableMap<Integer, String> NAMES = ImmutableMap.<Integer, String>builder()
            .put(VirtioUapi.VIRTIO_NET_F_CSUM, "CSUM").put(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM")
            .put(VirtioUapi.VIRTIO_NET_F_MAC, "MAC").put(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4")
            .put(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6").put(VirtioUapi.VIRTIO_NET_F_GUEST_ECN, "GUEST_ECN")
            .put(VirtioUapi.VIRTIO_NET_F_GUEST_UFO, "GUEST_UFO").put(VirtioUapi.VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4")
            .put(VirtioUapi.VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6").put(VirtioUapi.VIRTIO_NET_F_HOST_ECN, "HOST_ECN")
            .put(VirtioUapi.VIRTIO_NET_F_HOST_UFO, "HOST_UFO").put(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF")
            .put(VirtioUapi.VIRTIO_NET_F_MQ, "MQ").put(VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY")
            .put(VirtioUapi.VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT").put(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC")
            .put(VirtioUapi.VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX").put(VirtioUapi.VIRTIO_F_VERSION_1, "VERSION_1")
            .put(VirtioUapi.VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM").put(VirtioUapi.VIRTIO_F_RING_PACKED, "RING_PACKED")
            .buildOrThrow();

    private Features() {}

    /** The names of the virtio-net feature bits set in {@code virtio}, lowest bit first ({@code VIRTIO_NET_F_}, {@code VIRTIO_F_} dropped); unknown bits as {@code bit N}. */
    public static ImmutableList<String> names(long virtio) {
        ImmutableList.Builder<String> names = ImmutableList.builder();
        for (int b = 0; b < 64; b++) {
            if ((virtio & bit(b)) != 0) {
                names.add(NAMES.getOrDefault(b, "bit " + b));
            }
        }
        return names.build();
    }

    /**
     * The outcome: the features the driver gets ({@code virtio}), those for
     * {@code VHOST_SET_FEATURES} ({@code vhost}), the tap offloads to set, and the vnet header size.
     */
    public record Negotiated(long virtio, long vhost, ImmutableSet<Offload> tapOffloads, int vnetHeaderSize) {
        /** Whether vhost-net adds and strips the header itself (a tap without vnet header). */
        public boolean vhostAddsHeader() {
            return (vhost & bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR)) != 0;
        }

        public boolean has(int feature) {
            return (virtio & bit(feature)) != 0;
        }
    }

    /**
     * Negotiates. {@code vhostOffer} is {@code VHOST_GET_FEATURES}; {@code driver} the bits the
     * driver wants; {@code tapAccepts} the offloads the tap took when probed; {@code logAll} asks
     * for dirty logging.
     */
    public static Negotiated negotiate(long vhostOffer, long driver, boolean tapHasVnetHeader, Set<Offload> tapAccepts,
            boolean logAll) {
        long ring = driver & vhostOffer & SUPPORTED_VHOST_BITS & ~bit(VhostUapi.VHOST_F_LOG_ALL)
                & ~bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);
        if (logAll) {
            if ((vhostOffer & bit(VhostUapi.VHOST_F_LOG_ALL)) == 0) {
                throw new IllegalStateException("dirty logging asked for, but vhost-net does not offer VHOST_F_LOG_ALL");
            }
            ring |= bit(VhostUapi.VHOST_F_LOG_ALL);
        }
        long net = 0;
        EnumSet<Offload> offloads = EnumSet.noneOf(Offload.class);
        if (tapHasVnetHeader) {
            net |= driver & HOST_OFFLOADS;
            for (Map.Entry<Integer, Offload> e : GUEST_OFFLOADS.entrySet()) {
                if ((driver & bit(e.getKey())) != 0 && tapAccepts.contains(e.getValue())) {
                    net |= bit(e.getKey());
                    offloads.add(e.getValue());
                }
            }
            net = dropUnmetDependencies(net, offloads);
        } else {
            if ((vhostOffer & bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR)) == 0) {
                throw new IllegalStateException("the tap has no vnet header and vhost-net does not offer "
                        + "VHOST_NET_F_VIRTIO_NET_HDR: open the tap with a vnet header");
            }
            ring |= bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR);
        }
        boolean longHeader = (ring & (bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF) | bit(VirtioUapi.VIRTIO_F_VERSION_1))) != 0;
        int headerSize = longHeader ? VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE : VirtioUapi.VIRTIO_NET_HDR_SIZE;
        long vhost = ring;
        long virtio = (ring & ~bit(VhostUapi.VHOST_F_LOG_ALL) & ~bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR)) | net
                | (driver & bit(VirtioUapi.VIRTIO_NET_F_MAC));
        return new Negotiated(virtio, vhost, ImmutableSet.copyOf(offloads), headerSize);
    }

    /**
     * Negotiates for a device about to start on {@code config}'s tap, against {@code offer} (the
     * backend's {@code VHOST_GET_FEATURES}): probes which offloads the tap takes (setting them all,
     * stepping down), negotiates, then gives the tap the vnet header size and offloads agreed.
     * With {@code requireAll}, a feature the driver asked for and cannot have fails with the reason.
     */
    public static Negotiated negotiate(NetDeviceConfig config, long offer) throws SysException {
        TapDevice tap = config.tap();
        boolean header = tap.config().vnetHeader();
        Set<Offload> accepted = header ? tap.setOffloads(EnumSet.copyOf(GUEST_OFFLOADS.values())) : Set.of();
        Negotiated n = negotiate(offer, config.driverFeatures(), header, accepted, config.dirtyLog());
        long missing = config.driverFeatures() & ~n.virtio();
        if (config.requireAll() && missing != 0) {
            throw new IllegalStateException(String.format("the driver asked for features 0x%x that this device cannot "
                    + "grant (the backend offers 0x%x; tap %s %s)", missing, offer, tap.name(),
                    header ? "accepts offloads " + accepted : "has no vnet header, so no offloads: open it with vnetHeader(12)"));
        }
        if (header) {
            tap.setVnetHdrSz(n.vnetHeaderSize());
            tap.setOffloads(n.tapOffloads());
        }
        return n;
    }

    /** The spec's dependencies: TSO and UFO need the checksum offload of the same direction; ECN needs TSO. */
    private static long dropUnmetDependencies(long net, Set<Offload> offloads) {
        if ((net & bit(VirtioUapi.VIRTIO_NET_F_CSUM)) == 0) {
            net &= ~(bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6)
                    | bit(VirtioUapi.VIRTIO_NET_F_HOST_UFO) | bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN));
        }
        if ((net & (bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6))) == 0) {
            net &= ~bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN);
        }
        if ((net & bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)) == 0) {
            net &= ~(bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)
                    | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN));
            offloads.clear();
        }
        if ((net & (bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6))) == 0) {
            net &= ~bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN);
            offloads.remove(Offload.TSO_ECN);
        }
        return net;
    }
}
