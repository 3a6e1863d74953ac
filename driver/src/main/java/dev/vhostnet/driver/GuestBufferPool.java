package dev.vhostnet.driver;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Fixed-size buffers carved from one stretch of guest memory: {@code count} buffers of
 * {@code bufferSize} bytes from {@code gpa} on, handed out by index. Not thread-safe.
 */
public final class GuestBufferPool {
    private final long gpa;
    private final int bufferSize;
    private final ByteBuffer[] buffers;
    private final boolean[] allocated;
    private final int[] free;
    private int available;

    /** The area {@code [gpa, gpa + count * bufferSize)} must lie inside one region of {@code memory}. */
    public GuestBufferPool(MemoryTable memory, long gpa, int count, int bufferSize) {
        Preconditions.checkArgument(count > 0, "a buffer pool needs at least one buffer, not %s", count);
        Preconditions.checkArgument(bufferSize > 0, "buffer size must be positive, not %s", bufferSize);
        long bytes = (long) count * bufferSize;
        Preconditions.checkArgument(
                bytes <= Integer.MAX_VALUE,
                "%s buffers of %s bytes exceed the 2 GiB a pool can hold",
                count,
                bufferSize);
        ByteBuffer area = GuestView.of(memory, gpa, bytes);
        this.gpa = gpa;
        this.bufferSize = bufferSize;
        this.buffers = new ByteBuffer[count];
        this.allocated = new boolean[count];
        this.free = new int[count];
        for (int i = 0; i < count; i++) {
            buffers[i] = area.slice(i * bufferSize, bufferSize).order(ByteOrder.LITTLE_ENDIAN);
            free[i] = count - 1 - i;
        }
        this.available = count;
    }

    /** A free buffer's index, now allocated; -1 when none is free. */
    public int allocate() {
        if (available == 0) {
            return -1;
        }
        int index = free[--available];
        allocated[index] = true;
        return index;
    }

    /** Returns an allocated buffer to the pool. */
    public void free(int index) {
        Preconditions.checkElementIndex(index, allocated.length, "buffer");
        Preconditions.checkState(allocated[index], "buffer %s is not allocated", index);
        allocated[index] = false;
        free[available++] = index;
    }

    /** Guest-physical address of buffer {@code index}. */
    public long gpa(int index) {
        Preconditions.checkElementIndex(index, buffers.length, "buffer");
        return gpa + (long) index * bufferSize;
    }

    /**
     * A little-endian view of buffer {@code index} ({@code bufferSize} bytes), shared by every
     * caller: use its absolute get/put methods only.
     */
    public ByteBuffer buffer(int index) {
        return buffers[index];
    }

    public int bufferSize() {
        return bufferSize;
    }

    public int count() {
        return buffers.length;
    }

    /** How many buffers are free. */
    public int available() {
        return available;
    }
}
