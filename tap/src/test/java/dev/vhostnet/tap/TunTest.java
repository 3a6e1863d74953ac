package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TunTest {
    @Test
    void theKernelOffersTapsWithVnetHeaderAndMultiqueue() throws Exception {
        Privileges.assumeTaps();
        int features = Tun.features();
        for (int flag : new int[] {TunUapi.IFF_TAP, TunUapi.IFF_NO_PI, TunUapi.IFF_VNET_HDR, TunUapi.IFF_MULTI_QUEUE}) {
            assertEquals(flag, features & flag, "TUNGETFEATURES = 0x" + Integer.toHexString(features));
        }
        assertTrue(Tun.supports(TunUapi.IFF_TAP | TunUapi.IFF_VNET_HDR));
        assertTrue(Tun.isAvailable());
        assertNull(Tun.unavailabilityCause());
        Tun.ensureAvailability();
    }

    @Test
    void aMissingTunDeviceIsReportedWithModprobeTunAndLeaksNothing() {
        TapConfig config = TapConfig.builder().name(Names.random("vt")).build();
        Set<Integer> before = OpenFds.snapshot();
        SysException e = assertThrows(SysException.class, () -> TapBringUp.run(config, "/dev/net/no-tun-here"));
        assertTrue(e.is(Errno.ENOENT), e.getMessage());
        assertTrue(e.getMessage().startsWith("open(/dev/net/no-tun-here): ENOENT"), e.getMessage());
        assertTrue(e.hint().contains("modprobe tun"), e.hint());
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void noPermissionPointsAtCapNetAdminOrAnOwnedPersistentTap() {
        String expected = "needs CAP_NET_ADMIN, or a persistent tap owned by this user: vhostnet tap create --owner";
        assertEquals(expected, TapErrors.tunSetIff("vm0", 1).forErrno(Errno.EPERM.number()));
        assertTrue(TapErrors.OPEN_TUN.forErrno(Errno.EACCES.number()).endsWith(expected));
    }
}
