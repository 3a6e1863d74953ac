package dev.vhostnet.ctl.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Pointer;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VhostUapi;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dirty log read while a writer sets bits the way the vhost worker does (an atomic OR per bit). */
class DirtyLogTest {
    private static final VarHandle WORD = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final long RAM = 1L << 30;
    private static final int PAGES = (int) (RAM / VhostUapi.VHOST_PAGE_SIZE);

    @Test
    void noPageWrittenDuringASyncRoundIsLost() throws Exception {
        try (MemoryTable memory = MemoryTable.builder().region(0, RAM).build();
                DirtyLog log = DirtyLog.covering(memory)) {
            ByteBuffer bitmap = new Pointer(log.address()).getByteBuffer(0, PAGES / 8);
            Thread worker = new Thread(() -> {
                for (int page = 0; page < PAGES; page++) {
                    WORD.getAndBitwiseOr(bitmap, page / 64 * 8, 1L << (page % 64));
                }
            });
            BitSet seen = new BitSet(PAGES);
            worker.start();
            while (worker.isAlive()) {
                collect(log.fetchAndClear(), seen);
            }
            worker.join();
            collect(log.fetchAndClear(), seen);
            assertEquals(PAGES, seen.cardinality(), "pages the worker marked and no round reported");
            assertEquals(List.of(), log.dirtyPages(), "the last round cleared the log");
        }
    }

    private static void collect(List<Long> pages, BitSet into) {
        pages.forEach(gpa -> into.set((int) (gpa / VhostUapi.VHOST_PAGE_SIZE)));
    }
}
