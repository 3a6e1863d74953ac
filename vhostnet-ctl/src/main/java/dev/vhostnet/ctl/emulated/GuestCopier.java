package dev.vhostnet.ctl.emulated;

import dev.vhostnet.memtable.GuestRegion;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;

/**
 * Copies between guest memory and the data path's direct buffers with {@link ByteBuffer} bulk puts:
 * public API only (no Netty internals, no {@code Unsafe}, which JDK 24+ takes away) and no
 * allocation per copy. Each region is seen through views of at most 1 GiB (a buffer index is an
 * {@code int}), made once; a copy across two views is split. Every range goes through
 * {@link MemoryTable#region}, which checks it lies in one region.
 */
final class GuestCopier {
    private static final int WINDOW_SHIFT = 30;
    private static final long WINDOW = 1L << WINDOW_SHIFT;

    private final MemoryTable memory;
    /** By region slot, then window. */
    private final ByteBuffer[][] views;

    GuestCopier(MemoryTable memory) {
        this.memory = memory;
        this.views = new ByteBuffer[memory.regions().size()][];
        for (GuestRegion r : memory.regions()) {
            ByteBuffer[] windows = new ByteBuffer[(int) ((r.size() + WINDOW - 1) >>> WINDOW_SHIFT)];
            for (int w = 0; w < windows.length; w++) {
                long start = (long) w << WINDOW_SHIFT;
                windows[w] = r.view(start, (int) Math.min(WINDOW, r.size() - start));
            }
            views[r.slot()] = windows;
        }
    }

    /** Copies {@code length} bytes of guest memory at {@code gpa} into {@code buffer} at {@code index}. */
    void read(long gpa, ByteBuffer buffer, int index, int length) {
        copy(gpa, buffer, index, length, false);
    }

    /** Copies {@code length} bytes of {@code buffer} at {@code index} into guest memory at {@code gpa}. */
    void write(ByteBuffer buffer, int index, long gpa, int length) {
        copy(gpa, buffer, index, length, true);
    }

    private void copy(long gpa, ByteBuffer buffer, int index, int length, boolean toGuest) {
        GuestRegion region = memory.region(gpa, length);
        ByteBuffer[] windows = views[region.slot()];
        long offset = gpa - region.gpa();
        while (length > 0) {
            ByteBuffer view = windows[(int) (offset >>> WINDOW_SHIFT)];
            int at = (int) (offset & (WINDOW - 1));
            int part = (int) Math.min(length, WINDOW - at);
            if (toGuest) {
                view.put(at, buffer, index, part);
            } else {
                buffer.put(index, view, at, part);
            }
            offset += part;
            index += part;
            length -= part;
        }
    }
}
