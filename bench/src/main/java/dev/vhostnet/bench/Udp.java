package dev.vhostnet.bench;

import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.testkit.EthernetFrames;
import java.nio.ByteBuffer;

/** The bench's UDP frames, of an exact Ethernet frame size, built by {@link EthernetFrames}. */
final class Udp {
    static final int ETH_HLEN = EthernetFrames.ETH_HLEN;
    static final int IP_HLEN = EthernetFrames.IP_HLEN;
    static final int HEADERS = ETH_HLEN + IP_HLEN + EthernetFrames.UDP_HLEN;

    private Udp() {}

    static int payload(int frameSize) {
        return frameSize - HEADERS;
    }

    /**
     * A frame of {@code size} bytes. Above 1514 bytes (GSO) the UDP checksum holds the folded
     * pseudo-header sum, for {@code VIRTIO_NET_HDR_F_NEEDS_CSUM}; otherwise it is complete.
     */
    static byte[] frame(
            MacAddress src, MacAddress dst, byte[] srcIp, byte[] dstIp, int srcPort, int dstPort, int size) {
        byte[] payload = new byte[payload(size)];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) (i * 31 + 7);
        }
        byte[] frame = EthernetFrames.udp(src, dst, srcIp, dstIp, srcPort, dstPort, payload);
        if (size > 1514) {
            ByteBuffer.wrap(frame).putShort(EthernetFrames.UDP_CHECK, (short)
                    EthernetFrames.fold(EthernetFrames.pseudoHeader(frame)));
        }
        return frame;
    }
}
