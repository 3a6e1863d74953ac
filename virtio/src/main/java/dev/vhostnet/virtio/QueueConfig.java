package dev.vhostnet.virtio;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.GuestAddressException;
import dev.vhostnet.memtable.MemoryTable;

/**
 * A virtqueue as the driver set it up: size, the guest-physical addresses of the descriptor table,
 * driver (available) ring and device (used) ring, and the MSI-X vector ({@link #NO_VECTOR} on
 * transports without one). An instance has passed every check a split ring needs before a device
 * may see it — rust-vmm's {@code Queue::is_valid}: the size a power of two no larger than the
 * device's maximum, each part aligned (16, 2, 4) and not wrapping the address space — and, where a
 * {@link MemoryTable} is given, each part inside guest RAM.
 */
public record QueueConfig(int index, int size, long descTable, long availRing, long usedRing, int msixVector) {
    /** {@code VIRTIO_MSI_NO_VECTOR}: no interrupt message for this queue. */
    public static final int NO_VECTOR = 0xffff;
    /** The largest split ring the spec allows. */
    public static final int MAX_SIZE = 32768;

    public QueueConfig {
        Preconditions.checkArgument(index >= 0, "queue index %s is negative", index);
        Preconditions.checkArgument(
                size > 0 && size <= MAX_SIZE && Integer.bitCount(size) == 1,
                "queue %s: size %s is not a power of two in 1..32768",
                index,
                size);
        Preconditions.checkArgument(
                msixVector >= 0 && msixVector <= NO_VECTOR, "queue %s: vector %s is not 16 bits", index, msixVector);
        checkPart(index, "descriptor table", descTable, 16, descTableBytes(size));
        checkPart(index, "available ring", availRing, 2, availRingBytes(size));
        checkPart(index, "used ring", usedRing, 4, usedRingBytes(size));
    }

    /** Validates what the driver wrote for a device whose queue allows at most {@code maxSize}, inside {@code memory} when not null. */
    public static QueueConfig validated(
            int index,
            int size,
            int maxSize,
            long descTable,
            long availRing,
            long usedRing,
            int msixVector,
            MemoryTable memory) {
        Preconditions.checkArgument(
                size <= maxSize, "queue %s: size %s is above the device's maximum %s", index, size, maxSize);
        QueueConfig q = new QueueConfig(index, size, descTable, availRing, usedRing, msixVector);
        if (memory != null) {
            q.checkInside(memory);
        }
        return q;
    }

    /** Throws {@link IllegalArgumentException} naming the queue and the part of the ring that lies outside {@code memory}. */
    public void checkInside(MemoryTable memory) {
        checkInside(memory, "descriptor table", descTable, descTableBytes(size));
        checkInside(memory, "available ring", availRing, availRingBytes(size));
        checkInside(memory, "used ring", usedRing, usedRingBytes(size));
    }

    private void checkInside(MemoryTable memory, String part, long gpa, long bytes) {
        try {
            memory.translate(gpa, bytes);
        } catch (GuestAddressException e) {
            throw new IllegalArgumentException(
                    "queue " + index + ": " + part + " outside guest memory: " + e.getMessage(), e);
        }
    }

    /** {@code 16·n}: the descriptor table. */
    public static long descTableBytes(int size) {
        return 16L * size;
    }

    /** {@code 6 + 2·n}: flags, idx, ring and {@code used_event}. */
    public static long availRingBytes(int size) {
        return 6 + 2L * size;
    }

    /** {@code 6 + 8·n}: flags, idx, ring and {@code avail_event}. */
    public static long usedRingBytes(int size) {
        return 6 + 8L * size;
    }

    private static void checkPart(int index, String part, long gpa, int alignment, long bytes) {
        Preconditions.checkArgument(
                gpa % alignment == 0,
                "queue %s: %s at 0x%s is not %s-byte aligned",
                index,
                part,
                Long.toHexString(gpa),
                alignment);
        Preconditions.checkArgument(
                Long.compareUnsigned(gpa, -bytes) <= 0,
                "queue %s: %s at 0x%s wraps the address space",
                index,
                part,
                Long.toHexString(gpa));
    }
}
