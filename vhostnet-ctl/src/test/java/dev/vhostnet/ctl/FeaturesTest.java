package dev.vhostnet.ctl;

import static dev.vhostnet.ctl.VirtioFeature.ACCESS_PLATFORM;
import static dev.vhostnet.ctl.VirtioFeature.CSUM;
import static dev.vhostnet.ctl.VirtioFeature.EVENT_IDX;
import static dev.vhostnet.ctl.VirtioFeature.GUEST_CSUM;
import static dev.vhostnet.ctl.VirtioFeature.GUEST_TSO4;
import static dev.vhostnet.ctl.VirtioFeature.GUEST_UFO;
import static dev.vhostnet.ctl.VirtioFeature.HOST_TSO4;
import static dev.vhostnet.ctl.VirtioFeature.INDIRECT_DESC;
import static dev.vhostnet.ctl.VirtioFeature.LOG_ALL;
import static dev.vhostnet.ctl.VirtioFeature.MRG_RXBUF;
import static dev.vhostnet.ctl.VirtioFeature.RING_PACKED;
import static dev.vhostnet.ctl.VirtioFeature.VERSION_1;
import static dev.vhostnet.ctl.VirtioFeature.VIRTIO_NET_HDR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.kernel.VhostNetDeviceTest;
import dev.vhostnet.tap.Offload;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FeaturesTest {
    private static final FeatureSet OFFER = VhostNetDeviceTest.OFFER;

    @Test
    void ringFeaturesAreTheIntersectionOfVhostDriverAndSupport() {
        FeatureSet driver = FeatureSet.of(VERSION_1, INDIRECT_DESC, ACCESS_PLATFORM, RING_PACKED);
        Features.Negotiated n = Features.negotiate(OFFER, driver, true, Set.of(), false);
        assertEquals(
                FeatureSet.of(VERSION_1, INDIRECT_DESC),
                n.virtio(),
                "ACCESS_PLATFORM needs an IOTLB and packed rings are not in vhost-net: both refused");
        assertEquals(12, n.vnetHeaderSize(), "VERSION_1 means the 12-byte header");
    }

    @Test
    void theLegacyHeaderIsTenBytes() {
        Features.Negotiated n = Features.negotiate(OFFER, FeatureSet.of(EVENT_IDX), true, Set.of(), false);
        assertEquals(10, n.vnetHeaderSize());
    }

    @Test
    void guestOffloadsNeedTheTapToAcceptThemAndTheirChecksumBase() {
        FeatureSet driver = FeatureSet.of(GUEST_CSUM, GUEST_TSO4, GUEST_UFO, CSUM, HOST_TSO4);
        Features.Negotiated n = Features.negotiate(OFFER, driver, true, Set.of(Offload.CSUM, Offload.TSO4), false);
        assertTrue(n.has(GUEST_TSO4));
        assertFalse(n.has(GUEST_UFO), "the tap refused UFO");
        assertTrue(n.has(HOST_TSO4), "the guest may send TSO whenever the tap has a vnet header");
        assertEquals(Set.of(Offload.CSUM, Offload.TSO4), n.tapOffloads());
        assertFalse(
                n.vhost().hasAny(Features.HOST_OFFLOADS.with(GUEST_CSUM)),
                "offload bits never go to vhost-net, which refuses them");

        Features.Negotiated noCsum = Features.negotiate(
                OFFER, driver.without(GUEST_CSUM, CSUM), true, Set.of(Offload.CSUM, Offload.TSO4), false);
        assertFalse(noCsum.has(GUEST_TSO4), "TSO without checksum offload is dropped");
        assertFalse(noCsum.has(HOST_TSO4));
        assertEquals(Set.of(), noCsum.tapOffloads());
    }

    @Test
    void withoutATapVnetHeaderVhostAddsItAndNoOffloadIsPossible() {
        Features.Negotiated n =
                Features.negotiate(OFFER, FeatureSet.of(CSUM, MRG_RXBUF), false, Set.of(Offload.CSUM), false);
        assertTrue(n.vhostAddsHeader());
        assertEquals(FeatureSet.of(MRG_RXBUF), n.virtio());
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> Features.negotiate(OFFER.without(VIRTIO_NET_HDR), FeatureSet.NONE, false, Set.of(), false));
        assertTrue(e.getMessage().contains("open the tap with a vnet header"), e.getMessage());
    }

    @Test
    void dirtyLoggingNeedsLogAllFromVhost() {
        assertTrue(Features.negotiate(OFFER, FeatureSet.NONE, true, Set.of(), true)
                .vhost()
                .has(LOG_ALL));
        assertFalse(
                Features.negotiate(OFFER, FeatureSet.NONE, true, Set.of(), true).has(LOG_ALL),
                "LOG_ALL is vhost's business, not the driver's");
        assertThrows(
                IllegalStateException.class,
                () -> Features.negotiate(OFFER.without(LOG_ALL), FeatureSet.NONE, true, Set.of(), true));
    }
}
