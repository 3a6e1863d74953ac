package dev.vhostnet.ctl;

import static dev.vhostnet.ctl.VirtioFeature.ANY_LAYOUT;
import static dev.vhostnet.ctl.VirtioFeature.CSUM;
import static dev.vhostnet.ctl.VirtioFeature.EVENT_IDX;
import static dev.vhostnet.ctl.VirtioFeature.LOG_ALL;
import static dev.vhostnet.ctl.VirtioFeature.MRG_RXBUF;
import static dev.vhostnet.ctl.VirtioFeature.VERSION_1;
import static dev.vhostnet.ctl.VirtioFeature.VIRTIO_NET_HDR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.sys.VirtioUapi;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FeatureSetTest {
    @Test
    void everyFeatureHasTheBitItsHeaderMirrorGives() throws Exception {
        List<VirtioFeature> unmirrored = new ArrayList<>();
        for (VirtioFeature f : VirtioFeature.values()) {
            Integer mirrored = mirrored(f.cName());
            if (mirrored == null) {
                unmirrored.add(f);
            } else {
                assertEquals(mirrored, f.bit(), f.cName());
            }
        }
        assertEquals(
                List.of(VirtioFeature.PROTOCOL_FEATURES), unmirrored, "only vhost-user's bit is in no kernel header");
        assertEquals(30, VirtioFeature.PROTOCOL_FEATURES.bit(), "VHOST_USER_F_PROTOCOL_FEATURES (vhost-user spec)");
    }

    private static Integer mirrored(String cName) throws IllegalAccessException {
        for (Class<?> header : List.of(VirtioUapi.class, VhostUapi.class)) {
            try {
                return header.getField(cName).getInt(null);
            } catch (NoSuchFieldException e) {
                // in the other header, or in none
            }
        }
        return null;
    }

    @Test
    void namesComeLowestBitFirstWithUnknownBitsByNumber() {
        FeatureSet f = FeatureSet.of(CSUM.mask() | (1L << 40) | VERSION_1.mask() | MRG_RXBUF.mask());
        assertEquals(List.of("CSUM", "MRG_RXBUF", "VERSION_1", "bit 40"), f.names());
        assertEquals("CSUM MRG_RXBUF VERSION_1 bit 40", f.toString());
        assertEquals("none", FeatureSet.NONE.toString());
    }

    @Test
    void aBitWithAVirtioAndAVhostMeaningIsNamedForVirtio() {
        assertEquals(ANY_LAYOUT.bit(), VIRTIO_NET_HDR.bit());
        assertEquals(List.of("ANY_LAYOUT"), FeatureSet.of(VIRTIO_NET_HDR).names());
        assertEquals(List.of("LOG_ALL"), FeatureSet.of(LOG_ALL).names());
    }

    @Test
    void unknownBitsSurviveARoundTrip() {
        long word = 0xf000_0000_0000_8001L;
        FeatureSet f = FeatureSet.of(word);
        assertEquals(word, f.toLong());
        assertEquals(f, FeatureSet.of(f.toLong()));
        assertEquals(word | EVENT_IDX.mask(), f.with(EVENT_IDX).toLong(), "adding a bit keeps the unknown ones");
    }

    @Test
    void setOperationsWorkOnTheWord() {
        FeatureSet a = FeatureSet.of(CSUM, MRG_RXBUF, VERSION_1);
        FeatureSet b = FeatureSet.of(MRG_RXBUF, EVENT_IDX);
        assertEquals(FeatureSet.of(MRG_RXBUF), a.and(b));
        assertEquals(FeatureSet.of(CSUM, MRG_RXBUF, VERSION_1, EVENT_IDX), a.with(b));
        assertEquals(FeatureSet.of(CSUM, VERSION_1), a.without(b));
        assertEquals(FeatureSet.of(CSUM), a.without(MRG_RXBUF, VERSION_1));
        assertTrue(a.has(CSUM) && !a.has(EVENT_IDX));
        assertTrue(a.hasAny(b));
        assertFalse(a.hasAny(FeatureSet.of(EVENT_IDX)));
        assertTrue(FeatureSet.of(0).isEmpty());
        assertEquals(
                FeatureSet.of(CSUM, VERSION_1).hashCode(),
                FeatureSet.of(CSUM.mask() | VERSION_1.mask()).hashCode());
    }
}
