package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.receiveUdpTo;
import static dev.vhostnet.it.DataPathTest.transmit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.tap.EthernetFrames;
import dev.vhostnet.tap.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES); DatagramSocket socket = k.net.socket();
             DatagramSocket toGuest = k.net.socket()) {
            k.net.addGuestNeighbour();
            int port = socket.getLocalPort();
            AtomicInteger received = new AtomicInteger();
            Future<?> sender = threads.submit(() -> {
                for (int i = 0; i < FRAMES; i++) {
                    while (i - received.get() > 100) {
                        Thread.sleep(1);
                    }
                    transmit(k.driver(0), frameTo(k, port, 40000, payload(i, 100)));
                }
                return null;
            });
            Future<List<Integer>> receiver = threads.submit(() -> {
                List<Integer> seqs = new ArrayList<>();
                while (seqs.size() < FRAMES) {
                    seqs.add(ByteBuffer.wrap(TapInNamespace.receive(socket)).getInt());
                    received.incrementAndGet();
                }
                return seqs;
            });
            int toGuestSent = 0;
            Kind[] path = {Kind.KERNEL, Kind.EMULATED, Kind.KERNEL, Kind.EMULATED};
            for (int step = 0; step < path.length; step++) {
                while (received.get() < FRAMES * (step + 1) / (path.length + 1)) {
                    Thread.sleep(1);
                }
                TapInNamespace.sendToGuest(toGuest, 7200, payload(toGuestSent++, 64));
                k.switchTo(path[step]);
                assertEquals(path[step], k.device.kind());
                TapInNamespace.sendToGuest(toGuest, 7200, payload(toGuestSent++, 64));
            }
            sender.get(120, TimeUnit.SECONDS);
            List<Integer> seqs = receiver.get(120, TimeUnit.SECONDS);
            for (int i = 0; i < FRAMES; i++) {
                assertEquals(i, seqs.get(i), "frame " + i + " of " + FRAMES + " across " + path.length + " switches");
            }
            for (int i = 0; i < toGuestSent; i++) {
                assertArrayEquals(payload(i, 64), EthernetFrames.udpPayload(receiveUdpTo(k, 0, 7200).frame(), 0),
                        "datagram " + i + " to the guest");
            }
            assertTrue(k.receive(0, 300).isEmpty(), "no datagram twice");
        } finally {
            threads.shutdownNow();
        }
    }
}
