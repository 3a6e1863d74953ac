package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.driver.DriverQueue;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A guest reloading its driver: reset (status 0) under traffic, then a second initialisation on new
 * rings. Traffic resumes; between the two, this process has exactly the descriptors it had before
 * the first {@code DRIVER_OK} and no vhost worker thread; a hostile control chain asks for a reset.
 */
@Tag("vhost-net")
class ResetTest {
    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Policy.class,
            names = {"EMULATED", "KERNEL"})
    void resetUnderTrafficThenASecondInitialisationCarriesTrafficAndLeavesNothingBehind(BackendChoice.Policy backend)
            throws Exception {
        Rig.assumeBackend(backend);
        try (Rig rig = Rig.open(Registers.Kind.MMIO, backend, 2);
                DatagramSocket socket = rig.net.socket()) {
            EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
            Set<Integer> before = OpenFds.snapshot();
            NetGuest first = rig.probe();
            assertEquals(0, first.setQueuePairs(2));
            rig.guestToNamespace(first, 1, 200, socket);
            AtomicBoolean stop = new AtomicBoolean();
            Thread traffic = new Thread(() -> {
                byte[] frame = rig.frameTo(socket.getLocalPort(), 40001, Rig.payload(1, 1000));
                while (!stop.get()) {
                    first.driver(0).reclaimTx();
                    try {
                        first.driver(0).transmit(dev.vhostnet.driver.VirtioNetHeader.NONE, frame);
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            traffic.start();
            Thread.sleep(100);
            rig.regs.writeStatus(0);
            stop.set(true);
            traffic.join();
            assertEquals(0, rig.regs.status());
            assertTrue(rig.device.backend().isEmpty(), "the backend stopped");
            assertEquals("", OpenFds.leakedSince(before), "every descriptor the running device had is closed");
            assertEquals(List.of(), vhostWorkers(), "no vhost worker left");
            while (drain(socket)) {
                // what was in flight at the reset
            }

            NetGuest second = NetGuest.probe(rig.regs, rig.memory, -1L, NetGuest.DRIVER_BASE + (24L << 20));
            rig.guestToNamespace(second, 0, 1000, socket);
            rig.namespaceToGuest(second, 1000, socket);
            assertEquals(2, rig.device.counters().activations());
            assertEquals(1, rig.device.counters().resets());
            rig.regs.writeStatus(0);
            assertEquals("", OpenFds.leakedSince(before));
        }
    }

    private static boolean drain(DatagramSocket socket) throws Exception {
        socket.setSoTimeout(200);
        try {
            TapInNamespace.receive(socket);
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } finally {
            socket.setSoTimeout((int) TapInNamespace.RECEIVE_TIMEOUT.toMillis());
        }
    }

    /** vhost workers of this process: kernel threads {@code vhost-<pid>} (before 6.4) or tasks of ours so named. */
    static List<String> vhostWorkers() throws IOException {
        String name = "vhost-" + ProcessHandle.current().pid();
        try (Stream<Path> procs = Stream.concat(Files.list(Path.of("/proc")), Files.list(Path.of("/proc/self/task")))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> {
                        try {
                            return Files.readString(p.resolve("comm")).trim().startsWith(name);
                        } catch (IOException e) {
                            return false;
                        }
                    })
                    .map(Path::toString)
                    .toList();
        }
    }

    @Test
    void aControlChainWithoutAStatusByteBreaksTheControlQueueAndAsksForAReset() throws Exception {
        try (Rig rig = Rig.open(Registers.Kind.PCI, BackendChoice.Policy.EMULATED, 1)) {
            NetGuest guest = rig.probe();
            long ctrl = NetGuest.DRIVER_BASE
                    + dev.vhostnet.driver.DriverMemory.bytesNeeded(1, NetGuest.RING, NetGuest.BUFFER);
            DriverQueue<Integer> hostile = DriverQueue.<Integer>builder(
                            rig.memory,
                            VringLayout.contiguous(ctrl, VirtioNetDevice.CONTROL_QUEUE_SIZE),
                            dev.vhostnet.ctl.FeatureSet.of(guest.features))
                    .build();
            hostile.add(List.of(new Segment(ctrl + (1 << 16), 4)), List.of(), 1);
            hostile.publish();
            rig.regs.notifiers().kick(guest.controlIndex).signal();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((rig.regs.status() & VIRTIO_CONFIG_S_NEEDS_RESET) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(
                    (rig.regs.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0,
                    rig.device.counters().toString());
            assertEquals(1, rig.device.counters().get(Refusal.CTRL_MISSING_HEADERS));
            rig.regs.writeStatus(0);
            assertFalse(rig.device.backend().isPresent());
            rig.probe();
            assertTrue(rig.device.backend().isPresent(), "initialised again after the reset");
        }
    }
}
