package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioUapi.bit;

import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.sys.VirtioUapi;

/**
 * The feature bits the device model serves itself, whatever the backend (QEMU's virtio-net: MAC,
 * status, control queue and its classes, MTU, speed and duplex), and the virtio-net feature
 * dependencies of virtio 1.x §5.1.3.1, which decide both what the device may offer and which of the
 * driver's subsets it refuses at {@code FEATURES_OK}.
 */
final class NetFeatures {
    static final long CTRL_VQ = bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_VQ);
    static final long MQ = bit(VirtioUapi.VIRTIO_NET_F_MQ);

    /** Served by the device model: never sent to a backend. */
    static final long MODEL_BITS = bit(VirtioUapi.VIRTIO_NET_F_MAC)
            | bit(VirtioNetUapi.VIRTIO_NET_F_STATUS)
            | CTRL_VQ
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX)
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_MAC_ADDR)
            | bit(VirtioNetUapi.VIRTIO_NET_F_GUEST_ANNOUNCE)
            | MQ
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)
            | bit(VirtioNetUapi.VIRTIO_NET_F_MTU)
            | bit(VirtioNetUapi.VIRTIO_NET_F_SPEED_DUPLEX);

    /** The receive offloads {@code VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET} may switch (QEMU's {@code virtio_net_supported_guest_offloads}). */
    static final long GUEST_OFFLOADS = bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO);

    private static final long NEEDS_CTRL_VQ = bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX)
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_VLAN)
            | bit(VirtioNetUapi.VIRTIO_NET_F_GUEST_ANNOUNCE)
            | MQ
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_MAC_ADDR)
            | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
    private static final long NEEDS_GUEST_CSUM = bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)
            | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO);
    private static final long GUEST_TSO =
            bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6);
    private static final long NEEDS_CSUM = bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4)
            | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6)
            | bit(VirtioUapi.VIRTIO_NET_F_HOST_UFO);
    private static final long HOST_TSO =
            bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO6);

    private NetFeatures() {}

    /**
     * The first §5.1.3.1 rule {@code features} breaks, in words; {@code null} if none: the guest
     * receive offloads need {@code GUEST_CSUM} (ECN a TSO), the host ones {@code CSUM} (ECN a TSO),
     * and every control class (and multiqueue) the control queue.
     */
    static String unmetDependency(long features) {
        if ((features & NEEDS_CTRL_VQ) != 0 && (features & CTRL_VQ) == 0) {
            return "0x" + Long.toHexString(features & NEEDS_CTRL_VQ) + " without CTRL_VQ";
        }
        if ((features & bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX_EXTRA)) != 0
                && (features & bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX)) == 0) {
            return "CTRL_RX_EXTRA without CTRL_RX";
        }
        if ((features & NEEDS_GUEST_CSUM) != 0 && (features & bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)) == 0) {
            return "guest TSO/UFO without GUEST_CSUM";
        }
        if ((features & bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN)) != 0 && (features & GUEST_TSO) == 0) {
            return "GUEST_ECN without GUEST_TSO4 or GUEST_TSO6";
        }
        if ((features & NEEDS_CSUM) != 0 && (features & bit(VirtioUapi.VIRTIO_NET_F_CSUM)) == 0) {
            return "host TSO/UFO without CSUM";
        }
        if ((features & bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN)) != 0 && (features & HOST_TSO) == 0) {
            return "HOST_ECN without HOST_TSO4 or HOST_TSO6";
        }
        return null;
    }

    /** {@code offer} without the features whose dependencies it lacks (a device must not offer them). */
    static long closed(long offer) {
        if ((offer & CTRL_VQ) == 0) {
            offer &= ~NEEDS_CTRL_VQ;
        }
        if ((offer & bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX)) == 0) {
            offer &= ~bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX_EXTRA);
        }
        if ((offer & bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)) == 0) {
            offer &= ~NEEDS_GUEST_CSUM;
        }
        if ((offer & GUEST_TSO) == 0) {
            offer &= ~bit(VirtioUapi.VIRTIO_NET_F_GUEST_ECN);
        }
        if ((offer & bit(VirtioUapi.VIRTIO_NET_F_CSUM)) == 0) {
            offer &= ~NEEDS_CSUM;
        }
        if ((offer & HOST_TSO) == 0) {
            offer &= ~bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN);
        }
        return offer;
    }
}
