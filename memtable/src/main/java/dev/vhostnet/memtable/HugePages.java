package dev.vhostnet.memtable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The 2 MiB huge page pool ({@code /sys/kernel/mm/hugepages/hugepages-2048kB}). */
public final class HugePages {
    private static final Path POOL = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB");

    private HugePages() {}

    /** Fails with the fix when the pool has fewer free pages than {@code bytes} needs. */
    static void check(long bytes) {
        long needed = (bytes + Backing.HUGETLB.pageSize() - 1) / Backing.HUGETLB.pageSize();
        long free = free();
        if (free < needed) {
            throw new IllegalStateException(String.format(
                    "huge pages unavailable: %d bytes of guest memory need %d "
                            + "free 2 MiB huge pages, the pool has %d: echo %d > /proc/sys/vm/nr_hugepages",
                    bytes, needed, free, needed + total() - free));
        }
    }

    /** Free pages in the pool (0 when the kernel has no such pool). */
    public static long free() {
        return read("free_hugepages");
    }

    /** Pages in the pool ({@code /proc/sys/vm/nr_hugepages}). */
    public static long total() {
        return read("nr_hugepages");
    }

    private static long read(String name) {
        try {
            return Long.parseLong(Files.readString(POOL.resolve(name)).trim());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }
}
