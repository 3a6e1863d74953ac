package dev.vhostnet.virtionet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.ctl.BackendChoice;
import java.net.DatagramSocket;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A guest NIC end to end: a driver speaking only registers, in Linux's probe order, over each
 * transport, brings the device up on the emulated backend (host and test VM) and on vhost-net (test
 * VM) and moves 10,000 frames of 60–1514 bytes each way, byte-exact and in order, to and from a
 * namespace peer.
 */
@Tag("vhost-net")
class GuestNicTest {
    static Stream<Arguments> transportsAndBackends() {
        return Stream.of(Registers.Kind.values())
                .flatMap(t -> Stream.of(BackendChoice.Policy.EMULATED, BackendChoice.Policy.KERNEL)
                        .map(b -> Arguments.of(t, b)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("transportsAndBackends")
    void tenThousandFramesEachWayByteExact(Registers.Kind transport, BackendChoice.Policy backend) throws Exception {
        Rig.assumeBackend(backend);
        try (Rig rig = Rig.open(transport, backend, 1);
                DatagramSocket socket = rig.net.socket()) {
            NetGuest guest = rig.probe();
            assertEquals(
                    backend.name(), rig.device.backend().orElseThrow().kind().name());
            rig.guestToNamespace(guest, 0, 10_000, socket);
            rig.namespaceToGuest(guest, 10_000, socket);
            assertEquals(10_000, guest.driver(0).counters().txFrames());
            assertEquals(0, rig.regs.counters().refusals(), rig.regs.counters().lastRefusal());
            assertEquals(
                    0, rig.device.counters().refusals(), rig.device.counters().toString());
        }
    }
}
