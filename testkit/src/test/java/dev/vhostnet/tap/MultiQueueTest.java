package dev.vhostnet.tap;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A tap with IFF_MULTI_QUEUE: one fd per queue, each detachable with TUNSETQUEUE. */
class MultiQueueTest {
    private static final int PORT = 9997;

    @BeforeEach
    void needsRootAndTun() {
        Privileges.assumeNamespaces();
    }

    @Test
    void framesWrittenOnEveryQueueArriveAndTheKernelCountsTheQueues() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(TapConfig.builder().queues(4));
                DatagramSocket socket = t.socket()) {
            assertTrue(t.ns.ip("-d", "link", "show", "dev", t.tap.name())
                    .contains("multi_queue numqueues 4 numdisabled 0"));
            Set<String> sent = new HashSet<>();
            for (int q = 0; q < 4; q++) {
                String payload = "queue " + q;
                sent.add(payload);
                t.write(
                        q,
                        EthernetFrames.udp(
                                TapInNamespace.GUEST_MAC,
                                t.tapMac,
                                TapInNamespace.GUEST_IP_BYTES,
                                TapInNamespace.HOST_IP_BYTES,
                                41000 + q,
                                socket.getLocalPort(),
                                payload.getBytes(US_ASCII)));
            }
            Set<String> received = new HashSet<>();
            for (int q = 0; q < 4; q++) {
                received.add(new String(TapInNamespace.receive(socket), US_ASCII));
            }
            assertEquals(sent, received);
        }
    }

    @Test
    void aDetachedQueueGetsNoTrafficAndTakesItAgainOnceAttached() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(TapConfig.builder().queues(2))) {
            t.addGuestNeighbour();
            TapQueue second = t.tap.queue(1);
            second.detach();
            assertFalse(second.isAttached());
            assertTrue(t.ns.ip("-d", "link", "show", "dev", t.tap.name()).contains("numqueues 1 numdisabled 1"));

            int flows = 32;
            sendFlows(t, flows);
            assertEquals(flows, drain(t, 0, flows), "every flow goes to the one attached queue");
            try (DatagramSocket socket = t.socket()) {
                t.write(
                        1,
                        EthernetFrames.udp(
                                TapInNamespace.GUEST_MAC,
                                t.tapMac,
                                TapInNamespace.GUEST_IP_BYTES,
                                TapInNamespace.HOST_IP_BYTES,
                                41000,
                                socket.getLocalPort(),
                                "from a detached queue".getBytes(US_ASCII)));
                assertEquals(
                        "from a detached queue",
                        new String(TapInNamespace.receive(socket), US_ASCII),
                        "detaching stops the kernel sending to a queue, not the queue writing");
            }

            second.attach();
            assertTrue(t.ns.ip("-d", "link", "show", "dev", t.tap.name()).contains("numqueues 2 numdisabled 0"));
            assertEquals(
                    0,
                    t.tap.endpoint(1).read(ByteBuffer.allocateDirect(2048)),
                    "nothing was queued on the queue while it was detached");

            sendFlows(t, flows);
            int[] perQueue = new int[2];
            long deadline = System.nanoTime() + TapInNamespace.RECEIVE_TIMEOUT.toNanos();
            while (perQueue[0] + perQueue[1] < flows && System.nanoTime() < deadline) {
                for (int q = 0; q < 2; q++) {
                    perQueue[q] += drain(t, q, flows - perQueue[0] - perQueue[1], Duration.ofMillis(50));
                }
            }
            assertEquals(flows, perQueue[0] + perQueue[1]);
            assertTrue(perQueue[1] > 0, "the re-attached queue takes part of " + flows + " flows: " + perQueue[1]);
        }
    }

    /** Sends one datagram from each of {@code n} sockets (distinct source ports, so distinct flow hashes). */
    private static void sendFlows(TapInNamespace t, int n) throws Exception {
        t.ns.call(() -> {
            List<DatagramSocket> sockets = new ArrayList<>();
            try {
                for (int i = 0; i < n; i++) {
                    DatagramSocket s = new DatagramSocket(new java.net.InetSocketAddress(TapInNamespace.HOST_IP, 0));
                    sockets.add(s);
                    TapInNamespace.sendToGuest(s, PORT, ("flow " + i).getBytes(US_ASCII));
                }
            } finally {
                sockets.forEach(DatagramSocket::close);
            }
            return null;
        });
    }

    private static int drain(TapInNamespace t, int queue, int expected) throws Exception {
        return drain(t, queue, expected, TapInNamespace.RECEIVE_TIMEOUT);
    }

    /** Reads frames to {@link #PORT} from {@code queue} until {@code expected} or a wait of {@code idle} finds none. */
    private static int drain(TapInNamespace t, int queue, int expected, Duration idle) throws Exception {
        TapEndpoint endpoint = t.tap.endpoint(queue);
        ByteBuffer buf = ByteBuffer.allocateDirect(2048);
        int n = 0;
        while (n < expected && endpoint.awaitReadable(idle)) {
            buf.clear();
            endpoint.read(buf);
            byte[] frame = new byte[buf.flip().remaining()];
            buf.get(frame);
            if (EthernetFrames.isUdpTo(frame, 0, PORT)) {
                n++;
            }
        }
        return n;
    }
}
