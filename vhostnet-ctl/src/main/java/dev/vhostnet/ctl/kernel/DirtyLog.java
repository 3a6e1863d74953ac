package dev.vhostnet.ctl.kernel;

import com.google.common.base.Preconditions;
import com.sun.jna.Pointer;
import dev.vhostnet.memtable.GuestRegion;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Mman;
import dev.vhostnet.sys.Mmap;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import java.util.ArrayList;
import java.util.List;

/**
 * The dirty page log of {@code VHOST_F_LOG_ALL}: one bit per {@code VHOST_PAGE_SIZE} page of guest
 * memory, set by the vhost worker for every page it writes (RX buffers, used rings). Mapped memory,
 * not a GC-managed buffer: the kernel writes it while the device runs.
 */
public final class DirtyLog implements AutoCloseable {
    private final Mmap bitmap;
    private final long pages;

    private DirtyLog(Mmap bitmap, long pages) {
        this.bitmap = bitmap;
        this.pages = pages;
    }

    /** A log covering every page of {@code memory}, from guest-physical 0 to its highest region end. */
    public static DirtyLog covering(MemoryTable memory) throws SysException {
        long end = memory.regions().stream().mapToLong(GuestRegion::gpaEnd).max().orElseThrow();
        long pages = (end + VhostUapi.VHOST_PAGE_SIZE - 1) / VhostUapi.VHOST_PAGE_SIZE;
        long bytes = (pages + 63) / 64 * 8;
        return new DirtyLog(Mmap.anonymous(bytes, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE), pages);
    }

    /** The bitmap's address in this process, for {@code VHOST_SET_LOG_BASE}. */
    public long address() {
        return bitmap.address();
    }

    /** Whether the page holding {@code gpa} was written since the last {@link #clear()}. */
    public boolean isDirty(long gpa) {
        long page = gpa / VhostUapi.VHOST_PAGE_SIZE;
        Preconditions.checkArgument(gpa >= 0 && page < pages, "guest address 0x%s is outside the log", Long.toHexString(gpa));
        return (bitmap.pointer().getByte(page / 8) & (1 << (page % 8))) != 0;
    }

    /** The guest-physical addresses of the dirty pages, ascending. */
    public List<Long> dirtyPages() {
        List<Long> dirty = new ArrayList<>();
        Pointer p = bitmap.pointer();
        for (long word = 0; word < (pages + 63) / 64; word++) {
            long bits = p.getLong(word * 8);
            while (bits != 0) {
                int bit = Long.numberOfTrailingZeros(bits);
                dirty.add((word * 64 + bit) * VhostUapi.VHOST_PAGE_SIZE);
                bits &= bits - 1;
            }
        }
        return dirty;
    }

    /** Forgets every dirty bit (a migration's next round). */
    public void clear() {
        bitmap.pointer().clear(bitmap.length());
    }

    @Override
    public void close() {
        bitmap.close();
    }
}
