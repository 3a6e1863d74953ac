package dev.vhostnet.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.ctl.BackendChoice.Policy;
import org.junit.jupiter.api.Test;

class BackendChoiceTest {
    private static final String MISSING = "no /dev/vhost-net: vhost-net not loaded: modprobe vhost_net";

    @Test
    void preferKernelTakesVhostNetWhereItWorks() {
        assertEquals(
                new BackendChoice(Kind.KERNEL, "vhost-net is available"),
                BackendChoice.choose(Policy.PREFER_KERNEL, () -> null));
    }

    @Test
    void preferKernelFallsBackToEmulatedAndSaysWhy() {
        assertEquals(
                new BackendChoice(Kind.EMULATED, MISSING), BackendChoice.choose(Policy.PREFER_KERNEL, () -> MISSING));
    }

    @Test
    void requiringTheKernelFailsWithTheFix() {
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> BackendChoice.choose(Policy.KERNEL, () -> MISSING));
        assertTrue(e.getMessage().endsWith("modprobe vhost_net"), e.getMessage());
    }

    @Test
    void emulatedIsTakenWithoutAskingTheHost() {
        assertEquals(
                Kind.EMULATED,
                BackendChoice.choose(Policy.EMULATED, () -> {
                            throw new AssertionError("not asked");
                        })
                        .kind());
    }

    @Test
    void aVhostUserDeviceIsNotStartedFromATapConfiguration() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> NetDevices.start(null, Kind.VHOST_USER, VringBases.zero(1)));
        assertTrue(e.getMessage().contains("starts on its back-end's socket"), e.getMessage());
    }
}
