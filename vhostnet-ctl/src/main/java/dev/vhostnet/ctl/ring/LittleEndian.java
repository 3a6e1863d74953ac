package dev.vhostnet.ctl.ring;

import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteOrder;

/**
 * Split-ring fields and virtio-net header fields in guest memory, which the virtio spec makes
 * little-endian ({@code le16}, {@code le32}, {@code le64} in {@code <linux/virtio_ring.h>} and
 * {@code <linux/virtio_net.h>}) whatever the host's order. {@link MemoryTable}'s accessors use the
 * host's order; these swap where it is big-endian (a constant the JIT folds away elsewhere).
 */
public final class LittleEndian {
    private static final boolean SWAP = ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN;

    private LittleEndian() {}

    /** The {@code le16} at {@code gpa}, 0..65535. */
    public static int u16(MemoryTable memory, long gpa) {
        short v = memory.getShort(gpa);
        return (SWAP ? Short.reverseBytes(v) : v) & 0xffff;
    }

    public static void putU16(MemoryTable memory, long gpa, int value) {
        short v = (short) value;
        memory.putShort(gpa, SWAP ? Short.reverseBytes(v) : v);
    }

    public static void putU32(MemoryTable memory, long gpa, int value) {
        memory.putInt(gpa, SWAP ? Integer.reverseBytes(value) : value);
    }
}
