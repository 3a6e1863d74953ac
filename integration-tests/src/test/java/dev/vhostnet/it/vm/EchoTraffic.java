package dev.vhostnet.it.vm;

import java.nio.ByteBuffer;

/**
 * The UDP traffic of the guest network test: datagram {@code seq} is 4 bytes of its number and
 * {@value #SIZE} - 4 bytes that follow from it, so each end can check every byte of what it got.
 */
public final class EchoTraffic {
    /** Bytes of a datagram: with IP and UDP headers, a 1428-byte packet, under the 1500-byte MTU. */
    public static final int SIZE = 1400;

    private EchoTraffic() {}

    /** Datagram {@code seq}. */
    public static byte[] datagram(int seq) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).putInt(seq);
        long x = 0x9e3779b97f4a7c15L * (seq + 1);
        while (b.remaining() >= 8) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b.putLong(x);
        }
        while (b.hasRemaining()) {
            b.put((byte) x);
        }
        return b.array();
    }

    /** The number a datagram carries, or -1 if it is not exactly datagram {@code seq} of its number. */
    public static int check(byte[] data, int length) {
        if (length != SIZE) {
            return -1;
        }
        int seq = ByteBuffer.wrap(data).getInt();
        if (seq < 0 || !java.util.Arrays.equals(data, 0, length, datagram(seq), 0, SIZE)) {
            return -1;
        }
        return seq;
    }
}
