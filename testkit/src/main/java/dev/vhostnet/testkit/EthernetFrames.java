package dev.vhostnet.testkit;

import dev.vhostnet.tap.MacAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Ethernet frames a test writes to a tap or checks when it reads one (network byte order). */
public final class EthernetFrames {
    public static final int ETH_HLEN = 14;
    public static final int IP_HLEN = 20;
    public static final int UDP_HLEN = 8;
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_ARP = 0x0806;
    public static final int IPPROTO_UDP = 17;
    /** Offset of the UDP checksum from the start of the frame. */
    public static final int UDP_CHECK = ETH_HLEN + IP_HLEN + 6;

    private EthernetFrames() {}

    /** An Ethernet + IPv4 + UDP frame with a correct IP header checksum and UDP checksum. */
    public static byte[] udp(
            MacAddress src, MacAddress dst, byte[] srcIp, byte[] dstIp, int srcPort, int dstPort, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + IP_HLEN + UDP_HLEN + payload.length);
        b.put(dst.bytes()).put(src.bytes()).putShort((short) ETH_P_IP);
        b.put((byte) 0x45)
                .put((byte) 0)
                .putShort((short) (IP_HLEN + UDP_HLEN + payload.length))
                .putShort((short) 1)
                .putShort((short) 0x4000)
                .put((byte) 64)
                .put((byte) IPPROTO_UDP)
                .putShort((short) 0)
                .put(srcIp)
                .put(dstIp);
        b.putShort(ETH_HLEN + 10, (short) ~fold(sum(b.array(), ETH_HLEN, IP_HLEN, 0)));
        b.putShort((short) srcPort)
                .putShort((short) dstPort)
                .putShort((short) (UDP_HLEN + payload.length))
                .putShort((short) 0)
                .put(payload);
        byte[] frame = b.array();
        int check = ~fold(sum(frame, ETH_HLEN + IP_HLEN, UDP_HLEN + payload.length, pseudoHeader(frame))) & 0xffff;
        ByteBuffer.wrap(frame).putShort(UDP_CHECK, (short) (check == 0 ? 0xffff : check));
        return frame;
    }

    /** An ARP request from {@code srcMac}/{@code srcIp} asking who has {@code targetIp}, broadcast. */
    public static byte[] arpRequest(MacAddress srcMac, byte[] srcIp, byte[] targetIp) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + 28);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(srcMac.bytes()).putShort((short) ETH_P_ARP);
        b.putShort((short) 1)
                .putShort((short) ETH_P_IP)
                .put((byte) 6)
                .put((byte) 4)
                .putShort((short) 1)
                .put(srcMac.bytes())
                .put(srcIp)
                .put(new byte[6])
                .put(targetIp);
        return b.array();
    }

    /** The one's complement sum of the IPv4 pseudo header of the UDP datagram in {@code frame}, not folded. */
    public static long pseudoHeader(byte[] frame) {
        ByteBuffer b = ByteBuffer.wrap(frame);
        int udpLength = b.getShort(ETH_HLEN + IP_HLEN + 4) & 0xffff;
        return sum(frame, ETH_HLEN + 12, 8, 0) + IPPROTO_UDP + udpLength;
    }

    /** The 16-bit one's complement sum of {@code length} bytes, added to {@code initial}, not folded. */
    public static long sum(byte[] data, int offset, int length, long initial) {
        long s = initial;
        for (int i = 0; i < length; i += 2) {
            int hi = data[offset + i] & 0xff;
            int lo = i + 1 < length ? data[offset + i + 1] & 0xff : 0;
            s += (hi << 8) | lo;
        }
        return s;
    }

    /** Folds a sum to 16 bits. */
    public static int fold(long s) {
        while ((s >>> 16) != 0) {
            s = (s & 0xffff) + (s >>> 16);
        }
        return (int) s;
    }

    /** A big-endian view of a frame. */
    public static ByteBuffer view(byte[] frame, int offset) {
        return ByteBuffer.wrap(frame, offset, frame.length - offset).slice().order(ByteOrder.BIG_ENDIAN);
    }

    /** Whether the Ethernet frame at {@code offset} is IPv4/UDP to {@code port}. */
    public static boolean isUdpTo(byte[] frame, int offset, int port) {
        ByteBuffer f = view(frame, offset);
        return f.limit() >= ETH_HLEN + IP_HLEN + UDP_HLEN
                && (f.getShort(12) & 0xffff) == ETH_P_IP
                && (f.get(ETH_HLEN + 9) & 0xff) == IPPROTO_UDP
                && (f.getShort(ETH_HLEN + IP_HLEN + 2) & 0xffff) == port;
    }

    /** The UDP payload of the IPv4 frame at {@code offset}. */
    public static byte[] udpPayload(byte[] frame, int offset) {
        ByteBuffer f = view(frame, offset);
        int udpLength = f.getShort(ETH_HLEN + IP_HLEN + 4) & 0xffff;
        byte[] payload = new byte[udpLength - UDP_HLEN];
        f.get(ETH_HLEN + IP_HLEN + UDP_HLEN, payload);
        return payload;
    }
}
