package dev.vhostnet.ctl.kernel;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.GuestRegion;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Mman;
import dev.vhostnet.sys.Mmap;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The dirty page log of {@code VHOST_F_LOG_ALL}: one bit per {@code VHOST_PAGE_SIZE} page of guest
 * memory, set by the vhost worker for every page it writes (RX buffers, used rings). Mapped memory,
 * not a GC-managed buffer: the kernel writes it while the device runs.
 */
public final class DirtyLog implements AutoCloseable {
    /** A 64-bit word of the bitmap, with the atomic access the kernel's concurrent writes need. */
    private static final VarHandle WORD = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private final Mmap bitmap;
    private final ByteBuffer words;
    private final long pages;

    private DirtyLog(Mmap bitmap, long pages) {
        this.bitmap = bitmap;
        this.words = bitmap.pointer().getByteBuffer(0, bitmap.length());
        this.pages = pages;
    }

    /** A log covering every page of {@code memory}, from guest-physical 0 to its highest region end. */
    public static DirtyLog covering(MemoryTable memory) throws SysException {
        long end =
                memory.regions().stream().mapToLong(GuestRegion::gpaEnd).max().orElseThrow();
        long pages = (end + VhostUapi.VHOST_PAGE_SIZE - 1) / VhostUapi.VHOST_PAGE_SIZE;
        long bytes = (pages + 63) / 64 * 8;
        return new DirtyLog(Mmap.anonymous(bytes, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE), pages);
    }

    /** The bitmap's address in this process, for {@code VHOST_SET_LOG_BASE}. */
    public long address() {
        return bitmap.address();
    }

    /** Whether the page holding {@code gpa} was written since the last {@link #fetchAndClear()}. */
    public boolean isDirty(long gpa) {
        long page = gpa / VhostUapi.VHOST_PAGE_SIZE;
        Preconditions.checkArgument(
                gpa >= 0 && page < pages, "guest address 0x%s is outside the log", Long.toHexString(gpa));
        checkOpen();
        return ((long) WORD.getVolatile(words, (int) (page / 64 * 8)) & (1L << (page % 64))) != 0;
    }

    /** The guest-physical addresses of the dirty pages, ascending; the log is left as it is. */
    public List<Long> dirtyPages() {
        return sweep(false);
    }

    /**
     * The guest-physical addresses of the pages written since the last fetch, ascending, and the
     * log cleared (a migration's next round). Each 64-bit word is fetched and zeroed in one atomic
     * exchange, as QEMU's {@code vhost_log_sync} does ({@code qatomic_xchg}): the vhost worker sets
     * bits with atomic ORs while this runs, and a bit it sets is in this round or the next, never
     * lost between a read and a clear.
     */
    public List<Long> fetchAndClear() {
        return sweep(true);
    }

    private List<Long> sweep(boolean clear) {
        checkOpen();
        List<Long> dirty = new ArrayList<>();
        for (int word = 0; word < words.capacity() / 8; word++) {
            long bits = clear ? (long) WORD.getAndSet(words, word * 8, 0L) : (long) WORD.getVolatile(words, word * 8);
            while (bits != 0) {
                int bit = Long.numberOfTrailingZeros(bits);
                dirty.add(((long) word * 64 + bit) * VhostUapi.VHOST_PAGE_SIZE);
                bits &= bits - 1;
            }
        }
        return dirty;
    }

    /** The buffer does not check: reaching unmapped memory through it would crash the JVM. */
    private void checkOpen() {
        Preconditions.checkState(bitmap.isMapped(), "the dirty log is closed");
    }

    @Override
    public void close() {
        bitmap.close();
    }
}
