package dev.vhostnet.ctl;

import dev.vhostnet.ctl.kernel.VhostNetDeviceTest;
import dev.vhostnet.sys.VirtioUapi;
import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.tap.Offload;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FeaturesTest {
    private static final long OFFER = VhostNetDeviceTest.OFFER;

    @Test
    void ringFeaturesAreTheIntersectionOfVhostDriverAndSupport() {
        long driver = bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC)
                | bit(VirtioUapi.VIRTIO_F_ACCESS_PLATFORM) | bit(VirtioUapi.VIRTIO_F_RING_PACKED);
        Features.Negotiated n = Features.negotiate(OFFER, driver, true, Set.of(), false);
        assertEquals(bit(VirtioUapi.VIRTIO_F_VERSION_1) | bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC), n.virtio(),
                "ACCESS_PLATFORM needs an IOTLB and packed rings are not in vhost-net: both refused");
        assertEquals(12, n.vnetHeaderSize(), "VERSION_1 means the 12-byte header");
    }

    @Test
    void theLegacyHeaderIsTenBytes() {
        Features.Negotiated n = Features.negotiate(OFFER, bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX), true, Set.of(), false);
        assertEquals(10, n.vnetHeaderSize());
    }

    @Test
    void guestOffloadsNeedTheTapToAcceptThemAndTheirChecksumBase() {
        long driver = bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM) | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4)
                | bit(VirtioUapi.VIRTIO_NET_F_GUEST_UFO) | bit(VirtioUapi.VIRTIO_NET_F_CSUM) | bit(VirtioUapi.VIRTIO_NET_F_HOST_TSO4);
        Features.Negotiated n = Features.negotiate(OFFER, driver, true, Set.of(Offload.CSUM, Offload.TSO4), false);
        assertTrue(n.has(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4));
        assertFalse(n.has(VirtioUapi.VIRTIO_NET_F_GUEST_UFO), "the tap refused UFO");
        assertTrue(n.has(VirtioUapi.VIRTIO_NET_F_HOST_TSO4), "the guest may send TSO whenever the tap has a vnet header");
        assertEquals(Set.of(Offload.CSUM, Offload.TSO4), n.tapOffloads());
        assertEquals(0, n.vhost() & (Features.HOST_OFFLOADS | bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)),
                "offload bits never go to vhost-net, which refuses them");

        Features.Negotiated noCsum = Features.negotiate(OFFER, driver & ~bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM)
                & ~bit(VirtioUapi.VIRTIO_NET_F_CSUM), true, Set.of(Offload.CSUM, Offload.TSO4), false);
        assertFalse(noCsum.has(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4), "TSO without checksum offload is dropped");
        assertFalse(noCsum.has(VirtioUapi.VIRTIO_NET_F_HOST_TSO4));
        assertEquals(Set.of(), noCsum.tapOffloads());
    }

    @Test
    void withoutATapVnetHeaderVhostAddsItAndNoOffloadIsPossible() {
        Features.Negotiated n = Features.negotiate(OFFER, bit(VirtioUapi.VIRTIO_NET_F_CSUM) | bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF),
                false, Set.of(Offload.CSUM), false);
        assertTrue(n.vhostAddsHeader());
        assertEquals(bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF), n.virtio());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Features.negotiate(OFFER & ~bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR), 0, false, Set.of(), false));
        assertTrue(e.getMessage().contains("open the tap with a vnet header"), e.getMessage());
    }

    @Test
    void dirtyLoggingNeedsLogAllFromVhost() {
        assertTrue((Features.negotiate(OFFER, 0, true, Set.of(), true).vhost() & bit(VhostUapi.VHOST_F_LOG_ALL)) != 0);
        assertFalse(Features.negotiate(OFFER, 0, true, Set.of(), true).has(VhostUapi.VHOST_F_LOG_ALL),
                "LOG_ALL is vhost's business, not the driver's");
        assertThrows(IllegalStateException.class,
                () -> Features.negotiate(OFFER & ~bit(VhostUapi.VHOST_F_LOG_ALL), 0, true, Set.of(), true));
    }
}
