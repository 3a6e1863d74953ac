package dev.vhostnet.virtio;

/** Little-endian fields in register and configuration byte arrays. */
final class Le {
    private Le() {}

    static long get(byte[] b, int offset, int length) {
        long v = 0;
        for (int i = length - 1; i >= 0; i--) {
            v = (v << 8) | (b[offset + i] & 0xff);
        }
        return v;
    }

    static void put(byte[] b, int offset, int length, long value) {
        for (int i = 0; i < length; i++) {
            b[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** The access {@code data} as an unsigned value. */
    static long value(byte[] data) {
        return get(data, 0, data.length);
    }

    /** Fills {@code data} with {@code value}, little-endian. */
    static void fill(byte[] data, long value) {
        put(data, 0, data.length, value);
    }

    static boolean isAccessSize(int length) {
        return length == 1 || length == 2 || length == 4 || length == 8;
    }
}
