package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioConfigUapi.VIRTIO_CONFIG_S_NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.testkit.Testpmd;
import dev.vhostnet.vhostuser.VhostUserDialer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The guest NIC on a vhost-user back-end nobody here wrote: {@code dpdk-testpmd}'s {@code net_vhost}
 * in {@code macswap} mode. A driver speaking only registers brings the device up and every frame it
 * sends comes back MAC-swapped, byte for byte; testpmd hanging up sets the link down with a
 * configuration interrupt, and a new testpmd on the socket sets it up again with the rings resumed,
 * without a device reset (QEMU's {@code net_vhost_user_event}).
 */
class VhostUserGuestNicTest {
    private static final int FRAMES = 10_000;

    @TempDir
    Path dir;

    @BeforeEach
    void needsTestpmd() {
        String cause = Testpmd.unavailabilityCause();
        assumeTrue(cause == null, cause);
    }

    /** Guest RAM and a device on the back-end at {@code socket}, behind a transport of {@code kind}. */
    private static final class Nic implements AutoCloseable {
        final MemoryTable memory = MemoryTable.builder().region(0, NetGuest.RAM).build();
        final VirtioNetDevice device;
        final Registers regs;

        Nic(Registers.Kind kind, Path socket) throws Exception {
            try {
                device = VirtioNetDevice.builder()
                        .memory(memory)
                        .vhostUser(VhostUserDialer.of(socket), Duration.ofSeconds(30))
                        .mac(TapInNamespace.GUEST_MAC)
                        .build();
                regs = Registers.open(kind, device, memory);
            } catch (Exception | AssertionError e) {
                memory.close();
                throw e;
            }
        }

        int linkStatus() {
            return (int) regs.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_STATUS, 2)
                    & VirtioNetUapi.VIRTIO_NET_S_LINK_UP;
        }

        @Override
        public void close() {
            regs.close();
            device.close();
            memory.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Registers.Kind.class)
    void tenThousandFramesThroughTestpmdComeBackMacSwappedByteExact(Registers.Kind kind) throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        Testpmd testpmd = Testpmd.start(dir, 1, false);
        try (testpmd;
                Nic nic = new Nic(kind, testpmd.socket)) {
            NetGuest guest = NetGuest.probe(nic.regs, nic.memory, -1L, NetGuest.DRIVER_BASE);
            assertEquals(
                    BackendChoice.Kind.VHOST_USER,
                    nic.device.backend().orElseThrow().kind());
            exchange(guest, 0, FRAMES);
            System.out.printf(
                    "%s on testpmd: features 0x%x; %s%n",
                    kind, guest.features, guest.driver(0).counters());
            assertEquals(0, nic.regs.counters().refusals(), nic.regs.counters().lastRefusal());
            assertEquals(
                    0, nic.device.counters().refusals(), nic.device.counters().toString());
            nic.regs.writeStatus(0);
        }
        assertEquals(FRAMES, testpmd.rxPackets(), "testpmd RX-packets");
        assertEquals(FRAMES, testpmd.txPackets(), "testpmd TX-packets");
        assertEquals(0, testpmd.dropped(), "testpmd dropped");
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void testpmdHangingUpSetsTheLinkDownAndANewOneSetsItUpWithTheRingsResumedWithoutAReset() throws Exception {
        Testpmd first = Testpmd.start(dir, 1, false);
        try (Nic nic = new Nic(Registers.Kind.PCI, first.socket)) {
            NetGuest guest = NetGuest.probe(nic.regs, nic.memory, -1L, NetGuest.DRIVER_BASE);
            assertEquals(VirtioNetUapi.VIRTIO_NET_S_LINK_UP, nic.linkStatus());
            exchange(guest, 0, 1000);
            int generation = nic.regs.configGeneration();

            first.kill();
            awaitLink(nic, 0, "testpmd is gone: the link goes down");
            assertTrue(nic.regs.configGeneration() > generation, "with a configuration interrupt");
            int down = nic.regs.configGeneration();

            Testpmd second = Testpmd.start(dir, 1, false);
            try (second) {
                awaitLink(nic, VirtioNetUapi.VIRTIO_NET_S_LINK_UP, "a new testpmd: the link comes up");
                assertTrue(nic.regs.configGeneration() > down, "with a configuration interrupt");
                assertEquals(0, nic.regs.status() & VIRTIO_CONFIG_S_NEEDS_RESET, "no reset asked for");
                exchange(guest, 1000, 1000);
                System.out.printf(
                        "testpmd SIGKILLed after 1000 frames: link down (config generation %d -> %d); a new one: "
                                + "link up (-> %d), 1000 more frames on the same rings; %s%n",
                        generation,
                        down,
                        nic.regs.configGeneration(),
                        guest.driver(0).counters());
            }
            assertEquals(1000, second.rxPackets(), "the new testpmd forwarded the frames after the reconnection");
            assertEquals(1, nic.device.counters().activations(), "one DRIVER_OK: no reset");
        }
    }

    private static void awaitLink(Nic nic, int status, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (nic.linkStatus() != status && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(status, nic.linkStatus(), what);
    }

    /** Sends frames {@code from}.. of a numbered run, at most 64 in flight, each to come back MAC-swapped in order. */
    private static void exchange(NetGuest guest, int from, int count) throws Exception {
        VirtioNetDriver driver = guest.driver(0);
        ArrayDeque<byte[]> inFlight = new ArrayDeque<>();
        IntPredicate send = n -> {
            byte[] frame = EthernetFrames.numbered(n);
            try {
                return driver.transmit(VirtioNetHeader.NONE, frame) && inFlight.add(frame);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        int next = from;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (next < from + count || !inFlight.isEmpty()) {
            assertTrue(System.nanoTime() < deadline, inFlight.size() + " frames did not come back in 60 s");
            driver.reclaimTx();
            while (next < from + count && inFlight.size() < 64 && send.test(next)) {
                next++;
            }
            Optional<RxFrame> rx = guest.receive(0, 100);
            if (rx.isPresent()) {
                byte[] sent = inFlight.remove();
                assertArrayEquals(
                        EthernetFrames.macSwapped(sent),
                        rx.get().frame(),
                        "frame " + EthernetFrames.number(sent) + " came back MAC-swapped, byte for byte, in order");
            }
        }
    }
}
