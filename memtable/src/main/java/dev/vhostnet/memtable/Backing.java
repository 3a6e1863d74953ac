package dev.vhostnet.memtable;

import dev.vhostnet.sys.Mman;

/** What guest RAM is made of. Both are shareable fds, so a vhost-user backend can map the same memory. */
public enum Backing {
    /** {@code memfd_create(2)} with normal pages. */
    MEMFD(0, 4096),
    /** {@code memfd_create(MFD_HUGETLB)}: 2 MiB huge pages from the hugetlbfs pool. */
    HUGETLB(Mman.MFD_HUGETLB, 2 << 20);

    private final int memfdFlags;
    private final long pageSize;

    Backing(int memfdFlags, long pageSize) {
        this.memfdFlags = memfdFlags;
        this.pageSize = pageSize;
    }

    int memfdFlags() {
        return memfdFlags;
    }

    /** The page size regions of this backing are aligned to. */
    public long pageSize() {
        return pageSize;
    }
}
