package dev.vhostnet.virtionet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.testkit.TapInNamespace;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioNetDevice#switchBackend}: the running datapath moves between vhost-net and the
 * emulated device while the guest's driver transmits, and every frame arrives once and in order;
 * RX works after each move. A move the host cannot serve leaves the device where it was.
 */
@Tag("vhost-net")
class SwitchBackendTest {
    private static final int FRAMES = 2000;
    /**
     * Frames the guest may have sent that the peer has not yet read: far fewer than the peer's
     * socket buffer holds, so a datagram missing is the device's doing, not the socket's overflow.
     */
    private static final int IN_FLIGHT = 64;
    /** After how many received frames the device moves, and where to. */
    private static final Map<Integer, BackendChoice.Kind> MOVES = Map.of(
            500, BackendChoice.Kind.EMULATED,
            1000, BackendChoice.Kind.KERNEL,
            1500, BackendChoice.Kind.EMULATED);

    @Test
    void movesBetweenKernelAndEmulatedUnderTrafficLosingAndRepeatingNothing() throws Exception {
        Rig.assumeBackend(BackendChoice.Policy.KERNEL);
        try (Rig rig = Rig.open(Registers.Kind.MMIO, BackendChoice.Policy.KERNEL, 1);
                DatagramSocket socket = rig.net.socket()) {
            NetGuest guest = rig.probe();
            int port = socket.getLocalPort();
            AtomicReference<Throwable> senderFailure = new AtomicReference<>();
            Semaphore window = new Semaphore(IN_FLIGHT);
            Thread sender = new Thread(
                    () -> {
                        try {
                            for (int i = 0; i < FRAMES; i++) {
                                window.acquire();
                                byte[] payload = Rig.payload(i, Rig.frameSize(i) - Rig.HEADERS);
                                Rig.transmit(guest.driver(0), rig.frameTo(port, 40000, payload));
                            }
                        } catch (Throwable t) {
                            senderFailure.set(t);
                        }
                    },
                    "switch-test-sender");
            sender.start();
            try {
                for (int received = 0; received < FRAMES; received++) {
                    BackendChoice.Kind move = MOVES.get(received);
                    if (move != null) {
                        rig.device.switchBackend(move);
                        assertEquals(move, rig.device.kind());
                        assertEquals(move, rig.device.backend().orElseThrow().kind(), "the running backend");
                    }
                    assertArrayEquals(
                            Rig.payload(received, Rig.frameSize(received) - Rig.HEADERS),
                            TapInNamespace.receive(socket),
                            "datagram " + received + ", once and in order across the moves");
                    window.release();
                }
            } finally {
                window.release(FRAMES);
                sender.join(30_000);
            }
            assertNull(senderFailure.get(), "the guest's driver kept transmitting");
            rig.namespaceToGuest(guest, 200, socket);
            rig.device.switchBackend(BackendChoice.Kind.KERNEL);
            rig.namespaceToGuest(guest, 200, socket);
            rig.guestToNamespace(guest, 0, 200, socket);
            assertEquals(
                    0, rig.device.counters().refusals(), rig.device.counters().toString());
        }
    }

    @Test
    void aMoveTheHostCannotServeLeavesTheDeviceRunningWhereItWas() throws Exception {
        assumeFalse(
                Files.exists(VhostNet.DEVICE),
                "this host has /dev/vhost-net: the move to KERNEL would succeed (the test above covers it)");
        try (Rig rig = Rig.open(Registers.Kind.MMIO, BackendChoice.Policy.EMULATED, 1);
                DatagramSocket socket = rig.net.socket()) {
            NetGuest guest = rig.probe();
            rig.guestToNamespace(guest, 0, 100, socket);
            assertThrows(IOException.class, () -> rig.device.switchBackend(BackendChoice.Kind.KERNEL));
            assertEquals(BackendChoice.Kind.EMULATED, rig.device.kind());
            assertEquals(
                    BackendChoice.Kind.EMULATED,
                    rig.device.backend().orElseThrow().kind());
            assertEquals(1, rig.device.counters().get(VirtioNetCounters.Refusal.BACKEND_START));
            rig.guestToNamespace(guest, 0, 100, socket);
            rig.namespaceToGuest(guest, 100, socket);
        }
    }
}
