package dev.vhostnet.virtionet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.ctl.BackendChoice;
import java.net.DatagramSocket;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A guest NIC end to end on the emulated backend (on the host): a driver speaking only registers,
 * in Linux's probe order, over each transport, brings the device up and moves 10,000 frames of
 * 60–1514 bytes each way, byte-exact and in order, to and from a namespace peer.
 */
class GuestNicTest {
    @ParameterizedTest(name = "{0}")
    @EnumSource(Registers.Kind.class)
    void tenThousandFramesEachWayByteExactOnTheEmulatedBackend(Registers.Kind transport) throws Exception {
        try (Rig rig = Rig.open(transport, BackendChoice.Policy.EMULATED, 1); DatagramSocket socket = rig.net.socket()) {
            NetGuest guest = rig.probe();
            assertEquals(BackendChoice.Kind.EMULATED, rig.device.backend().orElseThrow().kind());
            rig.guestToNamespace(guest, 0, 10_000, socket);
            rig.namespaceToGuest(guest, 10_000, socket);
            assertEquals(10_000, guest.driver(0).counters().txFrames());
            assertEquals(0, rig.regs.counters().refusals(), rig.regs.counters().lastRefusal());
            assertEquals(0, rig.device.counters().refusals(), rig.device.counters().toString());
        }
    }
}
