package dev.vhostnet.ctl.device;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * One available chain as {@link DeviceQueue#pop()} found it: its head index, the device-readable
 * ("out") segments and then the device-writable ("in") ones, each a guest-physical address and
 * length already checked to lie wholly inside one region of guest memory.
 *
 * <p>The segments are the values read once from guest memory and validated; the guest rewriting
 * its descriptors afterwards changes nothing here. Copies go through {@link MemoryTable}, which
 * checks every range again. A chain is a reusable holder ({@link DeviceQueue#popInto}) so a data
 * path can pop without allocating; it is not thread-safe.
 */
public final class DescriptorChain {
    /** One buffer of a chain. */
    public record Segment(long gpa, long length) {}

    private static final int SCRATCH = 8192;

    private MemoryTable memory;
    private int head = -1;
    private int descriptors;
    private boolean indirect;
    private int readableCount;
    private int writableCount;
    private long[] readableGpa = new long[4];
    private long[] readableLen = new long[4];
    private long[] writableGpa = new long[4];
    private long[] writableLen = new long[4];
    private long readableBytes;
    private long writableBytes;
    private byte[] scratch;

    /** An empty holder, to be filled by {@link DeviceQueue#popInto}. */
    public DescriptorChain() {}

    void start(MemoryTable memory, int head) {
        this.memory = memory;
        this.head = head;
        descriptors = 0;
        indirect = false;
        readableCount = 0;
        writableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    void markIndirect() {
        indirect = true;
    }

    void countDescriptor() {
        descriptors++;
    }

    void addReadable(long gpa, long length) {
        if (readableCount == readableGpa.length) {
            readableGpa = Arrays.copyOf(readableGpa, readableCount * 2);
            readableLen = Arrays.copyOf(readableLen, readableCount * 2);
        }
        readableGpa[readableCount] = gpa;
        readableLen[readableCount++] = length;
        readableBytes += length;
    }

    void addWritable(long gpa, long length) {
        if (writableCount == writableGpa.length) {
            writableGpa = Arrays.copyOf(writableGpa, writableCount * 2);
            writableLen = Arrays.copyOf(writableLen, writableCount * 2);
        }
        writableGpa[writableCount] = gpa;
        writableLen[writableCount++] = length;
        writableBytes += length;
    }

    /** The head descriptor's index: what {@link DeviceQueue#pushUsed} returns to the driver. */
    public int head() {
        return head;
    }

    /** Whether the head pointed to an indirect table. */
    public boolean isIndirect() {
        return indirect;
    }

    /** Descriptors read to build this chain (the head that points to an indirect table included). */
    public int descriptors() {
        return descriptors;
    }

    public int readableCount() {
        return readableCount;
    }

    public int writableCount() {
        return writableCount;
    }

    public long readableGpa(int i) {
        Preconditions.checkElementIndex(i, readableCount);
        return readableGpa[i];
    }

    public long readableLength(int i) {
        Preconditions.checkElementIndex(i, readableCount);
        return readableLen[i];
    }

    public long writableGpa(int i) {
        Preconditions.checkElementIndex(i, writableCount);
        return writableGpa[i];
    }

    public long writableLength(int i) {
        Preconditions.checkElementIndex(i, writableCount);
        return writableLen[i];
    }

    /** Total bytes the device may read (at most 2^32 - 1). */
    public long readableBytes() {
        return readableBytes;
    }

    /** Total bytes the device may write (at most 2^32 - 1 together with the readable bytes). */
    public long writableBytes() {
        return writableBytes;
    }

    public ImmutableList<Segment> readable() {
        ImmutableList.Builder<Segment> b = ImmutableList.builder();
        for (int i = 0; i < readableCount; i++) {
            b.add(new Segment(readableGpa[i], readableLen[i]));
        }
        return b.build();
    }

    public ImmutableList<Segment> writable() {
        ImmutableList.Builder<Segment> b = ImmutableList.builder();
        for (int i = 0; i < writableCount; i++) {
            b.add(new Segment(writableGpa[i], writableLen[i]));
        }
        return b.build();
    }

    /**
     * Gathers readable bytes {@code [chainOffset, chainOffset + n)} into {@code dst[off..]}, where
     * n is {@code len} or what is left of the readable part if less. Returns n (0 past the end).
     */
    public int read(long chainOffset, byte[] dst, int off, int len) {
        Preconditions.checkPositionIndexes(off, off + len, dst.length);
        return copy(chainOffset, dst, off, len, false);
    }

    /** All readable bytes, gathered into a new array. */
    public byte[] readAll() {
        Preconditions.checkState(
                readableBytes <= Integer.MAX_VALUE - 8, "%s readable bytes do not fit an array", readableBytes);
        byte[] out = new byte[(int) readableBytes];
        read(0, out, 0, out.length);
        return out;
    }

    /**
     * Gathers readable bytes from {@code chainOffset} into {@code dst}'s remaining space, advancing
     * its position; returns the bytes copied.
     */
    public int read(long chainOffset, ByteBuffer dst) {
        int want = dst.remaining();
        if (dst.hasArray()) {
            int n = copy(chainOffset, dst.array(), dst.arrayOffset() + dst.position(), want, false);
            dst.position(dst.position() + n);
            return n;
        }
        byte[] buf = scratch();
        int done = 0;
        while (done < want) {
            int n = copy(chainOffset + done, buf, 0, Math.min(buf.length, want - done), false);
            if (n == 0) {
                break;
            }
            dst.put(buf, 0, n);
            done += n;
        }
        return done;
    }

    /**
     * Scatters {@code src[off..off+len)} into the writable segments from writable offset
     * {@code chainOffset}; writes what fits and returns how many bytes that was.
     */
    public int write(long chainOffset, byte[] src, int off, int len) {
        Preconditions.checkPositionIndexes(off, off + len, src.length);
        return copy(chainOffset, src, off, len, true);
    }

    /** Scatters {@code src}'s remaining bytes from writable offset {@code chainOffset}, advancing its position. */
    public int write(long chainOffset, ByteBuffer src) {
        int want = src.remaining();
        if (src.hasArray()) {
            int n = copy(chainOffset, src.array(), src.arrayOffset() + src.position(), want, true);
            src.position(src.position() + n);
            return n;
        }
        byte[] buf = scratch();
        int done = 0;
        while (done < want) {
            int chunk = Math.min(buf.length, want - done);
            int start = src.position();
            src.get(buf, 0, chunk);
            int n = copy(chainOffset + done, buf, 0, chunk, true);
            done += n;
            if (n < chunk) {
                src.position(start + n);
                break;
            }
        }
        return done;
    }

    private byte[] scratch() {
        if (scratch == null) {
            scratch = new byte[SCRATCH];
        }
        return scratch;
    }

    private int copy(long chainOffset, byte[] array, int off, int len, boolean toGuest) {
        Preconditions.checkArgument(chainOffset >= 0, "negative chain offset %s", chainOffset);
        Preconditions.checkState(memory != null, "no chain popped into this holder");
        long[] gpas = toGuest ? writableGpa : readableGpa;
        long[] lens = toGuest ? writableLen : readableLen;
        int count = toGuest ? writableCount : readableCount;
        int done = 0;
        long skip = chainOffset;
        for (int i = 0; i < count && done < len; i++) {
            long segLen = lens[i];
            if (skip >= segLen) {
                skip -= segLen;
                continue;
            }
            int n = (int) Math.min(segLen - skip, len - done);
            if (toGuest) {
                memory.write(gpas[i] + skip, array, off + done, n);
            } else {
                memory.read(gpas[i] + skip, array, off + done, n);
            }
            done += n;
            skip = 0;
        }
        return done;
    }

    @Override
    public String toString() {
        return String.format(
                "chain head %d: %d readable (%d bytes), %d writable (%d bytes)%s",
                head, readableCount, readableBytes, writableCount, writableBytes, indirect ? ", indirect" : "");
    }
}
