package dev.vhostnet.virtionet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.driver.RxFrame;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.Optional;
import java.util.Random;

/**
 * What a VMM wires for one guest NIC, with the guest played by {@link NetGuest}: guest RAM, a tap
 * with a vnet header in a network namespace of its own ({@link TapInNamespace}), a
 * {@link VirtioNetDevice} on it, and a transport over the device.
 */
final class Rig implements AutoCloseable {
    static final int HEADERS = EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN + EthernetFrames.UDP_HLEN;

    final MemoryTable memory;
    final TapInNamespace net;
    final VirtioNetDevice device;
    final Registers regs;

    private Rig(MemoryTable memory, TapInNamespace net, VirtioNetDevice device, Registers regs) {
        this.memory = memory;
        this.net = net;
        this.device = device;
        this.regs = regs;
    }

    /** Skips a kernel-backend case where this host has no vhost-net (the test VM runs it: KernelTestsInVmTest). */
    static void assumeBackend(BackendChoice.Policy policy) {
        if (policy == BackendChoice.Policy.KERNEL) {
            assumeTrue(
                    Files.exists(VhostNet.DEVICE),
                    "no /dev/vhost-net on this host (kernel without CONFIG_VHOST_NET, "
                            + "or module not loaded: modprobe vhost_net); these tests run in the test VM: KernelTestsInVmTest");
        }
    }

    static Rig open(Registers.Kind transport, BackendChoice.Policy backend, int pairs) throws Exception {
        MemoryTable memory = MemoryTable.builder().region(0, NetGuest.RAM).build();
        TapInNamespace net = null;
        VirtioNetDevice device = null;
        try {
            net = TapInNamespace.open(TapConfig.builder().queues(pairs).vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vn");
            device = VirtioNetDevice.builder()
                    .memory(memory)
                    .tap(net.tap)
                    .backend(backend)
                    .mac(TapInNamespace.GUEST_MAC)
                    .mtu(1500)
                    .maxQueuePairs(pairs)
                    .build();
            return new Rig(memory, net, device, Registers.open(transport, device, memory));
        } catch (Exception | AssertionError e) {
            if (device != null) {
                device.close();
            }
            if (net != null) {
                net.close();
            }
            memory.close();
            throw e;
        }
    }

    /** The guest probes the device and takes every feature offered. */
    NetGuest probe() throws Exception {
        return NetGuest.probe(regs, memory, -1L, NetGuest.DRIVER_BASE);
    }

    /** A payload of {@code length} bytes that starts with its sequence number, the rest random from it. */
    static byte[] payload(int seq, int length) {
        byte[] p = new byte[length];
        new Random(seq).nextBytes(p);
        ByteBuffer.wrap(p).putInt(seq);
        return p;
    }

    /** Frame {@code i} of a run: 60..1514 bytes on the wire. */
    static int frameSize(int i) {
        return 60 + (int) ((i * 7919L) % (1514 - 60 + 1));
    }

    byte[] frameTo(int port, int srcPort, byte[] payload) {
        return EthernetFrames.udp(
                TapInNamespace.GUEST_MAC,
                net.tapMac,
                TapInNamespace.GUEST_IP_BYTES,
                TapInNamespace.HOST_IP_BYTES,
                srcPort,
                port,
                payload);
    }

    static void transmit(VirtioNetDriver driver, byte[] frame) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!driver.transmit(VirtioNetHeader.NONE, frame)) {
            driver.reclaimTx();
            assertTrue(System.nanoTime() < deadline, "the TX ring stayed full for 5 s: the device is not consuming it");
            Thread.sleep(1);
        }
    }

    /** Sends {@code count} frames guest → namespace on {@code pair}, checking each datagram byte-exact and in order. */
    void guestToNamespace(NetGuest guest, int pair, int count, DatagramSocket socket) throws Exception {
        int port = socket.getLocalPort();
        int sent = 0;
        int received = 0;
        while (received < count) {
            for (int batch = 0; batch < 64 && sent < count; batch++, sent++) {
                transmit(guest.driver(pair), frameTo(port, 40000 + pair, payload(sent, frameSize(sent) - HEADERS)));
            }
            for (; received < sent; received++) {
                assertArrayEquals(
                        payload(received, frameSize(received) - HEADERS),
                        TapInNamespace.receive(socket),
                        "datagram " + received + ", in order");
            }
        }
    }

    /** Sends {@code count} datagrams namespace → guest, each received on some enabled pair byte-exact and in order. */
    void namespaceToGuest(NetGuest guest, int count, DatagramSocket socket) throws Exception {
        net.addGuestNeighbour();
        int sent = 0;
        int received = 0;
        while (received < count) {
            for (int batch = 0; batch < 32 && sent < count; batch++, sent++) {
                TapInNamespace.sendToGuest(socket, 7000, payload(sent, frameSize(sent) - HEADERS));
            }
            while (received < sent) {
                RxFrame rx = receiveUdp(guest, 0, 7000);
                assertArrayEquals(
                        payload(received, frameSize(received) - HEADERS),
                        EthernetFrames.udpPayload(rx.frame(), 0),
                        "datagram " + received + ", in order");
                received++;
            }
        }
    }

    static RxFrame receiveUdp(NetGuest guest, int pair, int port) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<RxFrame> rx = guest.receive(pair, 200);
            if (rx.isPresent() && EthernetFrames.isUdpTo(rx.get().frame(), 0, port)) {
                return rx.get();
            }
        }
        throw new AssertionError("no UDP frame to port " + port + " reached the RX queue of pair " + pair);
    }

    @Override
    public void close() throws Exception {
        try {
            regs.close();
            device.close();
        } finally {
            try {
                net.close();
            } finally {
                memory.close();
            }
        }
    }
}
