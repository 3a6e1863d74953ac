package dev.vhostnet.tap;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A tap with IFF_VNET_HDR and TUN_F_CSUM: partial checksums cross it in both directions. */
class VnetHeaderTest {
    private static final int HDR = TapConfig.VNET_HDR_MRG_RXBUF;
    private static final int UDP_CSUM_START = EthernetFrames.ETH_HLEN + EthernetFrames.IP_HLEN;
    private static final int UDP_CSUM_OFFSET = 6;

    @BeforeEach
    void needsRootAndTun() {
        Privileges.assumeNamespaces();
    }

    private static TapConfig.Builder withChecksumOffload() {
        return TapConfig.builder().vnetHeader(HDR).offloads(Offload.CSUM);
    }

    @Test
    void aDatagramFromTheNamespaceArrivesMarkedNeedsCsumAtTheUdpChecksum() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(withChecksumOffload());
                DatagramSocket socket = t.socket()) {
            assertEquals(Set.of(Offload.CSUM), t.tap.offloads());
            t.addGuestNeighbour();
            byte[] payload = "checksum left to the guest".getBytes(US_ASCII);
            TapInNamespace.sendToGuest(socket, 9998, payload);
            byte[] read = t.readMatching(0, f -> f.length > HDR && EthernetFrames.isUdpTo(f, HDR, 9998));
            assertNotNull(read, "no frame to port 9998 within " + TapInNamespace.RECEIVE_TIMEOUT);
            assertEquals(
                    VirtioNetHdr.VIRTIO_NET_HDR_F_NEEDS_CSUM,
                    VirtioNetHdr.flags(read) & VirtioNetHdr.VIRTIO_NET_HDR_F_NEEDS_CSUM);
            assertEquals(VirtioNetHdr.VIRTIO_NET_HDR_GSO_NONE, VirtioNetHdr.gsoType(read));
            assertEquals(UDP_CSUM_START, VirtioNetHdr.csumStart(read));
            assertEquals(UDP_CSUM_OFFSET, VirtioNetHdr.csumOffset(read));
            byte[] frame = Arrays.copyOfRange(read, HDR, read.length);
            assertArrayEquals(payload, EthernetFrames.udpPayload(frame, 0));
            int partial = EthernetFrames.view(frame, 0).getShort(EthernetFrames.UDP_CHECK) & 0xffff;
            assertEquals(
                    EthernetFrames.fold(EthernetFrames.pseudoHeader(frame)),
                    partial,
                    "the checksum field holds the pseudo-header sum for the guest to finish");
            int length = frame.length - UDP_CSUM_START;
            int finishedByGuest = ~EthernetFrames.fold(EthernetFrames.sum(frame, UDP_CSUM_START, length, 0)) & 0xffff;
            ByteBuffer.wrap(frame).putShort(EthernetFrames.UDP_CHECK, (short) 0);
            int fromScratch = ~EthernetFrames.fold(
                            EthernetFrames.sum(frame, UDP_CSUM_START, length, EthernetFrames.pseudoHeader(frame)))
                    & 0xffff;
            assertEquals(
                    fromScratch,
                    finishedByGuest,
                    "summing from csum_start over the partial value gives the UDP checksum");
        }
    }

    @Test
    void aFrameMarkedNeedsCsumWithOnlyThePseudoHeaderSumIsDeliveredAndAWrongUnmarkedOneIsNot() throws Exception {
        try (TapInNamespace t = TapInNamespace.open(withChecksumOffload());
                DatagramSocket socket = t.socket()) {
            byte[] wrong = "wrong checksum, no flag".getBytes(US_ASCII);
            byte[] frame = EthernetFrames.udp(
                    TapInNamespace.GUEST_MAC,
                    t.tapMac,
                    TapInNamespace.GUEST_IP_BYTES,
                    TapInNamespace.HOST_IP_BYTES,
                    40001,
                    socket.getLocalPort(),
                    wrong);
            ByteBuffer.wrap(frame).putShort(EthernetFrames.UDP_CHECK, (short) 0x1234);
            t.write(0, concat(new byte[HDR], frame));

            byte[] partial = "pseudo-header sum only".getBytes(US_ASCII);
            frame = EthernetFrames.udp(
                    TapInNamespace.GUEST_MAC,
                    t.tapMac,
                    TapInNamespace.GUEST_IP_BYTES,
                    TapInNamespace.HOST_IP_BYTES,
                    40001,
                    socket.getLocalPort(),
                    partial);
            ByteBuffer.wrap(frame).putShort(EthernetFrames.UDP_CHECK, (short)
                    EthernetFrames.fold(EthernetFrames.pseudoHeader(frame)));
            t.write(0, concat(VirtioNetHdr.needsCsum(HDR, UDP_CSUM_START, UDP_CSUM_OFFSET), frame));

            assertArrayEquals(
                    partial,
                    TapInNamespace.receive(socket),
                    "the NEEDS_CSUM frame arrives, and is the first: the wrong one written before it was dropped");
            socket.setSoTimeout(200);
            assertThrows(SocketTimeoutException.class, () -> TapInNamespace.receive(socket));
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
