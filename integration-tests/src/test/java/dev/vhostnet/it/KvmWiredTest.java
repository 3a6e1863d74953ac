package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static dev.vhostnet.it.DataPathTest.payload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.eventfd.RealModeGuest;
import dev.vhostnet.eventfd.VcpuExit;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A virtio-net device wired to a KVM guest as a VMM wires it: the guest's doorbell write is an
 * ioeventfd that is the TX kick fd, and the RX call fd is an irqfd that runs the guest's interrupt
 * handler. Neither path exits to the vCPU's thread — with vhost-net the kernel serves the rings,
 * with the emulated backend its event loop does. (The kernel case runs in the test VM, nested.)
 */
@Tag("vhost-net")
class KvmWiredTest {
    private static final int DOORBELL = 0x10;
    private static final int HANDLER_PORT = 0x11;
    private static final int READY_PORT = 0x12;
    private static final int HANDLER = 0x1100;
    private static final int TX_QUEUE = 1;

    /** Sets up the PIC (vectors 8-15, IRQ 5 unmasked), reports ready, rings the TX doorbell, then {@code sti; hlt}. */
    private static final byte[] MAIN = {
        (byte) 0xfa, // cli
        (byte) 0xb0,
        0x11,
        (byte) 0xe6,
        0x20, // ICW1
        (byte) 0xb0,
        0x08,
        (byte) 0xe6,
        0x21, // ICW2: vector base 8
        (byte) 0xb0,
        0x04,
        (byte) 0xe6,
        0x21, // ICW3
        (byte) 0xb0,
        0x01,
        (byte) 0xe6,
        0x21, // ICW4
        (byte) 0xb0,
        (byte) 0xdf,
        (byte) 0xe6,
        0x21, // OCW1: IRQ 5 only
        (byte) 0x30,
        (byte) 0xc0,
        (byte) 0xe6,
        READY_PORT, // out 0x12: ready
        (byte) 0xba,
        DOORBELL,
        0x00, // mov dx, 0x10
        (byte) 0xb8,
        TX_QUEUE,
        0x00, // mov ax, 1 (the queue index, as virtio-pci notifies)
        (byte) 0xef, // out dx, ax: the TX doorbell
        (byte) 0xfb, // sti
        (byte) 0xf4, // hlt
        (byte) 0xeb,
        (byte) 0xfd, // jmp hlt
    };

    private static final byte[] RX_HANDLER = {
        (byte) 0xb0,
        'R',
        (byte) 0xe6,
        HANDLER_PORT, // out 0x11, 'R'
        (byte) 0xb0,
        0x20,
        (byte) 0xe6,
        0x20, // EOI
        (byte) 0xcf, // iret
    };

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = BackendChoice.Kind.class,
            names = {"KERNEL", "EMULATED"})
    void theGuestsDoorbellSendsAFrameAndAReceivedFrameRunsItsInterruptHandlerWithoutExits(BackendChoice.Kind kind)
            throws Exception {
        NetFixture.assumeBackend(kind);
        RealModeGuest.assumeKvm();
        try (RealModeGuest guest = RealModeGuest.create(true, MAIN, 1 << 20);
                TapInNamespace net = TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF));
                DatagramSocket socket = net.socket();
                EventFd rxKick = EventFd.create();
                EventFd rxCall = EventFd.create();
                EventFd txDoorbell = EventFd.create();
                EventFd txCall = EventFd.create();
                EventFd javaTxKick = EventFd.create()) {
            guest.memory.write(HANDLER, RX_HANDLER, 0, RX_HANDLER.length);
            guest.setVector(8 + 5, HANDLER);
            guest.vm.ioeventfd(txDoorbell, IoAddress.pio(DOORBELL, 2), OptionalLong.of(TX_QUEUE));
            guest.vm.irqfd(rxCall, 5);

            DriverMemory layout = DriverMemory.layout(0x20000, 0xe0000, 1, 16, 2048);
            DriverMemory.QueuePair rings = layout.queuePair(0);
            NetDeviceConfig config = NetDeviceConfig.builder()
                    .memory(guest.memory)
                    .tap(net.tap)
                    .driverFeatures(FEATURES)
                    .queuePair(new QueuePair(
                            new Virtqueue(rings.rx(), rxKick, rxCall), new Virtqueue(rings.tx(), txDoorbell, txCall)))
                    .build();
            try (NetDevice device = NetDevices.start(config, kind, VringBases.zero(1))) {
                // The driver's own TX kick goes to an eventfd nobody listens to: only the guest's doorbell reaches
                // vhost.
                VirtioNetDriver driver = new VirtioNetDriver(
                        guest.memory, rings, device.features().virtio(), rxKick, javaTxKick);
                driver.refillRx();
                driver.enableRxInterrupts();
                byte[] sent = payload(1, 300);
                assertTrue(driver.transmit(
                        VirtioNetHeader.NONE,
                        EthernetFrames.udp(
                                TapInNamespace.GUEST_MAC,
                                net.tapMac,
                                TapInNamespace.GUEST_IP_BYTES,
                                TapInNamespace.HOST_IP_BYTES,
                                40000,
                                socket.getLocalPort(),
                                sent)));

                assertEquals(new VcpuExit(KvmUapi.KVM_EXIT_IO, READY_PORT, 1, true, 0), guest.runFor(30));
                Future<VcpuExit> nextExit = guest.runAsync();
                assertArrayEquals(
                        sent, TapInNamespace.receive(socket), "the frame went out when the guest rang the doorbell");
                assertFalse(nextExit.isDone(), "the doorbell did not exit to this process");

                net.addGuestNeighbour();
                byte[] reply = payload(2, 500);
                TapInNamespace.sendToGuest(socket, 9000, reply);
                assertEquals(
                        new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, 'R'),
                        nextExit.get(30, TimeUnit.SECONDS),
                        "the next exit is the guest's RX interrupt handler reporting in");
                Optional<RxFrame> rx = driver.receive();
                assertTrue(rx.isPresent(), "the frame that raised the interrupt is in the RX ring");
                assertArrayEquals(reply, EthernetFrames.udpPayload(rx.get().frame(), 0));
            }
        }
    }
}
