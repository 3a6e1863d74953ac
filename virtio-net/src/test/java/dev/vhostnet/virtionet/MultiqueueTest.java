package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_ERR;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_OK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The control queue's {@code VQ_PAIRS_SET} on a running device of 4 pairs: the driver enables 1,
 * then 4, then 2, and traffic flows on exactly the enabled pairs — frames from the namespace (64
 * flows, spread by the tap over its attached queues) arrive only on enabled pairs' RX queues, and
 * every enabled pair carries some; frames sent on each enabled pair's TX queue all arrive.
 */
@Tag("vhost-net")
class MultiqueueTest {
    static final int PAIRS = 4;
    static final int FLOWS = 64;

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Policy.class,
            names = {"EMULATED", "KERNEL"})
    void trafficFlowsOnExactlyThePairsTheDriverEnabled(BackendChoice.Policy backend) throws Exception {
        Rig.assumeBackend(backend);
        try (Rig rig = Rig.open(Registers.Kind.PCI, backend, PAIRS);
                DatagramSocket socket = rig.net.socket()) {
            NetGuest guest = rig.probe();
            assertEquals(PAIRS, guest.pairs, "the driver read max_virtqueue_pairs and set up every queue");
            NetDevice running = rig.device.backend().orElseThrow();
            assertEquals(
                    1, running.enabledPairs(), "one pair until the driver says otherwise (QEMU's curr_queue_pairs)");
            rig.net.addGuestNeighbour();
            int seq = 0;
            for (int n : new int[] {1, 4, 2}) {
                assertEquals(
                        VIRTIO_NET_OK,
                        guest.setQueuePairs(n),
                        rig.device.counters().toString());
                assertEquals(n, running.enabledPairs());
                long[] perPair = receiveFlows(rig, guest, seq);
                seq += FLOWS;
                for (int p = 0; p < PAIRS; p++) {
                    if (p < n) {
                        assertTrue(
                                n == 1 ? perPair[p] == FLOWS : perPair[p] > 0,
                                n + " pairs enabled: pair " + p + " received " + Arrays.toString(perPair));
                    } else {
                        assertEquals(
                                0,
                                perPair[p],
                                n + " pairs enabled: disabled pair " + p + " received " + Arrays.toString(perPair));
                    }
                }
                for (int p = 0; p < n; p++) {
                    byte[] sent = Rig.payload(seq++, 300);
                    Rig.transmit(guest.driver(p), rig.frameTo(socket.getLocalPort(), 41000 + p, sent));
                    assertEquals(
                            ByteBuffer.wrap(sent).getInt(),
                            ByteBuffer.wrap(TapInNamespace.receive(socket)).getInt(),
                            "sent on pair " + p);
                }
            }
            assertEquals(VIRTIO_NET_ERR, guest.setQueuePairs(0));
            assertEquals(VIRTIO_NET_ERR, guest.setQueuePairs(PAIRS + 1));
            assertEquals(2, rig.device.counters().get(Refusal.CTRL_PAIRS));
            assertEquals(2, running.enabledPairs(), "a refused command changes nothing");
        }
    }

    /** Sends one datagram on each of {@value #FLOWS} flows to the guest; returns how many each pair received. */
    private static long[] receiveFlows(Rig rig, NetGuest guest, int seq) throws Exception {
        long[] perPair = new long[PAIRS];
        DatagramSocket[] flows = new DatagramSocket[FLOWS];
        try {
            for (int f = 0; f < FLOWS; f++) {
                flows[f] = rig.net.socket();
                TapInNamespace.sendToGuest(flows[f], 7100, Rig.payload(seq + f, 64));
            }
            int got = 0;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (got < FLOWS && System.nanoTime() < deadline) {
                boolean any = false;
                for (int p = 0; p < PAIRS; p++) {
                    Optional<RxFrame> rx = guest.driver(p).receive();
                    guest.driver(p).refillRx();
                    if (rx.isPresent() && EthernetFrames.isUdpTo(rx.get().frame(), 0, 7100)) {
                        perPair[p]++;
                        got++;
                        any = true;
                    }
                }
                if (!any) {
                    Thread.sleep(1);
                }
            }
            assertEquals(FLOWS, got, "every datagram arrived on some pair: " + Arrays.toString(perPair));
            return perPair;
        } finally {
            for (DatagramSocket s : flows) {
                if (s != null) {
                    s.close();
                }
            }
        }
    }
}
