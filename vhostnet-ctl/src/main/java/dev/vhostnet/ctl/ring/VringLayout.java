package dev.vhostnet.ctl.ring;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioUapi;

/**
 * Where a split virtqueue lives in guest memory ({@code <linux/virtio_ring.h>}): the descriptor
 * table (16·n bytes, 16-aligned), the available ring (6 + 2·n, 2-aligned, {@code used_event} last)
 * and the used ring (6 + 8·n, 4-aligned, {@code avail_event} last). Checked in plain Java before
 * any ioctl, as rust-vmm's {@code is_valid} does.
 */
public record VringLayout(int size, long descGpa, long availGpa, long usedGpa) {
    /** The largest split ring the virtio spec allows. */
    public static final int MAX_SIZE = 32768;
    /** The alignment {@link #contiguous} gives the used ring (the legacy layout's page). */
    public static final int USED_ALIGN_CONTIGUOUS = 4096;

    public VringLayout {
        Preconditions.checkArgument(
                size > 0 && size <= MAX_SIZE && Integer.bitCount(size) == 1,
                "ring size must be a power of two from 1 to %s, not %s",
                MAX_SIZE,
                size);
        checkAligned("descriptor table", descGpa, VirtioUapi.VRING_DESC_ALIGN);
        checkAligned("available ring", availGpa, VirtioUapi.VRING_AVAIL_ALIGN);
        checkAligned("used ring", usedGpa, VirtioUapi.VRING_USED_ALIGN);
    }

    private static void checkAligned(String part, long gpa, int alignment) {
        Preconditions.checkArgument(
                gpa >= 0 && gpa % alignment == 0,
                "%s at guest address 0x%s is not %s-byte aligned",
                part,
                Long.toHexString(gpa),
                alignment);
    }

    /** The legacy contiguous layout at {@code base}: table, available ring, used ring on the next page. */
    public static VringLayout contiguous(long base, int size) {
        long avail = base + descBytes(size);
        long used = align(avail + availBytes(size), USED_ALIGN_CONTIGUOUS);
        return new VringLayout(size, base, avail, used);
    }

    /** Bytes {@link #contiguous} occupies for a ring of {@code size}. */
    public static long contiguousBytes(int size) {
        return align(
                align(descBytes(size) + availBytes(size), USED_ALIGN_CONTIGUOUS) + usedBytes(size),
                USED_ALIGN_CONTIGUOUS);
    }

    public static long descBytes(int size) {
        return (long) VirtioUapi.VRING_DESC_SIZE * size;
    }

    /** The available ring with {@code used_event}. */
    public static long availBytes(int size) {
        return VirtioUapi.VRING_AVAIL_RING + 2L * size + 2;
    }

    /** The used ring with {@code avail_event}. */
    public static long usedBytes(int size) {
        return VirtioUapi.VRING_USED_RING + (long) VirtioUapi.VRING_USED_ELEM_SIZE * size + 2;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /**
     * The used ring's {@code idx} as the device last published it in {@code memory}: where a restarted
     * device resumes when it could not be asked ({@code GET_VRING_BASE} failed, the back-end died) —
     * QEMU's {@code virtio_queue_restore_last_avail_idx}.
     */
    public int usedIndex(MemoryTable memory) {
        return LittleEndian.u16(memory, usedGpa + VirtioUapi.VRING_USED_IDX);
    }

    /**
     * Checks that each part lies wholly inside one region of {@code memory}; names the part and
     * the queue otherwise.
     */
    public void checkIn(MemoryTable memory, String queue) {
        checkPart(memory, queue, "descriptor table", descGpa, descBytes(size));
        checkPart(memory, queue, "available ring", availGpa, availBytes(size));
        checkPart(memory, queue, "used ring", usedGpa, usedBytes(size));
    }

    private static void checkPart(MemoryTable memory, String queue, String part, long gpa, long length) {
        if (!memory.contains(gpa, length)) {
            throw new IllegalArgumentException(
                    String.format("%s of %s at [gpa 0x%x, +%d) is not inside guest memory", part, queue, gpa, length));
        }
    }
}
