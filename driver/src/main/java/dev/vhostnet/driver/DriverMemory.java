package dev.vhostnet.driver;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;

/**
 * Where a driver's rings and buffers live inside {@code [base, base + length)} of guest memory,
 * for each queue pair, each part on its own page: the RX ring, the TX ring, the TX indirect tables,
 * then {@code ringSize} RX buffers and {@code ringSize} TX buffers of {@code bufferSize} bytes.
 * RX needs no indirect tables: every RX buffer is one descriptor. Immutable.
 */
public final class DriverMemory {
    /** Every part starts on a page of this size. */
    public static final int PAGE = 4096;

    /** One queue pair's share: RX is queue {@code 2 * index}, TX queue {@code 2 * index + 1}. */
    public record QueuePair(
            int index,
            VringLayout rx,
            VringLayout tx,
            long txIndirectGpa,
            int txIndirectEntries,
            long rxBuffersGpa,
            long txBuffersGpa,
            int bufferCount,
            int bufferSize) {}

    private final long base;
    private final long bytes;
    private final ImmutableList<QueuePair> queuePairs;

    private DriverMemory(long base, long bytes, ImmutableList<QueuePair> queuePairs) {
        this.base = base;
        this.bytes = bytes;
        this.queuePairs = queuePairs;
    }

    /** Bytes {@link #layout} needs for {@code queuePairs} pairs of rings of {@code ringSize} with buffers of {@code bufferSize}. */
    public static long bytesNeeded(int queuePairs, int ringSize, int bufferSize) {
        check(queuePairs, ringSize, bufferSize);
        return queuePairs * pairBytes(ringSize, bufferSize);
    }

    /**
     * Lays the parts out from {@code base}; fails, saying how much is needed, when they do not fit
     * in {@code length} bytes.
     */
    public static DriverMemory layout(long base, long length, int queuePairs, int ringSize, int bufferSize) {
        Preconditions.checkArgument(
                base >= 0 && base % PAGE == 0, "driver memory at 0x%s is not page aligned", Long.toHexString(base));
        long needed = bytesNeeded(queuePairs, ringSize, bufferSize);
        Preconditions.checkArgument(
                needed <= length,
                "%s queue pairs of %s-entry rings with %s-byte buffers need %s bytes of driver memory, not %s",
                queuePairs,
                ringSize,
                bufferSize,
                needed,
                length);
        ImmutableList.Builder<QueuePair> pairs = ImmutableList.builder();
        int entries = txIndirectEntries(bufferSize);
        long at = base;
        for (int i = 0; i < queuePairs; i++) {
            long rx = at;
            long tx = rx + VringLayout.contiguousBytes(ringSize);
            long indirect = tx + VringLayout.contiguousBytes(ringSize);
            long rxBuffers = indirect + pageAlign(DriverQueue.indirectBytes(ringSize, entries));
            long txBuffers = rxBuffers + pageAlign((long) ringSize * bufferSize);
            pairs.add(new QueuePair(
                    i,
                    VringLayout.contiguous(rx, ringSize),
                    VringLayout.contiguous(tx, ringSize),
                    indirect,
                    entries,
                    rxBuffers,
                    txBuffers,
                    ringSize,
                    bufferSize));
            at += pairBytes(ringSize, bufferSize);
        }
        return new DriverMemory(base, needed, pairs.build());
    }

    /**
     * Entries of each TX indirect table: enough for the largest frame ({@link VirtioNetDriver#MAX_FRAME}
     * and a 12-byte header) split over buffers of {@code bufferSize}, and at least 2.
     */
    public static int txIndirectEntries(int bufferSize) {
        long largest = VirtioNetDriver.MAX_FRAME + 12L;
        return (int) Math.max(2, (largest + bufferSize - 1) / bufferSize);
    }

    private static long pairBytes(int ringSize, int bufferSize) {
        return 2 * VringLayout.contiguousBytes(ringSize)
                + pageAlign(DriverQueue.indirectBytes(ringSize, txIndirectEntries(bufferSize)))
                + 2 * pageAlign((long) ringSize * bufferSize);
    }

    private static void check(int queuePairs, int ringSize, int bufferSize) {
        Preconditions.checkArgument(queuePairs > 0, "at least one queue pair, not %s", queuePairs);
        Preconditions.checkArgument(
                ringSize > 0 && ringSize <= VringLayout.MAX_SIZE && Integer.bitCount(ringSize) == 1,
                "ring size must be a power of two from 1 to %s, not %s",
                VringLayout.MAX_SIZE,
                ringSize);
        Preconditions.checkArgument(
                bufferSize > 0 && (long) ringSize * bufferSize <= Integer.MAX_VALUE,
                "%s buffers of %s bytes do not make a pool (at most 2 GiB)",
                ringSize,
                bufferSize);
    }

    private static long pageAlign(long value) {
        return (value + PAGE - 1) & -PAGE;
    }

    /** Checks the whole layout lies inside one region of {@code memory}. */
    public void checkIn(MemoryTable memory) {
        Preconditions.checkArgument(
                memory.contains(base, bytes),
                "driver memory [gpa 0x%s, +%s) is not inside one region of guest memory",
                Long.toHexString(base),
                bytes);
    }

    public QueuePair queuePair(int index) {
        return queuePairs.get(index);
    }

    public ImmutableList<QueuePair> queuePairs() {
        return queuePairs;
    }

    public long base() {
        return base;
    }

    /** Bytes the layout occupies from {@link #base()}. */
    public long bytes() {
        return bytes;
    }
}
