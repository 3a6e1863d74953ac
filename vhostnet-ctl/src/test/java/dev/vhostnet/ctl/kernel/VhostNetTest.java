package dev.vhostnet.ctl.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import java.nio.file.Files;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VhostNetTest {
    @Test
    void aMissingDeviceFailsWithTheFixAndLeaksNothing() {
        assumeFalse(
                Files.exists(VhostNet.DEVICE),
                "this host has /dev/vhost-net: the missing-device error cannot be shown");
        Set<Integer> before = OpenFds.snapshot();
        SysException e = assertThrows(SysException.class, VhostNet::open);
        assertEquals(
                "open(/dev/vhost-net): ENOENT (No such file or directory) — vhost-net not loaded: "
                        + "modprobe vhost_net (the kernel needs CONFIG_VHOST_NET)",
                e.getMessage());
        assertTrue(VhostNet.unavailabilityCause().contains("modprobe vhost_net"));
        assertEquals("", OpenFds.leakedSince(before));
    }
}
