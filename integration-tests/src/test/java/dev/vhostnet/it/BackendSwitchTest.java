package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A running device moves from the emulated backend to vhost-net and back under traffic, from the
 * vring bases each stop returns: every frame the driver sends arrives once and in order, and every
 * datagram sent to the guest around a switch is received once.
 */
@Tag("vhost-net")
class BackendSwitchTest {
    private static final int FRAMES = 4000;

    @Test
    void emulatedToKernelAndBackUnderTrafficLosesAndRepeatsNothing() throws Exception {
        NetFixture.assumeVhostNet();
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket();
                DatagramSocket toGuest = k.net.socket();
                SequencedTraffic traffic = new SequencedTraffic(k, socket, FRAMES)) {
            k.net.addGuestNeighbour();
            int toGuestSent = 0;
            Kind[] path = {Kind.KERNEL, Kind.EMULATED, Kind.KERNEL, Kind.EMULATED};
            for (int step = 0; step < path.length; step++) {
                traffic.awaitReceived(FRAMES * (step + 1) / (path.length + 1));
                TapInNamespace.sendToGuest(toGuest, 7200, payload(toGuestSent++, 64));
                k.switchTo(path[step]);
                assertEquals(path[step], k.device.kind());
                TapInNamespace.sendToGuest(toGuest, 7200, payload(toGuestSent++, 64));
            }
            traffic.assertAllArrivedOnceInOrder();
            for (int i = 0; i < toGuestSent; i++) {
                assertArrayEquals(
                        payload(i, 64),
                        EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7200).frame(), 0),
                        "datagram " + i + " to the guest");
            }
            assertTrue(k.receive(0, 300).isEmpty(), "no datagram twice");
        }
    }
}
