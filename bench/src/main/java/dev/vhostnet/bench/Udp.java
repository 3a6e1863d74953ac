package dev.vhostnet.bench;

import dev.vhostnet.tap.MacAddress;
import java.nio.ByteBuffer;

/** IPv4/UDP Ethernet frames of a given size, checksummed, and the header that sends one 64 KiB frame as UFO. */
final class Udp {
    static final int ETH_HLEN = 14;
    static final int IP_HLEN = 20;
    static final int UDP_HLEN = 8;
    static final int HEADERS = ETH_HLEN + IP_HLEN + UDP_HLEN;
    /** Offset of the UDP checksum from the frame start. */
    static final int UDP_CHECK = ETH_HLEN + IP_HLEN + 6;

    private Udp() {}

    static int payload(int frameSize) {
        return frameSize - HEADERS;
    }

    /**
     * A frame of {@code size} bytes. Above 1514 bytes (GSO) the UDP checksum holds the folded
     * pseudo-header sum, for {@code VIRTIO_NET_HDR_F_NEEDS_CSUM}; otherwise it is complete.
     */
    static byte[] frame(MacAddress src, MacAddress dst, byte[] srcIp, byte[] dstIp, int srcPort, int dstPort, int size) {
        int payload = payload(size);
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(dst.bytes()).put(src.bytes()).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (IP_HLEN + UDP_HLEN + payload))
                .putShort((short) 1).putShort((short) 0x4000).put((byte) 64).put((byte) 17)
                .putShort((short) 0).put(srcIp).put(dstIp);
        byte[] frame = b.array();
        b.putShort(ETH_HLEN + 10, (short) ~fold(sum(frame, ETH_HLEN, IP_HLEN, 0)));
        b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (UDP_HLEN + payload)).putShort((short) 0);
        for (int i = 0; i < payload; i++) {
            b.put((byte) (i * 31 + 7));
        }
        long pseudo = sum(frame, ETH_HLEN + 12, 8, 0) + 17 + UDP_HLEN + payload;
        if (size > 1514) {
            b.putShort(UDP_CHECK, (short) fold(pseudo));
        } else {
            int check = ~fold(sum(frame, ETH_HLEN + IP_HLEN, UDP_HLEN + payload, pseudo)) & 0xffff;
            b.putShort(UDP_CHECK, (short) (check == 0 ? 0xffff : check));
        }
        return frame;
    }

    static long sum(byte[] data, int offset, int length, long initial) {
        long s = initial;
        for (int i = 0; i < length; i += 2) {
            int hi = data[offset + i] & 0xff;
            int lo = i + 1 < length ? data[offset + i + 1] & 0xff : 0;
            s += (hi << 8) | lo;
        }
        return s;
    }

    static int fold(long s) {
        while ((s >>> 16) != 0) {
            s = (s & 0xffff) + (s >>> 16);
        }
        return (int) s;
    }
}
