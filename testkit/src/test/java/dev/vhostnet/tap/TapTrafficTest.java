package dev.vhostnet.tap;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Frames between Java (the guest) and the kernel's stack in a namespace, through a plain tap. */
class TapTrafficTest {
    @BeforeEach
    void needsRootAndTun() {
        Privileges.assumeNamespaces();
    }

    @Test
    void aUdpFrameWrittenByJavaIsDeliveredToASocketInTheNamespace() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(TapConfig.builder());
                DatagramSocket socket = t.socket()) {
            byte[] payload = "hello from the guest \u0000\u00ff".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
            t.write(
                    0,
                    EthernetFrames.udp(
                            TapInNamespace.GUEST_MAC,
                            t.tapMac,
                            TapInNamespace.GUEST_IP_BYTES,
                            TapInNamespace.HOST_IP_BYTES,
                            40000,
                            socket.getLocalPort(),
                            payload));
            assertArrayEquals(payload, TapInNamespace.receive(socket));
        }
    }

    @Test
    void anArpRequestForTheNamespaceAddressIsAnsweredOnTheTap() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(TapConfig.builder())) {
            t.write(
                    0,
                    EthernetFrames.arpRequest(
                            TapInNamespace.GUEST_MAC, TapInNamespace.GUEST_IP_BYTES, TapInNamespace.HOST_IP_BYTES));
            byte[] reply = t.readMatching(
                    0,
                    f -> (EthernetFrames.view(f, 0).getShort(12) & 0xffff) == EthernetFrames.ETH_P_ARP
                            && EthernetFrames.view(f, 0).getShort(EthernetFrames.ETH_HLEN + 6) == 2);
            assertNotNull(reply, "no ARP reply within " + TapInNamespace.RECEIVE_TIMEOUT);
            ByteBuffer arp = EthernetFrames.view(reply, EthernetFrames.ETH_HLEN);
            byte[] senderMac = new byte[6];
            byte[] senderIp = new byte[4];
            byte[] targetMac = new byte[6];
            arp.get(8, senderMac).get(14, senderIp).get(18, targetMac);
            assertEquals(t.tapMac, MacAddress.of(senderMac), "answered with the tap's address");
            assertArrayEquals(TapInNamespace.HOST_IP_BYTES, senderIp);
            assertEquals(TapInNamespace.GUEST_MAC, MacAddress.of(targetMac), "answered to the guest");
        }
    }

    @Test
    void aDatagramTheKernelSendsToTheGuestIsReadFromTheTap() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(TapConfig.builder());
                DatagramSocket socket = t.socket()) {
            t.addGuestNeighbour();
            byte[] payload = "to the guest".getBytes(US_ASCII);
            TapInNamespace.sendToGuest(socket, 9999, payload);
            byte[] frame = t.readMatching(0, f -> EthernetFrames.isUdpTo(f, 0, 9999));
            assertNotNull(frame, "no frame to port 9999 within " + TapInNamespace.RECEIVE_TIMEOUT);
            byte[] dst = new byte[6];
            EthernetFrames.view(frame, 0).get(0, dst);
            assertEquals(TapInNamespace.GUEST_MAC, MacAddress.of(dst));
            assertArrayEquals(payload, EthernetFrames.udpPayload(frame, 0));
        }
    }
}
