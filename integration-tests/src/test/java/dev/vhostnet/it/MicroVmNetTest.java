package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.microvm.MicroVm;
import dev.vhostnet.microvm.VmExit;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.virtionet.VirtioNetDevice;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The seeds' flow with a real guest driver: the Java microVM boots Debian's kernel with a
 * virtio-net NIC on virtio-mmio, on a tap whose far end is a namespace peer, and the guest's own
 * {@code virtio_net} driver moves the traffic. On {@code KERNEL} the guest's doorbells reach
 * vhost-net through the ioeventfds and vhost's calls come back as irqfd interrupts, all wired by
 * this library; on {@code EMULATED} the same through the Netty loops. The guest ({@code
 * testvm/guest-init}, {@code guest-net.c}) shows the NIC's MAC, pings the peer, sends {@value
 * #BYTES} bytes over UDP that the peer checks and echoes and the guest checks in turn, cycles the
 * link, unbinds and rebinds its driver (a reset and a second initialisation) and sends again.
 * Nested KVM under TCG: runs in the test VM, not yet in CI's in-VM run (tag {@code microvm-net}:
 * nested interrupts were lost and repeated, see microvm/README.md); directly on a host whose KVM
 * boots Linux and which has {@code /dev/vhost-net}.
 */
@Tag("microvm-net")
class MicroVmNetTest {
    private static final Duration BOUND = Duration.ofMinutes(6);
    private static final int BYTES = 1 << 20;
    /** What guest-init sends after the link cycle and after the rebind. */
    private static final int AFTER_EACH = 65536;

    private static final int CHUNK_HEADER = 8;
    private static final String[] STEPS = {
        "nic up", "ping", "udp", "link down and up", "udp after link up", "rebind", "nic up again", "udp after rebind"
    };

    /** The byte at stream offset {@code i}: {@code pattern()} of guest-net.c. */
    static byte pattern(long i) {
        return (byte) (((int) i * (int) 2654435761L) >>> 24);
    }

    @ParameterizedTest
    @EnumSource(
            value = BackendChoice.Policy.class,
            names = {"KERNEL", "EMULATED"})
    void theGuestsVirtioNetDriverMovesTrafficThroughTheLibrarysDevice(BackendChoice.Policy backend) throws Exception {
        NestedGuest.assumeKvmBootsLinux(
                "it runs in the test VM (nested KVM), outside CI while nested interrupts are lost "
                        + "there (microvm/README.md): mvn -pl integration-tests -am verify -Dtest=KernelTestsInVmTest "
                        + "-Dsurefire.failIfNoSpecifiedTests=false -Dvhostnet.testvm.tag=microvm-net");
        Path image = NestedGuest.imageDir();
        Set<Integer> fdsBefore = OpenFds.snapshot();
        NestedGuest.Console console = new NestedGuest.Console("vhostnet-guest: init reached");
        VmExit end;
        Echo echo;
        String counters;
        try (TapInNamespace net =
                        TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "mv");
                DatagramSocket socket = net.socket()) {
            net.addGuestNeighbour();
            echo = new Echo(socket);
            echo.start();
            String guestNet = String.join(
                    ",",
                    TapInNamespace.GUEST_IP + "/24",
                    TapInNamespace.HOST_IP,
                    net.tapMac.toString(),
                    Integer.toString(socket.getLocalPort()),
                    Integer.toString(BYTES));
            AtomicReference<VirtioNetDevice> nic = new AtomicReference<>();
            try (MicroVm vm = MicroVm.builder()
                    .kernel(image.resolve("vmlinuz"))
                    .initrd(image.resolve("guest-initrd.img"))
                    .cmdline(NestedGuest.CMDLINE + " vhostnet.net=" + guestNet)
                    .memoryMib(256)
                    .serialOutput(console)
                    .virtioMmio(memory -> {
                        nic.set(VirtioNetDevice.builder()
                                .memory(memory)
                                .tap(net.tap)
                                .backend(backend)
                                .mac(TapInNamespace.GUEST_MAC)
                                .build());
                        return nic.get();
                    })
                    .build()) {
                assertEquals(
                        backend == BackendChoice.Policy.KERNEL
                                ? BackendChoice.Kind.KERNEL
                                : BackendChoice.Kind.EMULATED,
                        nic.get().kind());
                end = NestedGuest.runUntilDone(vm, console, BOUND).orElse(null);
                counters = nic.get().counters().toString();
                System.out.printf(
                        "MicroVmNetTest %s: init after %s s, guest ended after %.1f s: %s; exits %s; device %s; "
                                + "peer checked %d bytes; vCPU last seen %s%n",
                        backend,
                        console.markerSeconds(),
                        console.seconds(),
                        end,
                        vm.counters(),
                        counters,
                        echo.checked(),
                        NestedGuest.whereTheVcpuWas(vm.vcpuSample()));
                System.out.println("MicroVmNetTest: console:\n" + console);
            } finally {
                echo.finish();
            }
        }
        String out = console.toString();
        assertTrue(out.contains(NestedGuest.DONE), () -> "the guest did not finish within " + BOUND + ":\n" + out);
        assertAll(Stream.concat(
                Stream.of(
                        () -> assertTrue(
                                out.contains("vhostnet-guest: nic eth0 " + TapInNamespace.GUEST_MAC),
                                "virtio_net probed the device and shows the MAC the VMM chose"),
                        () -> assertEquals("", echo.mismatch(), "every byte the guest sent reached the peer as sent"),
                        () -> assertEquals(
                                (long) BYTES + 2 * AFTER_EACH,
                                echo.checked(),
                                "the peer checked every byte the guest sent, once")),
                Stream.of(STEPS).map(step -> (Executable) () -> assertTrue(
                        out.contains("vhostnet-guest: " + step + " ok"), "the guest's step \"" + step + "\""))));
        assertEquals("", OpenFds.leakedSince(fdsBefore), "every fd the microVM and its NIC opened is closed");
    }

    /** The namespace peer: checks each datagram's pattern at its offset and sends it back. */
    private static final class Echo extends Thread {
        private final DatagramSocket socket;
        private volatile boolean stopping;
        private volatile long checked;
        private volatile String mismatch = "";

        Echo(DatagramSocket socket) {
            super("microvm-net-echo");
            this.socket = socket;
            setDaemon(true);
        }

        @Override
        public void run() {
            DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
            while (!stopping) {
                try {
                    p.setLength(2048);
                    socket.receive(p);
                    check(p.getData(), p.getLength());
                    socket.send(p);
                } catch (SocketTimeoutException e) {
                    // The guest is still booting or between steps.
                } catch (Exception e) {
                    if (!stopping) {
                        mismatch = "the echo failed: " + e;
                    }
                    return;
                }
            }
        }

        private void check(byte[] d, int length) {
            if (length < CHUNK_HEADER) {
                mismatch = "a datagram of " + length + " bytes";
                return;
            }
            long offset = 0;
            for (int i = 0; i < CHUNK_HEADER; i++) {
                offset = offset << 8 | (d[i] & 0xff);
            }
            for (int i = CHUNK_HEADER; i < length; i++) {
                if (d[i] != pattern(offset + i - CHUNK_HEADER) && mismatch.isEmpty()) {
                    mismatch = "byte " + (offset + i - CHUNK_HEADER) + " differs";
                }
            }
            checked += length - CHUNK_HEADER;
        }

        long checked() {
            return checked;
        }

        String mismatch() {
            return mismatch;
        }

        void finish() throws InterruptedException {
            stopping = true;
            join(10_000);
        }
    }
}
