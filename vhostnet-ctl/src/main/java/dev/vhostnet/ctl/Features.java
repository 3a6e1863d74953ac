package dev.vhostnet.ctl;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.Offload;
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
    public static final FeatureSet VHOST_BITS = FeatureSet.of(
            VirtioFeature.VERSION_1,
            VirtioFeature.MRG_RXBUF,
            VirtioFeature.EVENT_IDX,
            VirtioFeature.INDIRECT_DESC,
            VirtioFeature.NOTIFY_ON_EMPTY,
            VirtioFeature.ANY_LAYOUT,
            VirtioFeature.ACCESS_PLATFORM,
            VirtioFeature.RING_PACKED,
            VirtioFeature.LOG_ALL,
            VirtioFeature.VIRTIO_NET_HDR);

    /** What this library implements: no IOTLB ({@code ACCESS_PLATFORM}), no packed rings. */
    public static final FeatureSet SUPPORTED_VHOST_BITS =
            VHOST_BITS.without(VirtioFeature.ACCESS_PLATFORM, VirtioFeature.RING_PACKED);

    /** Offloads the guest may send: allowed whenever the tap has a vnet header. */
    public static final FeatureSet HOST_OFFLOADS = FeatureSet.of(
            VirtioFeature.CSUM,
            VirtioFeature.HOST_TSO4,
            VirtioFeature.HOST_TSO6,
            VirtioFeature.HOST_ECN,
            VirtioFeature.HOST_UFO);

    /** Offloads the guest may receive, each needing the tap offload it maps to. */
    public static final ImmutableMap<VirtioFeature, Offload> GUEST_OFFLOADS = ImmutableMap.of(
            VirtioFeature.GUEST_CSUM, Offload.CSUM,
            VirtioFeature.GUEST_TSO4, Offload.TSO4,
            VirtioFeature.GUEST_TSO6, Offload.TSO6,
            VirtioFeature.GUEST_ECN, Offload.TSO_ECN,
            VirtioFeature.GUEST_UFO, Offload.UFO);

    /** The guest offloads of {@link #GUEST_OFFLOADS} as one set. */
    public static final FeatureSet GUEST_OFFLOAD_BITS =
            FeatureSet.of(GUEST_OFFLOADS.keySet().toArray(VirtioFeature[]::new));

    private Features() {}

    /**
     * The outcome: the features the driver gets ({@code virtio}), those for
     * {@code VHOST_SET_FEATURES} ({@code vhost}), the tap offloads to set, and the vnet header size.
     */
    public record Negotiated(
            FeatureSet virtio, FeatureSet vhost, ImmutableSet<Offload> tapOffloads, int vnetHeaderSize) {
        /** Whether vhost-net adds and strips the header itself (a tap without vnet header). */
        public boolean vhostAddsHeader() {
            return vhost.has(VirtioFeature.VIRTIO_NET_HDR);
        }

        /** Whether the driver gets {@code feature}. */
        public boolean has(VirtioFeature feature) {
            return virtio.has(feature);
        }
    }

    /**
     * Negotiates. {@code vhostOffer} is {@code VHOST_GET_FEATURES}; {@code driver} the bits the
     * driver wants; {@code tapAccepts} the offloads the tap took when probed; {@code logAll} asks
     * for dirty logging.
     */
    public static Negotiated negotiate(
            FeatureSet vhostOffer,
            FeatureSet driver,
            boolean tapHasVnetHeader,
            Set<Offload> tapAccepts,
            boolean logAll) {
        FeatureSet ring = driver.and(vhostOffer)
                .and(SUPPORTED_VHOST_BITS)
                .without(VirtioFeature.LOG_ALL, VirtioFeature.VIRTIO_NET_HDR);
        if (logAll) {
            if (!vhostOffer.has(VirtioFeature.LOG_ALL)) {
                throw new IllegalStateException(
                        "dirty logging asked for, but vhost-net does not offer VHOST_F_LOG_ALL");
            }
            ring = ring.with(VirtioFeature.LOG_ALL);
        }
        FeatureSet net = FeatureSet.NONE;
        EnumSet<Offload> offloads = EnumSet.noneOf(Offload.class);
        if (tapHasVnetHeader) {
            net = driver.and(HOST_OFFLOADS);
            for (Map.Entry<VirtioFeature, Offload> e : GUEST_OFFLOADS.entrySet()) {
                if (driver.has(e.getKey()) && tapAccepts.contains(e.getValue())) {
                    net = net.with(e.getKey());
                }
            }
            net = dropUnmetDependencies(net);
            for (Map.Entry<VirtioFeature, Offload> e : GUEST_OFFLOADS.entrySet()) {
                if (net.has(e.getKey())) {
                    offloads.add(e.getValue());
                }
            }
        } else {
            if (!vhostOffer.has(VirtioFeature.VIRTIO_NET_HDR)) {
                throw new IllegalStateException("the tap has no vnet header and vhost-net does not offer "
                        + "VHOST_NET_F_VIRTIO_NET_HDR: open the tap with a vnet header");
            }
            ring = ring.with(VirtioFeature.VIRTIO_NET_HDR);
        }
        FeatureSet virtio = ring.without(VirtioFeature.LOG_ALL, VirtioFeature.VIRTIO_NET_HDR)
                .with(net)
                .with(driver.and(FeatureSet.of(VirtioFeature.MAC)));
        return new Negotiated(virtio, ring, ImmutableSet.copyOf(offloads), vnetHeaderSize(ring));
    }

    /** The virtio-net header size for {@code features}: with {@code num_buffers} under {@code MRG_RXBUF} or {@code VERSION_1}. */
    public static int vnetHeaderSize(FeatureSet features) {
        return features.has(VirtioFeature.MRG_RXBUF) || features.has(VirtioFeature.VERSION_1)
                ? VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE
                : VirtioUapi.VIRTIO_NET_HDR_SIZE;
    }

    /**
     * Negotiates for a device about to start on {@code config}'s tap, against {@code offer} (the
     * backend's {@code VHOST_GET_FEATURES}): probes which offloads the tap takes (setting them all,
     * stepping down), negotiates, then gives the tap the vnet header size and offloads agreed.
     * With {@code requireAll}, a feature the driver asked for and cannot have fails with the reason.
     */
    public static Negotiated negotiate(NetDeviceConfig config, FeatureSet offer) throws SysException {
        TapDevice tap = config.tap();
        boolean header = tap.config().vnetHeader();
        Set<Offload> accepted = header ? tap.setOffloads(EnumSet.copyOf(GUEST_OFFLOADS.values())) : Set.of();
        Negotiated n = negotiate(offer, config.driverFeatures(), header, accepted, config.dirtyLog());
        FeatureSet missing = config.driverFeatures().without(n.virtio());
        if (config.requireAll() && !missing.isEmpty()) {
            throw new IllegalStateException(String.format(
                    "the driver asked for features 0x%x (%s) that this device cannot "
                            + "grant (the backend offers 0x%x; tap %s %s)",
                    missing.toLong(),
                    missing,
                    offer.toLong(),
                    tap.name(),
                    header
                            ? "accepts offloads " + accepted
                            : "has no vnet header, so no offloads: open it with vnetHeader(12)"));
        }
        if (header) {
            tap.setVnetHdrSz(n.vnetHeaderSize());
            tap.setOffloads(n.tapOffloads());
        }
        return n;
    }

    /** The spec's dependencies: TSO and UFO need the checksum offload of the same direction; ECN needs TSO. */
    public static FeatureSet dropUnmetDependencies(FeatureSet net) {
        if (!net.has(VirtioFeature.CSUM)) {
            net = net.without(
                    VirtioFeature.HOST_TSO4, VirtioFeature.HOST_TSO6, VirtioFeature.HOST_UFO, VirtioFeature.HOST_ECN);
        }
        if (!net.has(VirtioFeature.HOST_TSO4) && !net.has(VirtioFeature.HOST_TSO6)) {
            net = net.without(VirtioFeature.HOST_ECN);
        }
        if (!net.has(VirtioFeature.GUEST_CSUM)) {
            net = net.without(
                    VirtioFeature.GUEST_TSO4,
                    VirtioFeature.GUEST_TSO6,
                    VirtioFeature.GUEST_UFO,
                    VirtioFeature.GUEST_ECN);
        }
        if (!net.has(VirtioFeature.GUEST_TSO4) && !net.has(VirtioFeature.GUEST_TSO6)) {
            net = net.without(VirtioFeature.GUEST_ECN);
        }
        return net;
    }
}
